"""Stopping training cleanly on Ctrl-C (SIGINT) and SIGTERM.

The first signal only raises a flag: the trainer finishes the step it is in, saves
its state and stops with `TrainingInterrupted`. A second Ctrl-C aborts at once
(`KeyboardInterrupt`); checkpoints are written atomically, so the last complete one
is still intact.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

SIGNAL_NAMES: dict[int, str] = {int(signal.SIGINT): "SIGINT", int(signal.SIGTERM): "SIGTERM"}
#: The shell's convention: 128 + the signal number.
EXIT_CODES: dict[int, int] = {int(signal.SIGINT): 130, int(signal.SIGTERM): 143}


class StopFlag:
    """Catches SIGINT and SIGTERM while active (a context manager).

    Outside the main thread, where Python cannot install signal handlers, it does
    nothing and the flag can still be set by calling `request`.

    Attributes:
        signum: The first signal received, or None.
    """

    def __init__(self, notice: bool = True) -> None:
        self.signum: int | None = None
        self.notice = notice
        self._previous: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return self.signum is not None

    def request(self, signum: int = signal.SIGINT) -> None:
        """Ask the trainer to stop after its current step."""
        if self.signum is None:
            self.signum = signum

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # the second signal: abort now
            self._restore()
            raise KeyboardInterrupt
        self.signum = signum
        if self.notice:
            stream = sys.__stderr__ or sys.stderr  # not the live view's proxy: we are in a signal handler
            stream.write(f"\n{SIGNAL_NAMES.get(signum, signum)}: finishing this step and saving the "
                         "training state (Ctrl-C again aborts at once)\n")
            stream.flush()

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNAL_NAMES:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._restore()

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
