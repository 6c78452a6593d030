"""The Images tab: a run's PNG and GIF figures in the terminal; generate the missing ones.

Decoding and ``dvae plot`` run in thread workers that post `FigureDecoded`,
`FigureProgressed` and `FigureGenerated`; the UI never waits for them. GIFs play on a
timer (space pauses, `,` and `.` step). The image class (Kitty/Sixel graphics or
half-cell blocks) is chosen by the app, so tests can fix it.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Center, Horizontal, Vertical
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Log, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from dvae_cli.runs.summary import RunSummary
from dvae_cli.tui.data.figures import (
    DecodedFigure,
    FigureEntry,
    decode_figure,
    figure_entries,
    generate_figure,
    plot_command,
)
from dvae_cli.tui.messages import FigureDecoded, FigureGenerated, FigureProgressed


class FigureViewer(Horizontal):
    """The figure list on the left, the selected figure (or how to make it) on the right.

    Args:
        image_class: The textual-image widget class that draws the figures.
        data_dir: Passed to ``dvae plot`` for the figures that need the dataset.
        catalogue: List every figure ``dvae plot`` writes, present or not (a run's
            folder); False lists only the figures present (a study's report).
    """

    def __init__(self, image_class: type[Widget], *, data_dir: Path | None = None, catalogue: bool = True,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.image_class = image_class
        self.data_dir = data_dir
        self.catalogue = catalogue
        self.run: RunSummary | None = None
        self.entries: list[FigureEntry] = []
        self.figure: DecodedFigure | None = None
        self.frame = 0
        self.playing = True
        self.active = False
        self.generating: str | None = None
        self._decoding: tuple[Path, float] | None = None
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="figure-side"):
            yield OptionList(id="figure-list")
            hint = "✗ missing: g makes it\n- missing: dvae train writes it\n" if self.catalogue else ""
            yield Static(f"[dim]{hint}space: play/pause  , . : frames[/]", id="figure-hint")
        with Vertical(id="figure-main"):
            yield Static(id="figure-caption")
            with Center(id="figure-frame"):
                yield self.image_class(id="figure-image")
            yield Static(id="figure-missing")
            yield Log(id="figure-log", max_lines=200)

    def on_mount(self) -> None:
        self.query_one("#figure-log", Log).display = False
        self.query_one("#figure-frame").display = False

    # ------------------------------------------------------------------ what is shown

    @property
    def current(self) -> FigureEntry | None:
        """The highlighted figure."""
        index = self.query_one("#figure-list", OptionList).highlighted
        if index is None or not 0 <= index < len(self.entries):
            return None
        return self.entries[index]

    def show(self, run: RunSummary) -> None:
        """List the figures of `run`, keeping the highlighted one if the run is the same."""
        same_run = self.run is not None and self.run.path == run.path
        previous = self.current.file if same_run and self.current else None
        self.run = run
        entries = (figure_entries(run.figures) if self.catalogue
                   else [FigureEntry(file, (), "", True) for file in run.figures])
        options = self.query_one("#figure-list", OptionList)
        if entries != self.entries:
            self.entries = entries
            options.clear_options()
            options.add_options([Option(_entry_prompt(e), id=e.file) for e in entries])
            files = [e.file for e in entries]
            if previous in files:
                options.highlighted = files.index(previous)
            else:
                present = [i for i, e in enumerate(entries) if e.present]
                options.highlighted = present[0] if present else 0
        if not same_run:
            self._show_current(force=True)
        else:
            self._show_current()

    def set_active(self, active: bool) -> None:
        """The Images tab became visible (animations run) or hidden (they stop)."""
        self.active = active
        self._schedule()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._show_current()

    def _show_current(self, force: bool = False) -> None:
        entry = self.current
        frame = self.query_one("#figure-frame")
        missing = self.query_one("#figure-missing", Static)
        caption = self.query_one("#figure-caption", Static)
        if entry is None or self.run is None or not entry.present:
            self._stop()
            self.figure = None
            self._decoding = None
            frame.display = False
            missing.display = True
            caption.update(Text(entry.file if entry else "no figure", style="bold"))
            missing.update(_missing_text(entry, self.run))
            return
        path = self.run.path / entry.file
        key = (path, _mtime(path))
        if not force and key == self._decoding:
            return
        self._decoding = key
        self._stop()
        missing.display = False
        caption.update(Text.assemble((entry.file, "bold"), ("  decoding...", "dim")))
        self._decode(path)

    # ------------------------------------------------------------------ decoding

    @work(thread=True, exclusive=True, group="decode")
    def _decode(self, path: Path) -> None:
        worker = get_current_worker()
        figure = decode_figure(path, cancelled=lambda: worker.is_cancelled)
        if not worker.is_cancelled:
            self.post_message(FigureDecoded(figure))

    def on_figure_decoded(self, message: FigureDecoded) -> None:
        message.stop()
        figure = message.figure
        if self._decoding is None or figure.path != self._decoding[0]:
            return  # another figure was chosen meanwhile
        frame = self.query_one("#figure-frame")
        if figure.error or not figure.frames:
            self.figure = None
            frame.display = False
            missing = self.query_one("#figure-missing", Static)
            missing.display = True
            missing.update(Text(figure.error or "no frame", style="red"))
            return
        self.figure = figure
        self.frame = 0
        self.playing = True  # every GIF starts playing
        frame.display = True
        self._show_frame()
        self._schedule()

    # ------------------------------------------------------------------ playback

    def toggle_play(self) -> None:
        """Pause or resume the animation (GIFs only)."""
        if self.figure is None or len(self.figure.frames) < 2:
            return
        self.playing = not self.playing
        self._schedule()
        self._update_caption()

    def step(self, delta: int) -> None:
        """Show the next (1) or previous (-1) frame and pause."""
        if self.figure is None or len(self.figure.frames) < 2:
            return
        self.playing = False
        self._stop()
        self.frame = (self.frame + delta) % len(self.figure.frames)
        self._show_frame()

    def _show_frame(self) -> None:
        assert self.figure is not None
        self.query_one("#figure-image").image = self.figure.frames[self.frame]  # type: ignore[attr-defined]
        self._update_caption()

    def _update_caption(self) -> None:
        figure = self.figure
        if figure is None:
            return
        text = Text.assemble((figure.path.name, "bold"), f"  {figure.size[0]}x{figure.size[1]} px")
        if len(figure.frames) > 1:
            state = "playing" if self.playing else "paused"
            text.append(f"  frame {self.frame + 1}/{len(figure.frames)}  {state}", style="cyan")
        self.query_one("#figure-caption", Static).update(text)

    def _schedule(self) -> None:
        self._stop()
        figure = self.figure
        if figure is not None and len(figure.frames) > 1 and self.playing and self.active:
            self._timer = self.set_timer(figure.durations[self.frame], self._advance)

    def _advance(self) -> None:
        if self.figure is None:
            return
        self.frame = (self.frame + 1) % len(self.figure.frames)
        self._show_frame()
        self._schedule()

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    # ------------------------------------------------------------------ generating

    def generate(self) -> str:
        """Make the highlighted missing figure with ``dvae plot``; returns what happened, for a notice."""
        entry = self.current
        if self.run is None or entry is None:
            return "no figure chosen"
        if self.generating:
            return f"already generating {self.generating}"
        if entry.present:
            return f"{entry.file} exists"
        if not entry.plot_args:
            return f"dvae plot cannot make {entry.file} ({entry.description})"
        self.generating = entry.file
        log = self.query_one("#figure-log", Log)
        log.clear()
        log.display = True
        command = plot_command(self.run.path, entry.plot_args, self.data_dir)
        log.write_line("$ dvae " + " ".join(command[3:]))
        self.query_one("#figure-missing", Static).update(Text(f"generating {entry.file}...", style="yellow"))
        self._generate(self.run.name, " ".join(entry.plot_args), entry.file, command)
        return f"generating {entry.file}"

    @work(thread=True, exclusive=True, group="generate")
    def _generate(self, run: str, plot: str, file: str, command: list[str]) -> None:
        worker = get_current_worker()

        def progress(line: str) -> None:
            self.post_message(FigureProgressed(plot, line))

        code = generate_figure(command, progress, cancelled=lambda: worker.is_cancelled)
        self.post_message(FigureGenerated(run, plot, file, code))

    def on_figure_progressed(self, message: FigureProgressed) -> None:
        message.stop()
        self.query_one("#figure-log", Log).write_line(message.line)

    def on_figure_generated(self, message: FigureGenerated) -> None:
        """Note the end; the screen (the message bubbles on) re-reads the run."""
        self.generating = None
        log = self.query_one("#figure-log", Log)
        if message.returncode == 0:
            log.write_line(f"wrote {message.file}")
            log.display = False
        else:
            log.write_line(f"dvae plot failed (exit code {message.returncode})")
            if self.current and self.current.file == message.file:
                self.query_one("#figure-missing", Static).update(
                    Text(f"dvae plot {message.plot} failed; its output is below", style="red"))


def _entry_prompt(entry: FigureEntry) -> Text:
    """``  file`` if present; if missing, ``✗ file`` when g makes it, else ``- file`` (both dim)."""
    if entry.present:
        return Text("  " + entry.file)
    if entry.can_generate:
        return Text.assemble(("✗ ", "red"), (entry.file, "dim"))
    return Text.assemble(("- ", "dim"), (entry.file, "dim"))


def _missing_text(entry: FigureEntry | None, run: RunSummary | None) -> Text:
    if run is None:
        return Text("no run selected", style="dim")
    if entry is None:
        return Text(f"no figure in {run.name}/", style="dim")
    text = Text()
    text.append(f"{entry.file} is not in {run.name}/", style="bold")
    if entry.description:
        text.append(f"\n({entry.description})", style="dim")
    if entry.can_generate:
        text.append(f"\n\nPress g to make it: dvae plot {run.name} {' '.join(entry.plot_args)}")
    return text


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
