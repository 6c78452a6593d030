"""What ``dvae study run`` checks and prepares before any cell starts, and what it tells about the folder.

Standard library only (the datasets are prepared by ``dvae data prepare`` in a process of its own).
"""

from __future__ import annotations

from pathlib import Path

from dvae_cli.runs.layout import SPECS
from dvae_cli.study.plan import StudyPlan
from dvae_cli.study.state import StudyRecord, study_dir


def prepare_datasets(plan: StudyPlan, data_dir: Path, specs: dict[str, dict], console: object) -> None:
    """Prepare (download, generate) once, before any cell, each dataset of the study not prepared yet.

    Cells started at once would otherwise each prepare it, and a dataset that cannot be had
    would fail every cell twice after minutes of training of the others.

    Raises:
        DvaeError: the preparation's own error (naming the files to place), before any cell runs.
    """
    from dvae_cli.data.catalog import dataset_info

    names = list(dict.fromkeys(spec["dataset"] for spec in specs.values()))
    pending = [name for name in names if dataset_info(name).status(data_dir)[0] != "prepared"]
    if not pending:
        return
    import subprocess
    import sys

    from dvae_cli.errors import DatasetUnavailableError

    for name in pending:   # in a process of its own: this one stays small while the cells run
        console.print(f"preparing dataset {name} once for the study", markup=False)  # type: ignore[attr-defined]
        command = [sys.executable, "-m", "dvae_cli", "data", "prepare", name, "--data-dir", str(data_dir)]
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            reason = next((line[len("error: "):] for line in lines if line.startswith("error: ")),
                          lines[-1] if lines else f"exit code {done.returncode}")
            raise DatasetUnavailableError(f"study {plan.name}: {reason}")


def study_notes(plan: StudyPlan, results: Path, record: StudyRecord) -> list[str]:
    """What a user should know about the study folder: another file made it, folders of no cell."""
    notes = []
    made_by = record.data.get("file")
    if made_by and Path(made_by) != plan.source:
        notes.append(f"{study_dir(plan, results)} was made by {made_by}, not {plan.source}: both name the study "
                     f"'{plan.name}'")
    names = {cell.name for cell in plan.cells}
    folder = study_dir(plan, results)
    stray = sorted(p.name for p in folder.iterdir() if p.is_dir() and (p / SPECS).is_file()
                   and p.name not in names) if folder.is_dir() else []
    if stray:
        shown = ", ".join(stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
        notes.append(f"{len(stray)} run folders are no cell of this file (kept, not reported; did the grid "
                     f"change?): {shown}")
    return notes
