"""``dvae train NAME``: every option of disentangling-vae's ``main.py``, same names."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from dvae_cli.config import (DEVICES, LOG_LEVELS, LOSSES, MODEL_TYPES, PRECISIONS, REC_DISTS, Resolution,
                             RunSpec, resolve_run)
from dvae_cli.errors import ConfigError, UnknownNameError
from dvae_cli.runs.folder import DATA_ENV, RESULTS_ENV, default_data_dir, default_results_dir
from dvae_cli.runs.resume import resumable_folder, resumed_spec

_D = RunSpec()  # the defaults shown in --help (experiments.toml's [defaults] match them)
GENERAL, TRAINING, MODEL, EVAL, SPEED = "General", "Training", "Model", "Evaluation", "Speed and scale"
BETAH, BETAB, FACTOR, BTCVAE = "betaH loss", "betaB loss", "factor loss", "btcvae loss"


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
                                        help=f"Loss: {', '.join(LOSSES)}.")] = None,
    rec_dist: Annotated[Optional[str], _opt("-r", "--rec-dist", panel=MODEL, default=_D.rec_dist,
                                            help=f"Pixel likelihood: {', '.join(REC_DISTS)}.")] = None,
    reg_anneal: Annotated[Optional[float], _opt("-a", "--reg-anneal", panel=MODEL, default=int(_D.reg_anneal),
                                                help="Steps over which the regularisation is annealed in.")] = None,
    betaH_B: Annotated[Optional[float], _opt("--betaH-B", panel=BETAH, default=_D.betaH_B,
                                             help="Weight of the KL (beta).")] = None,
    betaB_initC: Annotated[Optional[float], _opt("--betaB-initC", panel=BETAB, default=_D.betaB_initC,
                                                 help="Starting capacity C.")] = None,
    betaB_finC: Annotated[Optional[float], _opt("--betaB-finC", panel=BETAB, default=_D.betaB_finC,
                                                help="Final capacity C.")] = None,
    betaB_G: Annotated[Optional[float], _opt("--betaB-G", panel=BETAB, default=_D.betaB_G,
                                             help="Weight of the capacity term (gamma).")] = None,
    factor_G: Annotated[Optional[float], _opt("--factor-G", panel=FACTOR, default=_D.factor_G,
                                              help="Weight of the TC term (gamma).")] = None,
    lr_disc: Annotated[Optional[float], _opt("--lr-disc", panel=FACTOR, default=_D.lr_disc,
                                             help="Learning rate of the discriminator.")] = None,
    btcvae_A: Annotated[Optional[float], _opt("--btcvae-A", panel=BTCVAE, default=_D.btcvae_A,
                                              help="Weight of the MI term (alpha).")] = None,
    btcvae_G: Annotated[Optional[float], _opt("--btcvae-G", panel=BTCVAE, default=_D.btcvae_G,
                                              help="Weight of the dimension-wise KL (gamma).")] = None,
    btcvae_B: Annotated[Optional[float], _opt("--btcvae-B", panel=BTCVAE, default=_D.btcvae_B,
                                              help="Weight of the TC term (beta).")] = None,
    btcvae_sampling: Annotated[Optional[str], _opt("--btcvae-sampling", panel=BTCVAE,
                                                   default=_D.btcvae_sampling,
                                                   help="q(z) estimator: mss (stratified) or mws "
                                                        "(weighted).")] = None,
    seed: Annotated[Optional[int], _opt("-s", "--seed", panel=GENERAL, default=_D.seed,
                                        help="Random seed.")] = None,
    log_level: Annotated[Optional[str], _opt("-L", "--log-level", panel=GENERAL, default=_D.log_level,
                                             help=f"Logging level: {', '.join(LOG_LEVELS)}.")] = None,
    no_progress_bar: Annotated[Optional[bool], _opt("--no-progress-bar", panel=GENERAL,
                                                    help="One plain line per epoch instead of the "
                                                         "live view.")] = None,
    no_cuda: Annotated[Optional[bool], _opt("--no-cuda", panel=GENERAL,
                                            help="Do not use CUDA even if available.")] = None,
    device: Annotated[Optional[str], _opt("--device", panel=GENERAL, default=_D.device,
                                          help=f"Device: {', '.join(DEVICES)}.")] = None,
    no_test: Annotated[Optional[bool], _opt("--no-test", panel=EVAL,
                                            help="Do not compute the test losses at the end.")] = None,
    eval_batchsize: Annotated[Optional[int], _opt("--eval-batchsize", panel=EVAL, default=_D.eval_batchsize,
                                                  help="Batch size for evaluation.")] = None,
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
    compile_model: Annotated[bool, typer.Option("--compile", rich_help_panel=SPEED,
                                                help="torch.compile the model (pays off on long GPU "
                                                     "runs; see benchmarks/).")] = False,
    precision: Annotated[str, typer.Option("--precision", rich_help_panel=SPEED,
                                           help="fp32, or bf16 autocast (for GPUs with bfloat16).")] = "fp32",
    log_every: Annotated[float, typer.Option("--log-every", rich_help_panel=GENERAL, metavar="SECONDS",
                                             help="Without the live view (in a log file or pipe, or with "
                                                  "--no-progress-bar): a line with the step, images/s and running "
                                                  "means at least this often; 0: one line per epoch.")] = 60.0,
    nproc: Annotated[int, typer.Option("--nproc", rich_help_panel=SPEED,
                                       help="Train with N processes on this machine (torch.distributed; "
                                            "the batch size is per process).")] = 1,
) -> None:
    """Train a model and write its results folder."""
    flags = {key: value for key, value in {
        "dataset": dataset, "epochs": epochs, "batch_size": batch_size, "lr": lr,
        "checkpoint_every": checkpoint_every, "clip_grad": clip_grad, "subsample": subsample, "test_fraction": test_fraction,
        "model_type": model_type, "latent_dim": latent_dim, "loss": loss, "rec_dist": rec_dist,
        "reg_anneal": reg_anneal, "betaH_B": betaH_B, "betaB_initC": betaB_initC, "betaB_finC": betaB_finC,
        "betaB_G": betaB_G, "factor_G": factor_G, "lr_disc": lr_disc, "btcvae_A": btcvae_A,
        "btcvae_G": btcvae_G, "btcvae_B": btcvae_B, "btcvae_sampling": btcvae_sampling, "seed": seed,
        "log_level": log_level.lower() if log_level else None, "no_progress_bar": no_progress_bar,
        "no_cuda": no_cuda, "device": device, "no_test": no_test, "eval_batchsize": eval_batchsize,
    }.items() if value is not None}
    if nproc < 1:
        raise ConfigError(f"--nproc must be a positive integer, got {nproc}")
    if not log_every >= 0:
        raise ConfigError(f"--log-every must be a number of seconds >= 0, got {log_every}")
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        from dvae_cli.engine.launch import launch, strip_nproc

        argv = sys.argv[1:]
        raise typer.Exit(launch(nproc, strip_nproc(argv[argv.index("train") + 1:] if "train" in argv else argv)))
    results_dir = results_dir or default_results_dir()
    if precision not in PRECISIONS:
        raise UnknownNameError("precision", precision, PRECISIONS)
    if resume:
        if overwrite:
            raise ConfigError("--overwrite and --resume contradict each other: choose one")
        folder = resumable_folder(results_dir, name)
        spec = resumed_spec(folder, flags, experiment)
        resolution = Resolution(spec=spec, experiment=spec.experiment, from_name=False, sources={})
    else:
        resolution = resolve_run(name, experiment, flags)
    from dvae_cli.cli.train_view import run_training  # imports torch

    run_training(resolution, results_dir, data_dir or default_data_dir(), overwrite=overwrite,
                 interactive=sys.stdout.isatty(), resume=resume, detect_anomaly=detect_anomaly,
                 compile_model=compile_model, precision=precision, log_every=log_every)
