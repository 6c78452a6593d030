"""Every file of a study folder ``<results-dir>/<study>/``, named once (standard library only).

A study folder (``dvae study``) is the contract between its writers (``dvae study run``,
``dvae study report``) and its readers (``dvae study status``, ``dvae browse``), as the
run folder of each cell is (`dvae_cli.runs.layout`): every module names its files
through this one.

=====================================  ===================  =============================================
file                                   written by           holds
=====================================  ===================  =============================================
``study.json``                         study run            each cell's attempts, last error, process or
                                                            job; the study's name, file, cell count and
                                                            evaluation plan (`dvae_cli.study.state`)
``<cell>/``                            study run            the cell's run folder (`dvae_cli.runs.layout`)
``<cell>/udr_codes.npz``               study run            the codes UDR compares (`UDR_CODES`)
``.study/logs/<cell>.log``             study run (local)    the output of each attempt of a cell
``.study/failed/<cell>.<time>/``       study run            a failed attempt's run folder, set aside
``.study/submitit/<job>/``             study run (slurm)    submitit's scripts, logs and results
``report/report.md``                   study report         the tables and figures, as Markdown
``report/summary.csv``                 study report         every score by setting: mean, median, std, n
``report/cells.csv``                   study report         every finished cell's own scores
``report/udr_selection.csv``           study report         UDR's model selection per supervised score
``report/box_<score>.png``             study report         a score over seeds, one box per setting
``report/rank_correlation.png``        study report         Spearman's rho between the scores
``report/tradeoff_<score>.png``        study report         a score against the reconstruction loss
``report/udr_selection.png``           study report         the supervised scores against UDR
=====================================  ===================  =============================================

``<score>`` is a score's name with anything but letters, digits, ``-``, ``_`` and ``.``
replaced by ``_`` (`score_file_part`). ``.study/`` is never shown by the readers.
"""

from __future__ import annotations

from pathlib import Path

from dvae_cli.runs.layout import UDR_CODES

__all__ = ["BOX_PREFIX", "CELLS_CSV", "FAILED_DIR", "LOGS_DIR", "LOG_SUFFIX", "RANK_CORRELATION_PNG", "REPORT_DIR",
           "REPORT_MD", "STUDY_RECORD", "SUBMITIT_DIR", "SUBMITIT_JOB", "SUMMARY_CSV", "TRADEOFF_PREFIX", "UDR_CODES",
           "UDR_SELECTION_CSV", "UDR_SELECTION_PNG", "WORK_DIR", "box_plot_name", "cell_log_path",
           "failed_attempt_name", "failed_dir", "report_dir", "score_file_part", "study_record_path", "submitit_dir",
           "tradeoff_plot_name", "work_dir"]

#: The study's record: its cells' attempts, errors, processes and jobs, and its evaluation plan.
STUDY_RECORD = "study.json"
#: Where the study keeps its logs and scheduler files (never shown by the readers).
WORK_DIR = ".study"
#: Under `WORK_DIR`: ``<cell>.log``, the output of each attempt of a cell (local executor).
LOGS_DIR = "logs"
#: The suffix of a cell's log in `LOGS_DIR`.
LOG_SUFFIX = ".log"
#: Under `WORK_DIR`: the run folders of failed attempts, set aside before the retry (kept, never deleted).
FAILED_DIR = "failed"
#: Under `WORK_DIR`: submitit's folder (``%j``: one per job) of the Slurm executor.
SUBMITIT_DIR = "submitit"
#: Under `SUBMITIT_DIR`: one folder per job, named by its id (submitit's placeholder).
SUBMITIT_JOB = "%j"

#: ``dvae study report``'s folder.
REPORT_DIR = "report"
#: The report as Markdown: the tables, the notes and the figures.
REPORT_MD = "report.md"
#: Every score by setting over seeds (mean, median, std, n); what ``dvae browse`` shows of the report.
SUMMARY_CSV = "summary.csv"
#: Every finished cell's own scores.
CELLS_CSV = "cells.csv"
#: UDR's model selection: Spearman's rho and top-k agreement per supervised score.
UDR_SELECTION_CSV = "udr_selection.csv"
#: The prefix of the box plots of a score over seeds (`box_plot_name`).
BOX_PREFIX = "box_"
#: The prefix of the plots of a score against the reconstruction loss (`tradeoff_plot_name`).
TRADEOFF_PREFIX = "tradeoff_"
#: Spearman's rank correlation between the scores.
RANK_CORRELATION_PNG = "rank_correlation.png"
#: The supervised scores against UDR.
UDR_SELECTION_PNG = "udr_selection.png"


def score_file_part(score: str) -> str:
    """`score` as part of a file name: anything but letters, digits, ``-``, ``_`` and ``.`` becomes ``_``."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in score)


def box_plot_name(score: str) -> str:
    """``box_<score>.png``: `score` over seeds, one box per setting."""
    return f"{BOX_PREFIX}{score_file_part(score)}.png"


def tradeoff_plot_name(score: str) -> str:
    """``tradeoff_<score>.png``: `score` against the reconstruction loss."""
    return f"{TRADEOFF_PREFIX}{score_file_part(score)}.png"


def study_record_path(study: Path) -> Path:
    """``<study>/study.json``."""
    return Path(study) / STUDY_RECORD


def work_dir(study: Path) -> Path:
    """``<study>/.study/``."""
    return Path(study) / WORK_DIR


def cell_log_path(study: Path, cell: str) -> Path:
    """``<study>/.study/logs/<cell>.log``: where the output of `cell`'s processes goes."""
    return work_dir(study) / LOGS_DIR / f"{cell}{LOG_SUFFIX}"


def failed_dir(study: Path) -> Path:
    """``<study>/.study/failed/``: the failed attempts' run folders."""
    return work_dir(study) / FAILED_DIR


def failed_attempt_name(cell: str, stamp: str) -> str:
    """``<cell>.<stamp>``: the name under `failed_dir` of `cell`'s attempt set aside at `stamp` (a time)."""
    return f"{cell}.{stamp}"


def submitit_dir(study: Path) -> Path:
    """``<study>/.study/submitit/``: submitit's folder."""
    return work_dir(study) / SUBMITIT_DIR


def report_dir(study: Path) -> Path:
    """``<study>/report/``."""
    return Path(study) / REPORT_DIR
