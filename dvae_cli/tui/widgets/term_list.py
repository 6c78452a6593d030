"""A list of loss terms to show or hide, whose boxes say their state without colour."""

from __future__ import annotations

from rich.segment import Segment
from textual.strip import Strip
from textual.widgets import SelectionList

#: The mark Textual draws in every box (its ToggleButton.BUTTON_INNER), kept for shown terms.
CHOSEN = "X"
#: The mark of a term that is not shown.
UNCHOSEN = " "


class TermList(SelectionList[str]):
    """A `SelectionList` of terms where a shown term's box holds an X and a hidden term's box is empty.

    Textual draws an X in every box and tells the states apart by colour only, which the
    256-colour palette of tmux can flatten into one: every term then looked ticked.
    """

    def render_line(self, y: int) -> Strip:
        line = super().render_line(y)
        index = self.scroll_offset.y + y
        if not 0 <= index < self.option_count or self.get_option_at_index(index).value in self.selected:
            return line
        segments = list(line)
        if len(segments) < 2 or segments[1].text != CHOSEN:
            return line   # not a line with a box (Textual drew it differently)
        segments[1] = Segment(UNCHOSEN, segments[1].style)
        return Strip(segments, line.cell_length)
