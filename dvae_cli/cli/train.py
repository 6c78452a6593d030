"""``dvae train NAME``: every option of disentangling-vae's ``main.py``, same names.

The common options are written here; each loss's options (``--betaH-B``, ...) come
from the loss catalogue (`dvae_cli.catalogue.losses`), one per `Param`, in the loss's
help panel: `train_signature` builds the command's signature from it, so a loss
registered by a plugin has its options in ``dvae train --help`` too.

The command parses its options into a `TrainRequest`; resolving the run and training
it are the `dvae_cli.workflows.train` workflow's, shown by `dvae_cli.cli.train_view`.
Only ``--nproc`` (launching the processes) is the command's own.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from dvae_cli.catalogue.losses import LOSSES, loss_names
from dvae_cli.catalogue.trackers import parse_trackers
from dvae_cli.errors import ConfigError
from dvae_cli.runs.folder import DATA_ENV, RESULTS_ENV
from dvae_cli.spec import DEVICES, LOG_LEVELS, MODEL_TYPES, PRECISIONS, REC_DISTS, RunSpec
from dvae_cli.workflows.train import TrainRequest, resolve_training

_D = RunSpec()  # the defaults shown in --help (experiments.toml's [defaults] match them)
GENERAL, TRAINING, MODEL, EVAL, SPEED = "General", "Training", "Model", "Evaluation", "Speed and scale"
#: Options that are not spec parameters (how to run, not what to train).
RUN_OPTIONS = ("overwrite", "resume", "detect_anomaly", "nproc", "log_every", "results_dir", "data_dir")


def _opt(*names: str, help: str, panel: str, default: object = None, **kwargs: Any) -> Any:
    shown = kwargs.pop("show_default", default)
    return typer.Option(*names, help=help, rich_help_panel=panel,
                        show_default=str(shown) if shown is not None else False, **kwargs)


def train_command(
    name: Annotated[str, typer.Argument(help="Run name (folder under the results dir). If it is an "
                                             "experiment of experiments.toml and -x is not given, that "
                                             "experiment is used.")],
    experiment: Annotated[Optional[str], _opt("-x", "--experiment", panel=TRAINING, default="custom",
                                              help="Predefined experiment of experiments.toml; "
                                                   "explicit flags override its values.")] = None,
    dataset: Annotated[Optional[str], _opt("-d", "--dataset", panel=TRAINING, default=_D.dataset,
                                           help="Dataset.")] = None,
    epochs: Annotated[Optional[int], _opt("-e", "--epochs", panel=TRAINING, default=_D.epochs,
                                          help="Number of epochs.")] = None,
    batch_size: Annotated[Optional[int], _opt("-b", "--batch-size", panel=TRAINING, default=_D.batch_size,
                                              help="Batch size.")] = None,
    lr: Annotated[Optional[float], _opt("--lr", panel=TRAINING, default=_D.lr, help="Learning rate.")] = None,
    checkpoint_every: Annotated[Optional[int], _opt("--checkpoint-every", panel=TRAINING,
                                                    default=_D.checkpoint_every,
                                                    help="Save model-<epoch>.pt every n epochs.")] = None,
    clip_grad: Annotated[Optional[float], _opt("--clip-grad", panel=TRAINING,
                                               help="Clip the gradient's global L2 norm to this value each step "
                                                    "(default: no clipping). With --resume, --lr, --lr-disc and "
                                                    "--clip-grad may change; specs.json records it.")] = None,
    img_size: Annotated[Optional[int], _opt("--img-size", panel=TRAINING, metavar="PIXELS",
                                            help="Train on the dataset's images at PIXELSxPIXELS where its source "
                                                 "allows (celeba, chairs and cars3d at 128; folder:PATH at 32, 64 "
                                                 "or 128); specs.json records the sized dataset name "
                                                 "(e.g. celeba-128).")] = None,
    subsample: Annotated[Optional[int], _opt("--subsample", panel=TRAINING,
                                             help="Train on a random subset of N images.")] = None,
    test_fraction: Annotated[Optional[float], _opt("--test-fraction", panel=TRAINING,
                                                   default=_D.test_fraction,
                                                   help="Fraction of the dataset held out for test.")] = None,
    model_type: Annotated[Optional[str], _opt("-m", "--model-type", panel=MODEL, default=_D.model_type,
                                              help=f"Encoder/decoder: {', '.join(MODEL_TYPES)}.")] = None,
    latent_dim: Annotated[Optional[int], _opt("-z", "--latent-dim", panel=MODEL, default=_D.latent_dim,
                                              help="Dimension of the latent variable.")] = None,
    loss: Annotated[Optional[str], _opt("-l", "--loss", panel=MODEL, default=_D.loss,
                                        help="Loss (each has its options below).")] = None,
    rec_dist: Annotated[Optional[str], _opt("-r", "--rec-dist", panel=MODEL, default=_D.rec_dist,
                                            help=f"Pixel likelihood: {', '.join(REC_DISTS)}.")] = None,
    reg_anneal: Annotated[Optional[float], _opt("-a", "--reg-anneal", panel=MODEL, default=int(_D.reg_anneal),
                                                help="Steps over which the regularisation is annealed in.")] = None,
    seed: Annotated[Optional[int], _opt("-s", "--seed", panel=GENERAL, default=_D.seed,
                                        help="Random seed.")] = None,
    log_level: Annotated[Optional[str], _opt("-L", "--log-level", panel=GENERAL, default=_D.log_level,
                                             help=f"Logging level: {', '.join(LOG_LEVELS)}.")] = None,
    no_progress_bar: Annotated[Optional[bool], _opt("--no-progress-bar", panel=GENERAL,
                                                    help="One plain line per epoch instead of the "
                                                         "live view.")] = None,
    tracker: Annotated[Optional[str], _opt("--tracker", panel=GENERAL, metavar="NAMES",
                                           help="Mirror the run into experiment trackers, comma-separated: "
                                                "tensorboard (the run's tb/), wandb, mlflow (each a pip extra: "
                                                "pip install \"dvae\\[tensorboard]\"); a resumed run continues "
                                                "the same tracker runs.")] = None,
    no_cuda: Annotated[Optional[bool], _opt("--no-cuda", panel=GENERAL,
                                            help="Do not use CUDA even if available.")] = None,
    device: Annotated[Optional[str], _opt("--device", panel=GENERAL, default=_D.device,
                                          help=f"Device: {', '.join(DEVICES)}.")] = None,
    no_test: Annotated[Optional[bool], _opt("--no-test", panel=EVAL,
                                            help="Do not compute the test losses at the end.")] = None,
    eval_batchsize: Annotated[Optional[int], _opt("--eval-batchsize", panel=EVAL, default=_D.eval_batchsize,
                                                  help="Batch size for evaluation.")] = None,
    compile: Annotated[Optional[bool], _opt("--compile", panel=SPEED,
                                            help="torch.compile the model (pays off on long GPU runs; see "
                                                 "benchmarks/); recorded in specs.json.")] = None,
    precision: Annotated[Optional[str], _opt("--precision", panel=SPEED, default=_D.precision,
                                             help=f"{', '.join(PRECISIONS)}: bf16 autocasts the forward pass "
                                                  "(GPUs and CPUs with bfloat16); recorded in specs.json.")] = None,
    results_dir: Annotated[Optional[Path], _opt("--results-dir", panel=GENERAL, envvar=RESULTS_ENV,
                                                default="./results", help="Where run folders go.")] = None,
    data_dir: Annotated[Optional[Path], _opt("--data-dir", panel=GENERAL, envvar=DATA_ENV,
                                             default="./data", help="Where datasets are cached.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", rich_help_panel=GENERAL,
                                            help="Replace an existing run of the same name.")] = False,
    resume: Annotated[bool, typer.Option("--resume", rich_help_panel=GENERAL,
                                         help="Continue an interrupted run from its saved training state "
                                              "(its specs.json is kept; --epochs may grow).")] = False,
    detect_anomaly: Annotated[bool, typer.Option("--detect-anomaly", rich_help_panel=GENERAL,
                                                 help="Debug NaNs with torch's anomaly detection "
                                                      "(slow).")] = False,
    log_every: Annotated[float, typer.Option("--log-every", rich_help_panel=GENERAL, metavar="SECONDS",
                                             help="Without the live view (in a log file or pipe, or with "
                                                  "--no-progress-bar): a line with the step, images/s and running "
                                                  "means at least this often; 0: one line per epoch.")] = 60.0,
    nproc: Annotated[int, typer.Option("--nproc", rich_help_panel=SPEED,
                                       help="Train with N processes on this machine (torch.distributed; "
                                            "the batch size is per process).")] = 1,
    **loss_options: Any,
) -> None:
    """Train a model and write its results folder."""
    given = dict(locals())
    flags = {key: value for key, value in given.items()
             if key not in ("name", "experiment", "loss_options", *RUN_OPTIONS) and value is not None}
    flags.update({key: value for key, value in loss_options.items() if value is not None})
    if flags.get("log_level"):
        flags["log_level"] = flags["log_level"].lower()
    if "tracker" in flags:
        flags["tracker"] = parse_trackers(flags["tracker"])
    if nproc < 1:
        raise ConfigError(f"--nproc must be a positive integer, got {nproc}")
    if not log_every >= 0:
        raise ConfigError(f"--log-every must be a number of seconds >= 0, got {log_every}")
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        from dvae_cli.engine.launch import launch

        options = {"overwrite": overwrite, "resume": resume, "detect_anomaly": detect_anomaly,
                   "log_every": log_every, "results_dir": results_dir, "data_dir": data_dir}
        raise typer.Exit(launch(nproc, train_argv(name, experiment, flags, options)))
    from dvae_cli.cli.train_view import run_training  # the live view

    request = TrainRequest(name, experiment, flags, results_dir=results_dir, data_dir=data_dir, overwrite=overwrite,
                           resume=resume, detect_anomaly=detect_anomaly)
    run_training(request, resolve_training(request), log_every=log_every)


def train_argv(name: str, experiment: str | None, flags: dict[str, Any], options: dict[str, Any]) -> list[str]:
    """The ``dvae train`` arguments that give this command again (for the processes of ``--nproc``).

    Built from the parsed values, never from ``sys.argv``: the same command results when
    `dvae_cli.cli.app.main` is called from Python.
    """
    argv = [name, *(["-x", experiment] if experiment else [])]
    for key, value in {**flags, **options}.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, (list, tuple)):
            value = ",".join(str(item) for item in value)
        argv += [flag] if value is True else [flag, str(value)]
    return argv


def loss_option_parameters() -> list[inspect.Parameter]:
    """One keyword parameter per hyper-parameter of every registered loss, in its loss's help panel."""
    parameters = []
    for info in LOSSES.values():
        for param in info.params:
            named = all(choice in param.help for choice in param.choices)
            choices = f" ({', '.join(param.choices)})" if param.choices and not named else ""
            option = typer.Option(param.flag, help=param.help + choices, rich_help_panel=info.panel,
                                  show_default=str(param.default) if param.default is not None else False)
            annotation = Annotated[Optional[param.type], option]  # type: ignore[name-defined]
            parameters.append(inspect.Parameter(param.name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                                annotation=annotation))
    return parameters


def train_signature() -> inspect.Signature:
    """`train_command`'s signature: its own options (``--loss`` naming every loss), then every loss's own."""
    base = _OWN_SIGNATURE
    own = []
    for p in base.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        if p.name == "loss":
            option = _opt("-l", "--loss", panel=MODEL, default=_D.loss,
                          help=f"Loss: {', '.join(loss_names())} (each has its options below).")
            p = p.replace(annotation=Annotated[Optional[str], option])
        own.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.name != "name" else p)
    return base.replace(parameters=[*own, *loss_option_parameters()])


def refresh_signature() -> None:
    """Rebuild `train_command`'s options from the loss catalogue (after a loss was registered)."""
    train_command.__signature__ = train_signature()  # type: ignore[attr-defined]


_OWN_SIGNATURE = inspect.signature(train_command, eval_str=True)   # before the loss options are added
refresh_signature()
__all__ = ["loss_names", "refresh_signature", "train_argv", "train_command", "train_signature"]
