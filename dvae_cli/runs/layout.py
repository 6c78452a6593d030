"""Every file of a run folder ``<results-dir>/<name>/``, named once (standard library only).

The run folder is the contract between the writers (``train``, ``eval``, ``plot``,
``export``) and the readers (``eval``, ``plot``, ``compare``, ``browse``, the Python
API): every module names its files through this one. A superset of disentangling-vae's
(marked *ref*):

================================  ====================  ==============================================
file                              written by            holds
================================  ====================  ==============================================
``specs.json`` *ref*              train                 every parameter of the run (`RunSpec`)
``model.pt`` *ref*                train                 the final weights (a plain ``state_dict``)
``model-<epoch>.pt`` *ref*        train                 a checkpoint: weights, optimiser, training state
``training_state.pt``             train                 the newest training state (resume, eval)
``train_losses.log`` *ref*        train                 CSV ``Epoch,Loss,Value``: every term per epoch
``test_losses.log`` *ref*         train, eval           JSON: every term over the whole test set
``test_losses.log.bak``           eval                  the first ``test_losses.log`` eval replaced
``metrics.log`` *ref*             eval --metrics        JSON: one number per score, ``protocols``
``metrics.log.bak``               eval --metrics        the first ``metrics.log`` eval replaced
``metrics_detail.json``           eval --metrics        per-factor detail, mutual-information matrices
``outcome.json``                  train                 how the last training ended
``.dvae-training.json``           train                 the lock of a training process (pid, host)
``training.gif``                  train                 prior traversals, one frame per epoch
``trackers.json``                 train, eval           each tracker's run id (and link), continued later
``tb/``, ``wandb/``               train, eval           TensorBoard event files, W&B's local run files
``*.png``, ``*.gif``              plot                  figures (`dvae_cli.catalogue.plots` names them)
``onnx/``, ``torchscript/``       export                ``encoder.*``, ``decoder.*``, ``export.json``
``udr_codes.npz``                 study run             a study cell's codes of a shared sample (UDR)
================================  ====================  ==============================================

``<epoch>`` counts from 0, as disentangling-vae's does. A figure a third-party plot
writes is named by its `dvae_cli.catalogue.PlotInfo`, not here. The study folder that
holds a study's cells is named in `dvae_cli.runs.study_layout`.
"""

from __future__ import annotations

import re

#: Every parameter of the run (`dvae_cli.config.RunSpec.to_dict`); its presence makes a folder a run.
SPECS = "specs.json"
#: The final weights, a plain ``state_dict`` (disentangling-vae's ``model.pt``).
MODEL = "model.pt"
#: ``model-<epoch>.pt``: the checkpoints (`checkpoint_name`, `checkpoint_epoch`).
CHECKPOINT_PATTERN = re.compile(r"^model-(\d+)\.pt$")
#: The newest training state: weights, optimiser, step, RNG states (``dvae train --resume``).
TRAINING_STATE = "training_state.pt"
#: The training history, long format ``Epoch,Loss,Value`` (`dvae_cli.runs.logs`).
TRAIN_LOG = "train_losses.log"
#: Every loss term averaged over the test set, JSON (`dvae_cli.runs.logs`).
TEST_LOG = "test_losses.log"
#: The disentanglement scores and, under ``protocols``, how each was computed.
METRICS_LOG = "metrics.log"
#: The per-factor detail of the scores: mutual-information matrices, votes, importances.
METRICS_DETAIL = "metrics_detail.json"
#: How the last training ended (`dvae_cli.runs.outcome`).
OUTCOME = "outcome.json"
#: Each experiment tracker's run id and link (`dvae_cli.trackers`), so that ``--resume`` and ``eval`` continue it.
TRACKERS_FILE = "trackers.json"
#: TensorBoard's event files (``--tracker tensorboard``).
TENSORBOARD_DIR = "tb"
#: Written by a training process while it runs, removed when it ends (`dvae_cli.runs.training_lock`).
TRAINING_LOCK = ".dvae-training.json"
#: The suffix of the first version of a file a command replaced (``test_losses.log.bak``).
BACKUP_SUFFIX = ".bak"
#: The first ``test_losses.log`` ``dvae eval`` replaced (disentangling-vae's, computed on one batch).
TEST_LOG_BACKUP = TEST_LOG + BACKUP_SUFFIX
#: The first ``metrics.log`` ``dvae eval --metrics`` replaced.
METRICS_LOG_BACKUP = METRICS_LOG + BACKUP_SUFFIX
#: An empty file a command writes and removes to check that the folder is writable.
WRITE_PROBE = ".dvae-write-test"

#: Prior traversals during training, one frame per epoch (written by ``dvae train``).
TRAINING_GIF = "training.gif"
#: The figures of ``dvae plot`` (`dvae_cli.catalogue.plots` says which plot writes which).
SAMPLES = "samples.png"
DATA_SAMPLES = "data_samples.png"
RECONSTRUCT = "reconstruct.png"
PRIOR_TRAVERSALS = "prior_traversals.png"
POSTERIOR_TRAVERSALS = "posterior_traversals.png"
RECONSTRUCT_TRAVERSE = "reconstruct_traverse.png"
POSTERIOR_GIF = "posterior_traversals.gif"
LOSSES = "losses.png"
KL_PER_DIM = "kl_per_dim.png"
MUTUAL_INFO = "mutual_info.png"
#: What the readers count as a figure of a run.
FIGURE_SUFFIXES = (".png", ".gif")

#: A study cell's posterior means and per-latent KL of the study's shared sample (UDR compares them).
UDR_CODES = "udr_codes.npz"

#: The description of an export (names, shapes, ranges), in its folder, written last.
EXPORT_DESCRIPTION = "export.json"

#: What ``dvae score`` scored (encoder, its format, dataset, latent dimension): a scored folder's spec.
#: A folder with it and no `SPECS` holds the scores of an encoder dvae did not train.
SCORED = "scored.json"

#: Files any of which makes a folder look like a run (one missing its spec is listed as broken).
RUN_MARKERS = (SPECS, MODEL, TRAIN_LOG, TRAINING_LOCK)


def checkpoint_name(epoch: int) -> str:
    """``model-<epoch>.pt`` (epochs count from 0, as disentangling-vae's)."""
    return f"model-{epoch}.pt"


def checkpoint_epoch(name: str) -> int | None:
    """The epoch of a checkpoint file name, or None if `name` is not one."""
    match = CHECKPOINT_PATTERN.match(name)
    return int(match.group(1)) if match else None


def backup_name(name: str) -> str:
    """The name under which the first version of file `name` is kept when a command replaces it."""
    return name + BACKUP_SUFFIX


def export_folder(fmt: str) -> str:
    """The default folder of an export of format `fmt` (``onnx``, ``torchscript``) in the run folder."""
    return fmt
