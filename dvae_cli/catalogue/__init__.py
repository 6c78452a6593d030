"""The torch-free catalogues of dvae's extension points, and how to register more.

- losses: `LossInfo`, `register_loss` (`dvae_cli.catalogue.losses`);
- hyper-parameters: `Param` (`dvae_cli.catalogue.params`);
- datasets: `DatasetInfo`, `register_dataset` (`dvae_cli.data.catalog`);
- metrics: `MetricInfo`, `register_metric` (`dvae_cli.catalogue.metrics`);
- plots: `PlotInfo`, `PlotFile`, `register_plot` (`dvae_cli.catalogue.plots`).

See `dvae_cli.plugins` for third-party packages (entry points).
"""

from dvae_cli.catalogue.losses import LOSSES, LossInfo, loss_info, loss_names, loss_params, register_loss, term_labels
from dvae_cli.catalogue.metrics import MetricInfo, default_metrics, metric_info, metric_names, register_metric
from dvae_cli.catalogue.params import Param
from dvae_cli.catalogue.plots import PlotFile, PlotInfo, plot_info, plot_names, register_plot
from dvae_cli.data.catalog import DatasetInfo, DatasetLoader, dataset_info, dataset_names, register_dataset

__all__ = ["LOSSES", "DatasetInfo", "DatasetLoader", "LossInfo", "MetricInfo", "Param", "PlotFile", "PlotInfo",
           "dataset_info", "dataset_names", "default_metrics", "loss_info", "loss_names", "loss_params", "metric_info",
           "metric_names", "plot_info", "plot_names", "register_dataset", "register_loss", "register_metric",
           "register_plot", "term_labels"]
