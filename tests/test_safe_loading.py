"""A results folder from the internet cannot run code: every .pt is loaded with weights_only."""

from __future__ import annotations

import pickle
import shutil
import zipfile

import pytest

from conftest import run_dvae


class RunsCode:
    """Unpickling this calls ``open(marker, 'w')``: what a hostile model.pt would do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def hostile_torch_file(path, marker):
    """A file in torch's zip format whose data.pkl runs code when loaded without weights_only."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"encoder.conv1.weight": RunsCode(str(marker))},
                                                          protocol=2))
        archive.writestr("archive/version", "3\n")


@pytest.mark.parametrize("argv", [
    ["plot", "{run}", "traversals"],
    ["train", "run", "--resume", "--results-dir", "{results}"],
])
def test_a_hostile_pt_file_is_refused_without_running_its_code(tmp_path, disvae_results, argv):
    results = tmp_path / "results"
    shutil.copytree(disvae_results / "btcvae_dsprites", results / "run")
    marker = tmp_path / "pwned"
    hostile_torch_file(results / "run" / "model.pt", marker)
    hostile_torch_file(results / "run" / "training_state.pt", marker)
    args = [a.format(run=results / "run", results=results) for a in argv]
    result = run_dvae(*args, cwd=tmp_path, env={"DVAE_OFFLINE": "1", "DVAE_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 2, result.stderr
    assert not marker.exists(), "loading ran the file's code"
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert ".pt" in result.stderr and "Traceback" not in result.stderr
