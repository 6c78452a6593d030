"""Training progress views, as trainer callbacks: a rich live view and plain epoch lines."""

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


def main_terms(display_terms: Sequence[str]) -> list[str]:
    """The terms shown one per row: total, reconstruction, KL, then the loss's own."""
    return ["loss", "recon_loss", "kl_loss", *[t for t in display_terms if t not in ("loss", "recon_loss",
                                                                                     "kl_loss")]]


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.1f}"


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


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
        per_dim = sorted((int(k.rsplit("_", 1)[1]), v) for k, v in running.items() if k.startswith("kl_loss_"))
        parts: list[Progress | Table | Text] = [self.progress, table]
        if per_dim:
            parts.append(Text("  KL per latent: " + " ".join(f"{d}:{v:.2f}" for d, v in per_dim), style="dim"))
        return Group(*parts)


def epoch_line(state: TrainState, means: dict[str, float], rows: Sequence[str], rate: float) -> str:
    """One plain line summarising an epoch."""
    terms = "  ".join(f"{key} {_fmt(means[key])}" for key in rows if key in means)
    return (f"epoch {state.epoch + 1}/{state.epochs}  step {state.step:,}  {terms}  "
            f"({rate:,.0f} img/s, {_duration(state.elapsed)})")


def progress_line(state: TrainState, means: dict[str, float], rows: Sequence[str], rate: float) -> str:
    """One plain line in the middle of an epoch: where it is, its speed and the running means."""
    terms = "  ".join(f"{key} {_fmt(means[key])}" for key in rows if key in means)
    done = 100.0 * state.step_in_epoch / max(state.steps_per_epoch, 1)
    return (f"epoch {state.epoch + 1}/{state.epochs}  step {state.step:,} ({state.step_in_epoch:,}/"
            f"{state.steps_per_epoch:,} of the epoch, {done:.0f}%)  {terms}  ({rate:,.0f} img/s, "
            f"{_duration(state.elapsed)})")


class EpochLines(Callback):
    """One plain line per epoch, and one at least every `every` seconds in between (logs, pipes).

    Args:
        console: Where the lines go.
        display_terms: The loss's own terms, shown after the main ones.
        every: Seconds between lines within an epoch (``--log-every``); 0: only at epoch ends.
    """

    def __init__(self, console: Console, display_terms: Sequence[str], every: float = 60.0) -> None:
        self.console = console
        self.rows = main_terms(display_terms)
        self.every = every
        self.epoch_started = time.perf_counter()
        self.images_at_start = 0
        self.last_line = time.monotonic()
        self.images_at_line = 0

    def on_epoch_start(self, state: TrainState) -> None:
        self.epoch_started = time.perf_counter()
        self.images_at_start = state.images_seen

    def on_step_end(self, state: TrainState) -> None:
        if self.every <= 0 or time.monotonic() - self.last_line < self.every:
            return
        seconds = time.monotonic() - self.last_line
        rate = (state.images_seen - self.images_at_line) / seconds if seconds > 0 else 0.0
        self.console.print(progress_line(state, state.running_means(), self.rows, rate), markup=False,
                           highlight=False)
        self.last_line, self.images_at_line = time.monotonic(), state.images_seen

    def on_epoch_end(self, state: TrainState, means: dict[str, float]) -> None:
        seconds = time.perf_counter() - self.epoch_started
        rate = (state.images_seen - self.images_at_start) / seconds if seconds > 0 else 0.0
        self.console.print(epoch_line(state, means, self.rows, rate), markup=False, highlight=False)
        self.last_line, self.images_at_line = time.monotonic(), state.images_seen
