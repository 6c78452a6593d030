"""``dvae study run|status|report FILE``: a sweep over models, hyper-parameters and seeds, one file.

FILE is a study file (``[study]``) or the name of a study of the shipped ``studies.toml``
(``sprites-mini``, ``unsupervised_study_v1``). A thin shell over `dvae_cli.study`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dvae_cli.cli.output import make_console, make_table
from dvae_cli.errors import ConfigError, UnknownNameError
from dvae_cli.runs.folder import (
    DATA_ENV,
    RESULTS_ENV,
    check_writable,
    default_data_dir,
    default_results_dir,
)
from dvae_cli.study.plan import StudyPlan, load_study
from dvae_cli.study.preflight import prepare_datasets, study_notes
from dvae_cli.study.state import STATES, StudyRecord, cell_status, study_dir

app = typer.Typer(help="Studies: sweeps over models, hyper-parameters and seeds (run, status, report).",
                  no_args_is_help=True)
EXECUTORS = ("local", "slurm")
StudyArg = Annotated[str, typer.Argument(help="A study file (a \\[study] table) or a study of studies.toml "
                                              "(sprites-mini, unsupervised_study_v1, "
                                              "unsupervised_study_v1-shapes3d).")]
ResultsDir = Annotated[Path | None, typer.Option("--results-dir", envvar=RESULTS_ENV, show_default="./results")]
DataDir = Annotated[Path | None, typer.Option("--data-dir", envvar=DATA_ENV, show_default="./data")]
#: Cells listed by --dry-run (the rest are counted).
DRY_RUN_LINES = 60
#: The order of the states in tables and counts.
RUNNABLE = ("left", "interrupted", "extend", "trained", "retry")


@app.command("run", no_args_is_help=True)
def run_command(
    study: StudyArg,
    executor: Annotated[str, typer.Option("--executor", "-e", help="local (processes on this machine) or slurm "
                                                                  "(a job array through submitit).")] = "local",
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Cells at once (local: processes sharing "
                                                                 "the CPUs or GPUs; slurm: the array's "
                                                                 "parallelism). Default: 1 locally.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the cells and what would run; run nothing.")]
    = False,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Run the failed cells again (after fixing "
                                                                      "what made them fail).")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="slurm: wait for the jobs, retry failed cells once.")]
    = False,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    log_every: Annotated[float, typer.Option("--log-every", metavar="SECONDS", help="Seconds between summary "
                                                                                  "lines when the output is not "
                                                                                  "a terminal.")] = 60.0,
    results_dir: ResultsDir = None,
    data_dir: DataDir = None,
) -> None:
    """Train and evaluate every cell of a study that is not done; the same command continues it."""
    if executor not in EXECUTORS:
        raise UnknownNameError("executor", executor, EXECUTORS)
    if jobs is not None and jobs < 1:
        raise ConfigError(f"--jobs must be a positive integer, got {jobs}")
    if device not in ("auto", "cpu", "cuda"):
        raise UnknownNameError("device", device, ("auto", "cpu", "cuda"))
    if not log_every >= 0:
        raise ConfigError(f"--log-every must be a number of seconds >= 0, got {log_every}")
    plan = load_study(study)
    results = results_dir or default_results_dir()
    expected = check_cells(plan)
    check_writable(study_dir(plan, results), "study folder")   # before anything is made or computed
    record = StudyRecord(study_dir(plan, results))
    statuses = [cell_status(plan, cell, results, record, expected[cell.name]) for cell in plan.cells]
    if retry_failed and any(s.state == "failed" for s in statuses):
        for status in statuses:
            if status.state == "failed":
                record.cell(status.cell.name).update(attempts=0, error="")
                status.state = "retry"
        if not dry_run:
            record.save(plan)
    queue = [s.cell for s in statuses if s.state in RUNNABLE]
    console = make_console()
    counts = _counts([s.state for s in statuses])
    console.print(f"study {plan.name}: {len(plan.cells)} cells ({counts}); {len(queue)} to run "
                  f"in {study_dir(plan, results)}", markup=False)
    for line in study_notes(plan, results, record):
        console.print(f"note: {line}", markup=False, style="yellow")
    for status in statuses:
        if status.state in ("conflict", "failed"):
            console.print(f"{status.state} {status.cell.name}: {status.detail}", markup=False, style="red")
    if dry_run:
        shown = statuses if len(statuses) <= DRY_RUN_LINES else statuses[:DRY_RUN_LINES]
        if executor == "slurm":
            from dvae_cli.runs.study_layout import SUBMITIT_JOB, submitit_dir
            from dvae_cli.study.slurm import sbatch_header

            folder = submitit_dir(study_dir(plan, results)) / SUBMITIT_JOB
            console.print("each cell's job:\n" + sbatch_header(plan, jobs, folder), markup=False)
        for status in shown:
            console.print(f"  {status.cell.name}: {status.state}" + (" -> run" if status.state in RUNNABLE else ""),
                          markup=False)
        if len(shown) < len(statuses):
            console.print(f"  ... and {len(statuses) - len(shown)} more cells (dvae study status lists them all)",
                          markup=False)
        return
    where = _where(results, results_dir)
    if not queue:
        running = sum(s.state == "running" for s in statuses)
        busy = f"{running} cells are running in other processes; " if running else ""
        console.print(f"nothing to run: {busy}dvae study status {study}{where}; dvae study report {study}{where}",
                      markup=False)
        raise typer.Exit(1 if any(s.state in ("conflict", "failed") for s in statuses) else 0)
    origin = str(Path(study).resolve()) if Path(study).expanduser().is_file() else study
    slurm = None
    if executor == "slurm":
        from dvae_cli.study.slurm import make_executor

        slurm = make_executor(plan, results, jobs)   # no Slurm here: one line, before anything is made
    data = data_dir or default_data_dir()
    prepare_datasets(plan, data, expected, console)
    study_dir(plan, results).mkdir(parents=True, exist_ok=True)
    if slurm is not None:
        from dvae_cli.study.slurm import submit

        code = submit(plan, origin, queue, results, data, jobs, device, console, wait, executor=slurm)
    else:
        from dvae_cli.study.local import LocalExecutor

        runner = LocalExecutor(plan, origin, results, data, jobs or 1, device, console, log_every)
        code = runner.run(queue)
        final = [cell_status(plan, cell, results, StudyRecord(study_dir(plan, results))).state
                 for cell in plan.cells]
        console.print(f"study {plan.name}: {_counts(final)}", markup=False)
    if code == 0:
        console.print(f"Next: dvae study status {study}{where}; dvae study report {study}{where}", markup=False)
    elif code > 128:
        console.print(f"stopped; the same command continues the study: dvae study run {study}{where}", markup=False)
    raise typer.Exit(code)


def _where(results: Path, given: Path | None) -> str:
    return f" --results-dir {results}" if given is not None else ""


def check_cells(plan: StudyPlan) -> dict[str, dict]:
    """Every cell's resolved spec (``specs.json`` content), checked before any work.

    Raises:
        ConfigError: naming the first cell whose parameters a run would refuse.
    """
    from dvae_cli.config import load_catalogue
    from dvae_cli.errors import DvaeError
    from dvae_cli.study.cell import cell_resolution

    specs = {}
    catalogue = load_catalogue()
    for cell in plan.cells:
        try:
            specs[cell.name] = cell_resolution(plan, cell, catalogue).spec.to_dict()
        except DvaeError as exc:
            raise ConfigError(f"study {plan.name}, cell {cell.name}: {exc}") from None
    from dvae_cli.metrics.names import parse_metric_names
    from dvae_cli.viz.plots import parse_plot_names

    for what, check in (("metrics", lambda: parse_metric_names(",".join(plan.metrics))),
                        ("plots", lambda: parse_plot_names(list(plan.plots)))):
        try:
            if getattr(plan, what):
                check()
        except DvaeError as exc:
            raise ConfigError(f"study {plan.name}, {what}: {exc}") from None
    return specs


@app.command("status", no_args_is_help=True)
def status_command(study: StudyArg, results_dir: ResultsDir = None) -> None:
    """A table of the study's cells and where each stands."""
    plan = load_study(study)
    results = results_dir or default_results_dir()
    record = StudyRecord(study_dir(plan, results))
    expected = check_cells(plan)
    statuses = [cell_status(plan, cell, results, record, expected[cell.name]) for cell in plan.cells]
    if any(status.state in ("left", "running") for status in statuses):
        from dvae_cli.study.slurm import job_active

        for status in statuses:
            if status.state == "left" and job_active(record.cell(status.cell.name)):
                status.state = "queued"
    console = make_console()
    table = make_table(("cell", "state", "epoch", "failures", "detail"), right=("epoch", "failures"),
                       title=f"study {plan.name}: {_counts([s.state for s in statuses])}")
    for status in statuses:
        table.add_row(status.cell.name, status.state, str(status.epoch or "-"), str(status.attempts),
                      status.detail[:200])
    console.print(table)
    if not study_dir(plan, results).is_dir():
        console.print(f"note: no folder {study_dir(plan, results)} yet: nothing of this study has run there "
                      "(another --results-dir?)", markup=False, style="yellow")
    for line in study_notes(plan, results, record):
        console.print(f"note: {line}", markup=False, style="yellow")


@app.command("report", no_args_is_help=True)
def report_command(
    study: StudyArg,
    fmt: Annotated[str | None, typer.Option("--format", "-F", help="table, csv, markdown, json or latex "
                                                                   "(default: from --output, else table).")]
    = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the summary table to this file.")]
    = None,
    no_figures: Annotated[bool, typer.Option("--no-figures", help="Tables only.")] = False,
    results_dir: ResultsDir = None,
) -> None:
    """Every score by setting (mean, median, std, n over seeds), UDR model selection, and the figures
    (written with report.md and cells.csv into <results>/<study>/report/)."""
    from dvae_cli.compare.formats import SUFFIXES, check_format, render
    from dvae_cli.runs.atomic import write_text
    from dvae_cli.runs.study_layout import CELLS_CSV, REPORT_MD, SUMMARY_CSV, report_dir
    from dvae_cli.study.report import build_report, report_notes, write_report_folder

    chosen = check_format(fmt) if fmt else SUFFIXES.get(output.suffix.lower(), "table") if output else "table"
    if output is not None and not output.parent.is_dir():
        raise ConfigError(f"--output {output}: folder {output.parent} does not exist")
    plan = load_study(study)
    results = results_dir or default_results_dir()
    if not study_dir(plan, results).is_dir():
        raise ConfigError(f"study {plan.name} has no folder in {results} yet: dvae study run {study}")
    check_writable(study_dir(plan, results), "study folder")
    report = build_report(plan, results, StudyRecord(study_dir(plan, results)))
    if not report.cells:
        raise ConfigError(f"study {plan.name}: no cell is finished yet ({_counts(list(report.states.values()))})")
    console, notes = make_console(), make_console(stderr=True)   # stdout: the table alone, for pipes
    text = render(report.summary_table(), chosen, width=console.width)
    if output is not None:
        write_text(output, text)
        notes.print(f"wrote {output}", markup=False)
    else:
        console.print(text, markup=False, highlight=False, end="")
    if report.selection and chosen == "table" and output is None:
        console.print(render(report.selection_table(), "table", width=console.width), markup=False, end="")
    for line in report_notes(report):
        notes.print(f"note: {line}", markup=False, style="yellow")
    out_dir = report_dir(study_dir(plan, results))
    figures = write_report_folder(report, out_dir, figures=not no_figures)
    notes.print(f"wrote {out_dir}/: {REPORT_MD}, {SUMMARY_CSV}, {CELLS_CSV} and {len(figures)} figures", markup=False)


@app.command("cell", hidden=True, no_args_is_help=True)
def cell_command(study: StudyArg, cell: Annotated[str, typer.Argument(help="The cell's name.")],
                 device: Annotated[str, typer.Option("--device")] = "auto",
                 results_dir: ResultsDir = None, data_dir: DataDir = None) -> None:
    """Bring one cell to its end in this process (what the local executor runs)."""
    from dvae_cli.study.cell import run_cell

    plan = load_study(study)
    console = make_console()
    state = run_cell(plan, plan.cell(cell), results_dir or default_results_dir(), data_dir or default_data_dir(),
                     device=device, log=lambda line: console.print(line, markup=False))
    console.print(f"cell {cell}: {state}", markup=False)
    raise typer.Exit(0 if state == "done" else 1)


def _counts(states: list[str]) -> str:
    order = [*STATES, "queued"]
    found = {state: states.count(state) for state in order if state in states}
    return ", ".join(f"{count} {state}" for state, count in found.items()) or "no cells"
