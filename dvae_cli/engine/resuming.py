"""Resuming a run: its newest readable training state, what may differ, and restoring it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvae_cli.engine.checkpoint import STATE_FILE, load_checkpoint
from dvae_cli.engine.interrupts import SIGNAL_NAMES
from dvae_cli.errors import ConfigError, CorruptFileError
from dvae_cli.runs.folder import RunFolder, default_results_dir
from dvae_cli.spec import RunSpec, optimiser_keys
from dvae_cli.wording import plural

if TYPE_CHECKING:
    from dvae_cli.engine.callbacks import Checkpointer
    from dvae_cli.engine.trainer import StopRequested, Trainer

Log = Callable[[str], None]

def restore(trainer: Trainer, checkpointer: Checkpointer, checkpoint: tuple[Path, dict[str, Any]],
             spec: RunSpec, log: Log) -> None:
    path, content = checkpoint
    try:
        trainer.load_state_dict(content)
    except (RuntimeError, KeyError, ValueError) as exc:   # weights or entries that do not fit the spec
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CorruptFileError(f"{path} does not fit run '{spec.name}' as its specs.json describes it: "
                               f"{reason}") from None
    checkpointer.last_saved = (path, trainer.state.epoch, trainer.state.step)
    state = trainer.state
    log(f"resuming from {path.name} in epoch {state.epoch + 1} of {spec.epochs}, after step "
        f"{state.step_in_epoch:,} of its {state.steps_per_epoch:,} (step {state.step:,} of the run)")
    apply_optimiser_changes(trainer, spec, content.get("spec") or {}, log)


def apply_optimiser_changes(trainer: Trainer, spec: RunSpec, saved: dict[str, Any], log: Log) -> None:
    """Give the restored optimisers the resumed spec's settings; record what changed in ``spec.changes``.

    A checkpoint restores its optimiser's learning rate; `resumed_spec` lets
    ``--lr``, ``--lr-disc`` and ``--clip-grad`` differ on resume (e.g. to continue a
    diverged run from its last good checkpoint).
    """
    changed = {key: [saved.get(key), getattr(spec, key)] for key in optimiser_keys()
               if key in saved and saved.get(key) != getattr(spec, key)}
    for group in trainer.optimizer.param_groups:
        group["lr"] = spec.lr
    trainer.loss.set_auxiliary_learning_rate(spec.lr_disc)
    trainer.clip_grad = spec.clip_grad
    if changed:
        spec.changes = [*spec.changes, {"step": trainer.state.step, "epoch": trainer.state.epoch + 1, **changed}]
        log("changed on resume: " + ", ".join(f"{key} {old} -> {new}" for key, (old, new) in changed.items()))


def resume_checkpoint(folder: RunFolder, log: Log) -> tuple[Path, dict[str, Any]] | None:
    """The newest readable training state of `folder`: ``training_state.pt``, else the last ``model-<e>.pt``.

    None for a run stopped before its first checkpoint (no training state, no
    model.pt): there is nothing to lose, and `train_run` starts it again from the
    first step with its own settings.

    Raises:
        CorruptFileError: if every training state is unreadable, or the run has a
            model.pt but no training state (e.g. disentangling-vae's runs).
    """
    candidates = [folder.path / STATE_FILE, *reversed(list(folder.checkpoints().values()))]
    problems = []
    for path in candidates:
        if not path.is_file():
            continue
        try:
            content = load_checkpoint(path)
        except CorruptFileError as exc:
            problems.append(str(exc))
            continue
        if problems:
            log(f"warning: {problems[0]}; resuming from {path.name} instead")
        return path, content
    if problems:
        raise CorruptFileError(f"run '{folder.name}' cannot be resumed: {problems[0]}")
    if not folder.model_path.exists():
        log(f"run '{folder.name}' has no training state yet (it stopped before its first checkpoint): "
            "starting it from the first step, with its settings")
        return None
    raise CorruptFileError(f"run '{folder.name}' has no training state to resume from "
                           f"(no {STATE_FILE} or model-<epoch>.pt in {folder.path})")


def check_resumable(spec: RunSpec, checkpoint: tuple[Path, dict[str, Any]], n_train: int, n_test: int) -> None:
    path, content = checkpoint
    if spec.n_train is not None and (spec.n_train, spec.n_test) != (n_train, n_test):
        raise ConfigError(f"dataset '{spec.dataset}' now gives {n_train:,} training images, run "
                          f"'{spec.name}' was trained on {spec.n_train:,}: it cannot be resumed exactly")
    done = int(content["epoch"])
    if spec.epochs < done:
        raise ConfigError(f"--epochs {spec.epochs} is fewer than the {plural(done, 'epoch')} run '{spec.name}' "
                          f"has done ({path.name})")


def interrupted_message(exc: StopRequested, spec: RunSpec, results_dir: Path) -> str:
    state, name = exc.state, spec.name
    where = "" if Path(results_dir) == default_results_dir() else f" --results-dir {results_dir}"
    where += f" --nproc {spec.world_size}" if spec.world_size > 1 else ""
    return (f"{SIGNAL_NAMES.get(exc.signum, 'stop')} in epoch {state.epoch + 1} after step {state.step:,}: "
            f"training state saved to {Path(results_dir) / name / STATE_FILE}; "
            f"resume with: dvae train {name} --resume{where}")
