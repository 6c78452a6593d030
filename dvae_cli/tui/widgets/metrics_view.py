"""The Metrics tab: the numbers of ``metrics.log``, the mutual-information grid, KL per latent."""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from dvae_cli.runs.summary import ACTIVE_KL
from dvae_cli.tui.data.details import RunDetails
from dvae_cli.tui.widgets.mutual_info_grid import CELL_WIDTH, LABEL_WIDTH, MutualInfoGrid


def protocol_text(protocol: object) -> str:
    """A one-line account of how a metric was computed."""
    if not isinstance(protocol, dict):
        return ""
    parts = [str(protocol["estimator"])] if "estimator" in protocol else []
    if "representation" in protocol:
        parts.append(f"{protocol['representation']}s")
    for key, unit in (("images", "images"), ("n_samples", "samples"), ("bins", "bins")):
        value = protocol.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            parts.append(f"{value:,} {unit}")
    if "normalisation" in protocol:
        parts.append(f"norm. {protocol['normalisation']}")
    if "probe_family" in protocol:   # DCI-ES: its scores depend on the probes
        parts.append(f"probes {protocol['probe_family']}")
    return "; ".join(parts) if parts else json.dumps(protocol)[:80]


class MetricsView(VerticalScroll):
    """Scores, their protocols, the factors x latents grid and the KL of each latent."""

    def compose(self) -> ComposeResult:
        yield Static(id="metrics-title", classes="section-title")
        yield DataTable(id="metrics-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="mi-title", classes="section-title")
        yield MutualInfoGrid(id="mi-grid")
        yield Static(id="kl-title", classes="section-title")
        yield Static(id="kl-latents")

    def on_mount(self) -> None:
        table = self.query_one("#metrics-table", DataTable)
        table.add_column("metric", key="metric")
        table.add_column("value", key="value")
        table.add_column("how", key="how")

    def show(self, details: RunDetails) -> None:
        summary = details.summary
        table = self.query_one("#metrics-table", DataTable)
        table.clear()
        metrics = summary.metrics or {}
        where = f" on {details.metrics_dataset}" if details.metrics_dataset else ""
        if metrics or summary.not_computed:
            title = f"Disentanglement metrics{where} (metrics.log)"
        else:
            title = f"No metrics.log: run `dvae eval {summary.name} --metrics`"
        self.query_one("#metrics-title", Static).update(title)
        table.display = bool(metrics or summary.not_computed)
        for name, value in metrics.items():
            table.add_row(name, Text(f"{value:.4g}", justify="right"),
                          protocol_text(details.protocols.get(name)), key=name)
        for name, reason in summary.not_computed.items():   # null: undefined for this model, and why
            table.add_row(name, Text("-", justify="right", style="dim"), Text(f"not computed: {reason}", style="dim"),
                          key=name)
        matrix = details.mutual_info
        mi_title = "Mutual information (nats), factors x latents"
        if matrix is not None:
            mi_title += f"  [dim]({matrix.source}; underlined: each factor's best latent)[/]"
        self.query_one("#mi-title", Static).update(mi_title)
        self.query_one(MutualInfoGrid).show(matrix)
        kl = summary.kl_per_latent
        self.query_one("#kl-title", Static).update(
            f"KL per latent, last epoch ({summary.active_latents} of {len(kl)} above {ACTIVE_KL} nats)"
            if kl else "KL per latent: not logged")
        self.query_one("#kl-latents", Static).update(kl_table(kl) if kl else "")


def kl_table(kl: list[float]) -> Table:
    """The KL of each latent in columns as wide as those of `MutualInfoGrid`."""
    grid = Table(box=None, padding=(0, 0), show_edge=False, pad_edge=False, collapse_padding=True)
    grid.add_column("", width=LABEL_WIDTH, no_wrap=True)
    for j in range(len(kl)):
        grid.add_column(f"z{j}", justify="center", width=CELL_WIDTH, no_wrap=True, header_style="bold")
    cells = [Text(f"{v:.2f}", style="bold green" if v > ACTIVE_KL else "dim") for v in kl]
    grid.add_row(Text("KL (nats)", style="bold"), *cells)
    return grid
