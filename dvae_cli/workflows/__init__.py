"""The use cases: what a command does, as a function that the CLI, a study cell and Python all call.

- `train` (`dvae_cli.workflows.train`): resolve a run (or the one to resume) and train
  it with the standard callbacks (the training GIF, the spec's trackers).
- `evaluate` (`dvae_cli.workflows.evaluate`): test losses, then disentanglement scores,
  then the trackers, with every check made before any work.
- `score` (`dvae_cli.workflows.score`): encode a dataset with an encoder dvae did not
  train (ONNX, TorchScript, an export, a callable, an .npz of codes) and score the codes
  as `evaluate` scores a run, into a folder `compare` and `browse` list.

Each takes a typed request and returns a typed result; neither prints. Progress goes
to the callbacks a caller passes in. `dvae_cli.views.train` and
`dvae_cli.views.evaluate` are their console views, which ``dvae train``/``dvae eval``
and a study cell's log share; `dvae_cli.views.score` is ``dvae score``'s. Importing this package imports no torch.
"""

from __future__ import annotations

from dvae_cli.workflows.evaluate import EvaluateEvents, EvaluateRequest, EvaluateResult, evaluate
from dvae_cli.workflows.train import TrainRequest, TrainResult, resolve_training, train

__all__ = ["EvaluateEvents", "EvaluateRequest", "EvaluateResult", "TrainRequest", "TrainResult", "evaluate",
           "resolve_training", "train"]
