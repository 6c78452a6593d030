"""Training progress views, as trainer callbacks: a rich live view (and `EpochLines`, the plain lines that
`dvae_cli.views.train` shares with study cells)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from dvae_cli.catalogue.losses import term_labels
from dvae_cli.engine.hooks import VIEW_REFRESH_PER_SECOND, Callback, TrainState
from dvae_cli.runs.logs import parse_kl_key
from dvae_cli.views.train import EpochLines, epoch_line, main_terms
from dvae_cli.views.train import format_duration as _duration
from dvae_cli.views.train import format_value as _fmt

__all__ = ["EpochLines", "LiveView", "Throughput", "epoch_line", "images_left", "main_terms"]


class Throughput:
    """Images per second over the recent past, and the time left."""

    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self.points: list[tuple[float, int]] = []

    def add(self, images: int) -> None:
        now = time.perf_counter()
        self.points.append((now, images))
        while len(self.points) > 2 and now - self.points[0][0] > self.window:
            self.points.pop(0)

    def rate(self) -> float:
        if len(self.points) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self.points[0], self.points[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


def images_left(state: TrainState) -> int:
    steps_left = (state.epochs - state.epoch) * state.steps_per_epoch - state.step_in_epoch
    return max(0, steps_left) * state.batch_size


class LiveView(Callback):
    """Epoch and step progress, images/s, ETA and the running mean of every term.

    The table is rebuilt at most `VIEW_REFRESH_PER_SECOND` times a second; only then are
    the terms synchronised from the device.
    """

    def __init__(self, console: Console, title: str, display_terms: Sequence[str]) -> None:
        self.console, self.title = console, title
        self.rows = main_terms(display_terms)
        self.throughput = Throughput()
        self.progress = Progress(TextColumn("{task.description:>6}"), BarColumn(bar_width=None),
                                 MofNCompleteColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                                 console=console, expand=True)
        self.epoch_task = self.progress.add_task("epoch", total=1, info="")
        self.step_task = self.progress.add_task("step", total=1, info="")
        self.live: Live | None = None
        self.last_refresh = 0.0
        self.last_epoch: dict[str, float] = {}

    def on_train_start(self, state: TrainState) -> None:
        self.progress.update(self.epoch_task, total=state.epochs, completed=state.epoch)
        self.progress.update(self.step_task, total=state.steps_per_epoch, completed=0)
        self.live = Live(self._render(state, {}), console=self.console,
                         refresh_per_second=VIEW_REFRESH_PER_SECOND,
                         transient=False)
        self.live.start()

    def on_epoch_start(self, state: TrainState) -> None:
        self.progress.update(self.step_task, completed=0, description="step")

    def on_step_end(self, state: TrainState) -> None:
        self.throughput.add(state.images_seen)
        now = time.perf_counter()
        if now - self.last_refresh < 1.0 / VIEW_REFRESH_PER_SECOND:
            return
        self.last_refresh = now
        rate = self.throughput.rate()
        eta = images_left(state) / rate if rate > 0 else float("nan")
        info = f"{rate:,.0f} img/s  ETA {_duration(eta) if eta == eta else '?'}"
        self.progress.update(self.step_task, completed=state.step_in_epoch, info=info)
        self.progress.update(self.epoch_task, completed=state.epoch + state.step_in_epoch / state.steps_per_epoch,
                             info=f"global step {state.step:,}")
        if self.live is not None:
            self.live.update(self._render(state, state.running_means()))

    def on_epoch_end(self, state: TrainState, means: dict[str, float]) -> None:
        self.last_epoch = means
        self.progress.update(self.epoch_task, completed=state.epoch + 1)
        self.progress.update(self.step_task, completed=state.steps_per_epoch)
        if self.live is not None:
            self.live.console.print(epoch_line(state, means, self.rows, self.throughput.rate()))
            self.live.update(self._render(state, means))

    def on_train_end(self, state: TrainState) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def on_train_abort(self, state: TrainState) -> None:
        self.on_train_end(state)  # leave the terminal clean for the one-line message

    def _render(self, state: TrainState, running: dict[str, float]) -> Group:
        table = Table(title=self.title, title_justify="left", expand=False, box=None, padding=(0, 2))
        table.add_column("term")
        table.add_column(f"epoch {state.epoch + 1} (running mean)", justify="right")
        table.add_column("last epoch", justify="right")
        labels = term_labels()
        for key in self.rows:
            if key in running or key in self.last_epoch:
                table.add_row(labels.get(key, key), _fmt(running[key]) if key in running else "",
                              _fmt(self.last_epoch[key]) if key in self.last_epoch else "")
        per_dim = sorted((d, v) for k, v in running.items() if (d := parse_kl_key(k)) is not None)
        parts: list[Progress | Table | Text] = [self.progress, table]
        if per_dim:
            parts.append(Text("  KL per latent: " + " ".join(f"{d}:{v:.2f}" for d, v in per_dim), style="dim"))
        return Group(*parts)
