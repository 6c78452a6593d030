"""Recording how training ended (``outcome.json``) whatever makes it end.

`recording_outcome` wraps the training of a run: it forgets the previous outcome
when training starts and, when it stops, records ``finished``, ``interrupted`` (a
signal, or a second Ctrl-C that aborted at once), ``diverged`` (a non-finite term)
or ``crashed`` (any other error, its type and first line), then lets the exception
go on. See `dvae_cli.runs.outcome`.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvae_cli.engine.interrupts import SIGNAL_NAMES
from dvae_cli.errors import NonFiniteLossError
from dvae_cli.runs.outcome import Outcome, clear_outcome, write_outcome

if TYPE_CHECKING:
    from dvae_cli.engine.trainer import Trainer


def _checkpoint(last_saved: tuple[Path, int, int] | None) -> str | None:
    return last_saved[0].name if last_saved is not None else None


@contextlib.contextmanager
def recording_outcome(folder: Path, trainer: Trainer, last_saved: Callable[[], tuple[Path, int, int] | None],
                      enabled: bool = True) -> Iterator[None]:
    """Record in `folder` how the training inside the block ended.

    Args:
        folder: The run folder.
        trainer: The trainer (its state gives the step and epoch reached).
        last_saved: Returns the newest good checkpoint, as (path, epochs done, step), or None.
        enabled: False on the ranks of a distributed run that do not write.
    """
    from dvae_cli.engine.hooks import StopRequested

    if not enabled:
        yield
        return
    clear_outcome(folder)
    state = trainer.state

    def where() -> dict[str, Any]:
        return {"step": state.step, "epoch": min(state.epoch + 1, state.epochs)}

    try:
        yield
    except StopRequested as exc:
        name = SIGNAL_NAMES.get(exc.signum, f"signal {exc.signum}")
        write_outcome(folder, Outcome("interrupted", detail=name, checkpoint=_checkpoint(last_saved()), **where()))
        raise
    except NonFiniteLossError as exc:
        write_outcome(folder, Outcome("diverged", step=exc.step or state.step, epoch=exc.epoch or where()["epoch"],
                                      detail=exc.term or "weights", exploded=exc.exploded,
                                      checkpoint=_checkpoint(last_saved())))
        raise
    except KeyboardInterrupt:
        write_outcome(folder, Outcome("interrupted", detail=f"{SIGNAL_NAMES[int(signal.SIGINT)]} twice (aborted at "
                                                           "once)", checkpoint=_checkpoint(last_saved()), **where()))
        raise
    except Exception as exc:
        line = (str(exc).strip().splitlines() or [""])[0][:300]
        write_outcome(folder, Outcome("crashed", detail=f"{type(exc).__name__}: {line}".rstrip(": "),
                                      checkpoint=_checkpoint(last_saved()), **where()))
        raise
    write_outcome(folder, Outcome("finished", checkpoint=_checkpoint(last_saved()), **where()))
