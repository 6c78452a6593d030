"""The Slurm executor: the cells as one job array, submitted through submitit.

submitit (facebookincubator/submitit) writes the sbatch script, pickles the call and
collects results and logs under ``<study>/.study/submitit/``. Each array task runs
`dvae_cli.study.cell.run_cell` for one cell. Preemption and time-outs rely on dvae's own
checkpoints: submitit calls `CellJob.checkpoint` on the signal Slurm sends first, which
requeues the same call, and the requeued task resumes the run from its last
``training_state.pt``. Each cell's requests (time, memory, GPUs, CPUs, partition) come
from the study's ``[study.slurm]`` table.

``$DVAE_SUBMITIT_CLUSTER`` (``slurm`` by default) picks submitit's executor: ``local``
runs the tasks as local processes and ``debug`` in this process, as the tests do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.console import Console

from dvae_cli.errors import ConfigError, MissingExtraError
from dvae_cli.runs.study_layout import SUBMITIT_JOB, submitit_dir
from dvae_cli.study.plan import Cell, StudyPlan
from dvae_cli.study.state import MAX_ATTEMPTS, StudyRecord, study_dir

CLUSTER_ENV = "DVAE_SUBMITIT_CLUSTER"
#: `StudyPlan.slurm` keys -> submitit's parameters.
PARAMETERS = {"timeout_min": "timeout_min", "mem_gb": "mem_gb", "gpus_per_node": "gpus_per_node",
              "cpus_per_task": "cpus_per_task", "partition": "slurm_partition",
              "array_parallelism": "slurm_array_parallelism", "account": "slurm_account", "qos": "slurm_qos",
              "constraint": "slurm_constraint"}
DEFAULTS = {"timeout_min": 240, "mem_gb": 16, "cpus_per_task": 8, "gpus_per_node": 0}


class CellJob:
    """The call each array task makes: one cell of the study, brought to its end (picklable)."""

    def __init__(self, origin: str, results_dir: Path, data_dir: Path, device: str) -> None:
        self.origin, self.results_dir, self.data_dir, self.device = origin, Path(results_dir), Path(data_dir), device

    def __call__(self, cell_name: str) -> str:
        from dvae_cli.study.cell import run_cell
        from dvae_cli.study.plan import load_study

        plan = load_study(self.origin)
        return run_cell(plan, plan.cell(cell_name), self.results_dir, self.data_dir, device=self.device)

    def checkpoint(self, cell_name: str) -> Any:
        """Requeue the same call when preempted or timed out: it resumes from the run's checkpoint."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(CellJob(self.origin, self.results_dir, self.data_dir, self.device), cell_name)


def make_executor(plan: StudyPlan, results_dir: Path, jobs: int | None, cluster: str | None = None) -> Any:
    """A submitit executor with the study's requests (its folder under ``<study>/.study/submitit/``).

    Raises:
        MissingExtraError: if submitit is not installed.
    """
    try:
        import submitit
    except ImportError:
        raise MissingExtraError('--executor slurm needs submitit: pip install "dvae[slurm]"') from None
    folder = submitit_dir(study_dir(plan, results_dir))
    chosen = cluster or os.environ.get(CLUSTER_ENV) or "slurm"
    try:
        executor = submitit.AutoExecutor(folder=str(folder / SUBMITIT_JOB), cluster=chosen)
    except RuntimeError as exc:   # submitit's "Could not detect srun": not on a Slurm cluster
        raise ConfigError(f"--executor slurm: {exc} (run it on the cluster's login node, or use --executor "
                          "local)") from None
    executor.update_parameters(**submitit_parameters(plan, jobs))
    return executor


def submitit_parameters(plan: StudyPlan, jobs: int | None) -> dict[str, Any]:
    """submitit's parameters of each cell's job: `DEFAULTS`, then ``[study.slurm]``, then ``--jobs``."""
    requests = {**DEFAULTS, **plan.slurm}
    parameters = {PARAMETERS[key]: value for key, value in requests.items()}
    if jobs is not None:
        parameters["slurm_array_parallelism"] = jobs
    return {"name": f"dvae-{plan.name}", **parameters}


def sbatch_header(plan: StudyPlan, jobs: int | None, folder: Path) -> str:
    """The ``#SBATCH`` lines submitit writes for a cell's job (what ``--dry-run`` shows)."""
    from submitit.slurm.slurm import _make_sbatch_string

    generic = submitit_parameters(plan, jobs)
    slurm = {"job_name": generic.pop("name"), "time": generic.pop("timeout_min"),
             "mem": f"{generic.pop('mem_gb')}GB"}
    slurm.update({key.removeprefix("slurm_"): value for key, value in generic.items()})
    script = _make_sbatch_string(command="python -m submitit.core._submit", folder=str(folder), **slurm)
    return "\n".join(line for line in script.splitlines() if line.startswith("#SBATCH"))


def submit(plan: StudyPlan, origin: str, queue: list[Cell], results_dir: Path, data_dir: Path,
           jobs: int | None, device: str, console: Console, wait: bool = False, executor: Any = None) -> int:
    """Submit `queue` as one job array; with `wait`, wait for it, retry the failed cells once, and report.

    Returns:
        The exit code: 0 when submitted (or, with `wait`, when every cell is done), 1 if a cell failed.
    """
    record = StudyRecord(study_dir(plan, results_dir))
    executor = executor if executor is not None else make_executor(plan, results_dir, jobs)
    call = CellJob(origin, Path(results_dir).resolve(), Path(data_dir).resolve(), device)
    failed: list[Cell] = []
    for attempt in range(MAX_ATTEMPTS):
        if not queue:
            break
        submitted = executor.map_array(call, [cell.name for cell in queue])
        for cell, job in zip(queue, submitted):
            record.cell(cell.name).update({"job_id": str(job.job_id), "job_folder": str(job.paths.folder),
                                           "cluster": executor.cluster})
        record.save(plan)
        ids = sorted({str(job.job_id).split("_")[0] for job in submitted})
        console.print(f"submitted {len(queue)} cells of study {plan.name} as job {', '.join(ids)} "
                      f"({executor.cluster})", markup=False)
        if not wait:
            console.print(f"follow them with: dvae study status {origin}", markup=False)
            return 0
        retry: list[Cell] = []
        for cell, job in zip(queue, submitted):
            try:
                job.result()
                record.cell(cell.name).pop("error", None)
                console.print(f"done {cell.name}", markup=False)
            # submitit re-raises the task's error in a wrapper: every exception means "failed"
            except Exception as exc:  # noqa: BLE001
                entry = record.cell(cell.name)
                entry["attempts"] = int(entry.get("attempts", 0)) + 1
                entry["error"] = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:300]
                (retry if attempt + 1 < MAX_ATTEMPTS else failed).append(cell)
                console.print(f"failed {cell.name}: {entry['error']}", markup=False, style="red")
        record.save(plan)
        queue = retry
    return 1 if failed else 0


def job_active(entry: dict[str, Any]) -> bool:
    """Whether the Slurm job recorded in a cell's `StudyRecord` entry is queued or running (asks sacct)."""
    job_id, folder = entry.get("job_id"), entry.get("job_folder")
    if not job_id or not folder or entry.get("cluster") != "slurm":
        return False
    try:
        import submitit

        state = submitit.SlurmJob(Path(folder), str(job_id)).state
    except Exception:  # noqa: BLE001 - no submitit, no scheduler reachable: the run folder says the rest
        return False
    return str(state).upper() in ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED")
