"""The training lock: a run folder's ``.dvae-training.json``, the heartbeat of the process training it.

`write_training_lock` is called by the trainer at its start and after every epoch,
`remove_training_lock` when it ends; readers (``browse``, ``compare``, ``--resume``, a
study's status) ask `lock_alive` whether the writer still runs. Standard library only.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from dvae_cli.errors import DvaeError
from dvae_cli.runs.atomic import write_json
from dvae_cli.runs.jsonfile import read_json
from dvae_cli.runs.layout import TRAINING_LOCK

#: A lock from another host counts as alive if touched within this many seconds.
STALE_SECONDS = 600.0


def write_training_lock(path: Path) -> None:
    """Mark the run folder `path` as being trained by this process (refreshes the heartbeat)."""
    write_json(Path(path) / TRAINING_LOCK, {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()})


def remove_training_lock(path: Path) -> None:
    """Remove the training mark of `path` (missing is fine)."""
    try:
        (Path(path) / TRAINING_LOCK).unlink()
    except FileNotFoundError:
        pass


def lock_alive(lock: Path) -> bool:
    """Whether the process that wrote the training lock `lock` still runs (or, elsewhere, beat lately)."""
    try:
        data = read_json(lock)
        pid, host = data["pid"], data["host"]
    except (OSError, DvaeError, KeyError, TypeError, IndexError):
        return time.time() - _mtime(lock) < STALE_SECONDS
    if host != socket.gethostname() or not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return time.time() - _mtime(lock) < STALE_SECONDS
    return process_alive(pid)


def process_alive(pid: int) -> bool:
    """Whether a process of this machine has the number `pid` (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:  # no process has such a number
        return False
    return True


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
