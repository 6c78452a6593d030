"""``dvae train --nproc N``: start N training processes on this machine, as torchrun would.

Each child gets torchrun's variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``MASTER_ADDR``, ``MASTER_PORT``) and runs the same ``dvae train`` command without
``--nproc``. Ctrl-C reaches every child through the terminal's process group; a
SIGTERM sent to the launcher is passed on. The exit code is rank 0's (130/143 after
an interrupt, 3 for a non-finite loss), or the first failure of another rank.
For several machines use torchrun itself (see the README). Imports no torch.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType


def strip_nproc(argv: Sequence[str]) -> list[str]:
    """`argv` without ``--nproc N`` / ``--nproc=N``."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def free_port() -> int:
    """A TCP port that is free on the loopback interface now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(nproc: int, train_args: Sequence[str]) -> int:
    """Run ``python -m dvae_cli train <train_args>`` in `nproc` processes; return the exit code."""
    port = free_port()
    children = []
    for rank in range(nproc):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(nproc),
               "LOCAL_WORLD_SIZE": str(nproc), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        children.append(subprocess.Popen([sys.executable, "-m", "dvae_cli", "train", *train_args], env=env))

    def forward(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM,)}
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the children get Ctrl-C themselves
    try:
        codes: dict[int, int] = {}
        while len(codes) < nproc:
            for rank, child in enumerate(children):
                if rank not in codes and child.poll() is not None:
                    codes[rank] = child.returncode
                    if child.returncode not in (0, 130, 143, 3):  # a crashed rank: the others would wait forever
                        forward(signal.SIGTERM, None)
            time.sleep(0.05)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if codes[0] != 0:
        return codes[0]
    return next((code for code in codes.values() if code != 0), 0)
