"""Every file reader fed random bytes, random text and well-formed files of the wrong shape (issue #8).

A reader may return, or raise a `DvaeError` whose message is one line and names the
file; any other exception fails. Readers of whole run folders (`summarize_run` and
the browser's) must never raise at all. Each example writes into a fresh folder and
calls the real reader.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import json
import math
import socket
import struct
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from dvae_cli.config import RunSpec, load_catalogue, spec_fields
from dvae_cli.errors import DvaeError

#: No shrinking: the inputs are small, and a failing reader is reported at once with the input that broke it.
FUZZ = settings(max_examples=40, deadline=None, database=None,
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
FEW = settings(FUZZ, max_examples=15)   # readers that start DataLoader worker processes


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing dataset file must fail at once, never download."""
    monkeypatch.setenv("DVAE_OFFLINE", "1")


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A fresh empty folder for one example."""
    with tempfile.TemporaryDirectory(prefix="dvae-fuzz-") as name:
        yield Path(name)


def answers_clearly(read: Callable[[], Any], *named: Path | str) -> Any:
    """`read()`'s result, or its `DvaeError` if that is one line and mentions one of `named`."""
    try:
        return read()
    except DvaeError as exc:
        message = str(exc)
        assert message.strip() and "\n" not in message and "\r" not in message, repr(message)
        if named:
            assert any(str(name) in message for name in named), f"{message!r} names none of {named}"
        return exc


# ------------------------------------------------------------------ strategies

HUGE_INTS = st.integers(min_value=10**300, max_value=10**400) | st.integers(min_value=-(10**400), max_value=-(10**300))
SCALARS = st.none() | st.booleans() | st.integers() | HUGE_INTS | st.floats() | st.text(max_size=12)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
TEXT = st.text(max_size=300).map(str.encode)
#: Inputs that broke readers once: deep nesting, integers past str->int limits, not UTF-8.
JSON_TRAPS = (b"[" * 50_000, b"1" * 5000, b'{"a": ' + b"9" * 400 + b"}", b"\xff\xfe{}", b"", b"nan")


def json_file(plausible: st.SearchStrategy[Any] = JSON) -> st.SearchStrategy[bytes]:
    """Random bytes, random text, random JSON or a plausible structure, as file content."""
    as_json = st.one_of(JSON, plausible).map(lambda value: json.dumps(value).encode())
    return st.one_of(st.binary(max_size=300), TEXT, as_json)


def with_traps(test: Callable[..., None]) -> Callable[..., None]:
    """Also run `test` on each of `JSON_TRAPS`."""
    for trap in JSON_TRAPS:
        test = example(trap)(test)
    return test


def mutated(valid: bytes) -> st.SearchStrategy[bytes]:
    """`valid` with a few bytes overwritten, or cut short."""
    def corrupt(edits: list[tuple[int, int]], cut: int | None) -> bytes:
        data = bytearray(valid)
        for position, value in edits:
            data[position % len(data)] = value
        return bytes(data[:cut] if cut is not None else data)
    return st.builds(corrupt, st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)),
                                       min_size=1, max_size=8),
                     st.none() | st.integers(0, len(valid)))


SPEC_KEYS = [*spec_fields(), "name", "img_size", "n_train", "n_test", "dvae_version", "model", "extra"]
SPECS_JSON = st.fixed_dictionaries({}, optional={key: JSON for key in SPEC_KEYS}) | st.fixed_dictionaries(
    {"img_size": st.lists(st.integers(-2, 70) | JSON, max_size=4)}, optional={"latent_dim": st.integers(-3, 20)})


# ------------------------------------------------------------------ run folders

def make_run(root: Path) -> Path:
    """A valid, finished-looking run folder (no model.pt) under `root`/results."""
    from dvae_cli.runs.logs import write_test_log, write_train_log

    run = root / "results" / "run"
    run.mkdir(parents=True)
    spec = RunSpec(name="run", img_size=[1, 32, 32], latent_dim=3, epochs=2, dvae_version="0")
    (run / "specs.json").write_text(json.dumps(spec.to_dict()))
    write_train_log(run / "train_losses.log", {"loss": [(0, 2.0), (1, 1.0)], "kl_loss_0": [(0, 0.5), (1, 0.4)]})
    write_test_log(run / "test_losses.log", {"loss": 1.5})
    (run / "metrics.log").write_text(json.dumps({"mig": 0.1, "protocols": {}, "dataset": "sprites"}))
    (run / "metrics_detail.json").write_text(json.dumps(
        {"mig": {"mutual_information": [[0.1, 0.2]], "factors": ["shape"], "mig_per_factor": {"shape": 0.1}},
         "latent_names": ["z0", "z1"]}))
    return run


def read_whole_folder(run: Path) -> None:
    """The readers of a whole run folder never raise, and say why a run is broken in one line."""
    from dvae_cli.runs.summary import scan_runs, summarize_run
    from dvae_cli.runs.watch import RunWatcher, quick_summary
    from dvae_cli.tui.data.details import load_details

    summaries = [summarize_run(run), quick_summary(run), *scan_runs(run.parent)]
    details = load_details(run)
    summaries.append(details.summary)
    for summary in summaries:
        assert "\n" not in summary.reason, summary.reason
        assert summary.status in ("finished", "training", "interrupted", "broken")
    changes = RunWatcher(run.parent).poll_all()
    assert all("cannot read the folder" not in summary.reason for summary in changes.changed), changes


@FUZZ
@given(json_file(SPECS_JSON))
@with_traps
@example(b'{"loss": "a\\nb", "dataset": "c\\rd"}')          # names that would break the line
def test_specs_json(content: bytes) -> None:
    from dvae_cli.runs.folder import RunFolder
    from dvae_cli.runs.resume import resumed_spec

    with workdir() as root:
        run = make_run(root)
        (run / "specs.json").write_bytes(content)
        spec = answers_clearly(RunFolder(run).read_spec, run / "specs.json")
        if isinstance(spec, RunSpec):
            assert spec.img_size is None or len(spec.img_size) == 3
        answers_clearly(lambda: RunFolder(run).read_spec(validate=True), run / "specs.json")
        answers_clearly(lambda: resumed_spec(RunFolder(run), {}), run / "specs.json", "--", "'")
        read_whole_folder(run)


ROW_CHARS = "0123456789,.-+eEinfaNkl_oss \t\"\r\x00\n"
CSV_ROWS = st.lists(st.tuples(st.integers() | HUGE_INTS | st.text(ROW_CHARS, max_size=4), st.text(max_size=8),
                              st.floats() | st.text(ROW_CHARS, max_size=6)), max_size=6)


def csv_text(rows: list[tuple[Any, str, Any]], cut: int) -> bytes:
    text = "Epoch,Loss,Value\n" + "".join(f"{e},{term},{value}\n" for e, term, value in rows)
    return text[:len(text) - cut].encode()


@FUZZ
@given(st.one_of(st.binary(max_size=300), TEXT, st.builds(csv_text, CSV_ROWS, st.integers(0, 3)),
                 st.text(ROW_CHARS, max_size=200).map(lambda rows: f"Epoch,Loss,Value\n{rows}".encode())))
@example(b"Epoch,Loss,Value\n0,loss," + b"1" * 140_000 + b"\n")         # a field past csv's limit
@example(b"Epoch,Loss,Value\n" + b"1" * 5000 + b",loss,1\n")
@example(b"Epoch,Loss,Value\n0,loss,\xff\n")
def test_train_log(content: bytes) -> None:
    from dvae_cli.runs.folder import RunFolder
    from dvae_cli.runs.logs import read_train_log
    from dvae_cli.runs.watch import read_last_epoch

    with workdir() as root:
        run = make_run(root)
        path = run / "train_losses.log"
        path.write_bytes(content)
        for read in (lambda: read_train_log(path), lambda: read_last_epoch(path), RunFolder(run).train_losses):
            history = answers_clearly(read, path)
            if isinstance(history, dict):
                assert all(isinstance(e, int) and isinstance(v, float) for points in history.values()
                           for e, v in points)
        read_whole_folder(run)


@FUZZ
@given(json_file(st.dictionaries(st.text(max_size=8), JSON, max_size=4)))
@with_traps
def test_test_log(content: bytes) -> None:
    from dvae_cli.runs.folder import RunFolder
    from dvae_cli.runs.logs import read_test_log

    with workdir() as root:
        run = make_run(root)
        path = run / "test_losses.log"
        path.write_bytes(content)
        for read in (lambda: read_test_log(path), RunFolder(run).test_losses):
            losses = answers_clearly(read, path)
            if isinstance(losses, dict):
                assert all(isinstance(v, float) for v in losses.values())
        read_whole_folder(run)


MIG_DETAIL = st.fixed_dictionaries({}, optional={
    "mig": st.fixed_dictionaries({}, optional={"mutual_information": st.lists(st.lists(JSON | st.floats()), max_size=3),
                                               "factors": JSON, "mig_per_factor": JSON}) | JSON,
    "mig_discrete": JSON, "latent_names": JSON, "protocols": JSON, "dataset": JSON, "mig_score": JSON})


@FUZZ
@given(json_file(MIG_DETAIL))
@with_traps
@example(b'{"mig": {"mutual_information": [[1]], "factors": 3}, "latent_names": 5}')
def test_metrics_files(content: bytes) -> None:
    from dvae_cli.runs.summary import read_metrics, read_metrics_detail
    from dvae_cli.tui.data.details import mutual_info

    with workdir() as root:
        run = make_run(root)
        for path in (run / "metrics.log", run / "metrics_detail.json"):
            path.write_bytes(content)
            metrics = answers_clearly(functools.partial(read_metrics, path), path)
            if isinstance(metrics, dict):
                assert all(isinstance(v, float) for v in metrics.values())
            detail = read_metrics_detail(path)
            assert detail is None or isinstance(detail, dict)
            mutual_info(detail)
        read_whole_folder(run)


@FEW
@given(json_file(MIG_DETAIL))
@example(b'{"mig": {"mutual_information": [[1, 2], [3]]}}')
@example(b'{"mig": {"mutual_information": [0.5], "mig_per_factor": 1}}')
@example(b'{"mig": {"mutual_information": [[0.1, 0.2], [0.3, 0]], "factors": ["a", "b"], "mig_per_factor": '
         b'{"a": 0.1}}, "latent_names": ["z0", "z1"]}')
def test_mutual_info_plot(content: bytes) -> None:
    from dvae_cli.viz.plots import make_plots

    with workdir() as root:
        run = make_run(root)
        (run / "metrics_detail.json").write_bytes(content)
        written = answers_clearly(lambda: make_plots(run, ["mutual-info"]), "metrics_detail.json")
        if isinstance(written, list):
            assert [p.name for p in written] == ["mutual_info.png"] and written[0].stat().st_size > 0


LOCKS = st.fixed_dictionaries({}, optional={
    "pid": JSON | st.integers(-(2**70), 2**70) | st.sampled_from([0, -1, 2**31, 2**63, 1e300]),
    "host": JSON | st.just(socket.gethostname()), "time": JSON})


@FUZZ
@given(json_file(LOCKS))
@with_traps
@example(json.dumps({"pid": 2**64, "host": socket.gethostname()}).encode())
@example(json.dumps({"pid": float("inf"), "host": socket.gethostname()}).encode())
@example(json.dumps({"pid": float("nan"), "host": socket.gethostname()}).encode())
def test_training_lock(content: bytes) -> None:
    from dvae_cli.runs.resume import resumable_folder
    from dvae_cli.runs.layout import TRAINING_LOCK as LOCK_FILE
    from dvae_cli.runs.training_lock import lock_alive

    with workdir() as root:
        run = make_run(root)
        lock = run / LOCK_FILE
        lock.write_bytes(content)
        assert lock_alive(lock) in (True, False)
        answers_clearly(lambda: resumable_folder(run.parent, run.name), lock)
        read_whole_folder(run)


@FUZZ
@given(st.text(max_size=40) | st.text(min_size=250, max_size=400) | st.sampled_from(["", ".", "..", "/", "run/.."]))
@example("a" * 300)                     # longer than a file name may be
@example("a\nb")
def test_find_run(name: str) -> None:
    from dvae_cli.runs.folder import RunFolder

    with workdir() as root:
        run = make_run(root)
        answers_clearly(lambda: RunFolder.find(name, run.parent))


# ------------------------------------------------------------------ experiments.toml

def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def toml_key(key: str) -> str:
    return key if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key) else json.dumps(key)


TOML_SCALARS = st.booleans() | st.integers() | HUGE_INTS | st.floats() | st.text(max_size=10)
TOML_VALUES = st.recursive(TOML_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=2), max_leaves=6)
TOML_TABLE = st.dictionaries(st.sampled_from([*spec_fields(), "description"]) | st.text(max_size=8), TOML_VALUES,
                             max_size=4)
TOML_SECTIONS = st.sampled_from(["defaults", "datasets.mnist", "datasets.sprites", "datasets.nope", "losses.betaB",
                                 "losses.x", "experiments.a", "experiments.b c", "other"]) | st.text(max_size=8)


def toml_document(tables: list[tuple[str, dict[str, Any]]], top: dict[str, Any]) -> bytes:
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in top.items()]
    for section, table in tables:
        lines.append("[" + ".".join(toml_key(part) for part in section.split(".")) + "]")
        lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines).encode()


@FUZZ
@given(st.one_of(st.binary(max_size=300), TEXT, st.builds(
    toml_document, st.lists(st.tuples(TOML_SECTIONS, TOML_TABLE), max_size=4),
    st.dictionaries(st.sampled_from(["defaults", "datasets", "experiments", "x"]), TOML_VALUES, max_size=2))))
@example(b"[defaults]\nlr = " + b"1" * 400)
@example(b"[defaults]\nepochs = " + b"1" * 5000)
@example(b"a = " + b"[" * 5000)
@example(b'[experiments."a\\nb"]\nlr = 1.0')
@example(b'[defaults]\n"a\\nb" = 1')
def test_experiments_toml(content: bytes) -> None:
    with workdir() as root:
        path = root / "experiments.toml"
        path.write_bytes(content)
        answers_clearly(lambda: load_catalogue(path), path)


# ------------------------------------------------------------------ checkpoints

SPEC = RunSpec(img_size=[1, 32, 32], latent_dim=3)


def state_dict() -> dict[str, torch.Tensor]:
    from dvae_cli.engine.models import build_model

    torch.manual_seed(0)
    return build_model([1, 32, 32], 3).state_dict()


def saved(content: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(content, buffer)
    return buffer.getvalue()


TENSORS = st.builds(lambda shape, dtype: torch.zeros(shape, dtype=dtype), st.lists(st.integers(0, 3), max_size=3),
                    st.sampled_from([torch.float32, torch.int64, torch.bool, torch.float16, torch.complex64]))
TORCH_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6) | TENSORS,
                            lambda inner: st.lists(inner, max_size=3)
                            | st.dictionaries(st.text(max_size=12) | st.integers(), inner, max_size=4), max_leaves=8)


@st.composite
def wrong_state_dict(draw: st.DrawFn) -> dict[Any, Any]:
    """The model's state_dict with entries dropped, reshaped, retyped or added."""
    state: dict[Any, Any] = dict(state_dict())
    for key in draw(st.lists(st.sampled_from(sorted(state)), max_size=3, unique=True)):
        change = draw(st.sampled_from(["drop", "shape", "dtype", "value"]))
        if change == "drop":
            state.pop(key, None)
        elif change == "shape":
            state[key] = draw(TENSORS)
        elif change == "dtype":
            state[key] = state[key].to(draw(st.sampled_from([torch.int64, torch.bool, torch.float64])))
        else:
            state[key] = draw(TORCH_VALUES)
    state.update(draw(st.dictionaries(st.text(max_size=12) | st.integers(), TORCH_VALUES, max_size=2)))
    return state


CHECKPOINTS = st.fixed_dictionaries(
    {"format_version": st.sampled_from([1, 2]) | JSON, "model": wrong_state_dict() | TORCH_VALUES},
    optional={k: TORCH_VALUES for k in ("optimizer", "loss", "epoch", "step", "spec")})


@FUZZ
@given(st.one_of(st.binary(max_size=300), TEXT, mutated(saved(state_dict())),
                 st.one_of(TORCH_VALUES, wrong_state_dict(), CHECKPOINTS).map(saved)))
@example(b"")
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")   # a mutated header byte
@example(saved({0: torch.zeros(2), "encoder.conv1.weight": torch.zeros(1)}))    # keys that are not names
def test_torch_files(content: bytes) -> None:
    from dvae_cli.engine.checkpoint import load_checkpoint, load_model, model_state, read_torch_file

    with workdir() as root:
        path = root / "model.pt"
        path.write_bytes(content)
        loaded = answers_clearly(lambda: read_torch_file(path), path)
        if not isinstance(loaded, DvaeError):
            answers_clearly(lambda: model_state(loaded, path), path)
        answers_clearly(lambda: load_model(path, SPEC), path)
        answers_clearly(lambda: load_checkpoint(path), path)


@FUZZ
@given(st.lists(st.integers(-2, 70), max_size=4) | st.lists(JSON, max_size=3), st.integers(-3, 40),
       st.just("Burgess") | st.text(max_size=8))
@example([1, 32, 32], 3, "Burgess")
@example([{}, {}, "\nx"], 13, "Burgess")   # found by CI: a string height put its newline in the error
@example([1, 64.0, 64], 10, "Burgess")
def test_model_against_its_spec(img_size: Any, latent_dim: int, model_type: str) -> None:
    from dvae_cli.engine.checkpoint import load_model

    with workdir() as root:
        path = root / "model.pt"
        path.write_bytes(saved(state_dict()))
        spec = RunSpec(img_size=img_size, latent_dim=latent_dim, model_type=model_type)
        answers_clearly(lambda: load_model(path, spec), path, "specs.json")


# ------------------------------------------------------------------ datasets

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")


def idx(magic: int, dims: list[int], payload: bytes) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload


IDX_MAGICS = st.sampled_from([0x0801, 0x0803, 0x0A03, 0x0B01, 0x0D03, 0x0E02]) | st.integers(0, 2**32 - 1)
EXACT_IDX = st.tuples(st.sampled_from([0x0801, 0x0803]), st.lists(st.sampled_from([0, 1, 2, 28]), min_size=1,
                                                                    max_size=3)).flatmap(
    lambda md: st.binary(min_size=math.prod(md[1]), max_size=math.prod(md[1])).map(lambda p: idx(*md, p)))
IDX_FILES = st.one_of(st.binary(max_size=200), EXACT_IDX,
                      st.builds(idx, IDX_MAGICS, st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 30), max_size=4),
                                st.binary(max_size=100)))
GZIP = st.one_of(IDX_FILES.map(gzip.compress), st.binary(max_size=100).map(lambda b: b"\x1f\x8b\x08\x00" + b),
                 mutated(gzip.compress(idx(0x0803, [1, 28, 28], bytes(784)))))


@FUZZ
@given(st.lists(st.tuples(st.booleans(), IDX_FILES, GZIP), min_size=4, max_size=4))
def test_mnist_idx_files(files: list[tuple[bool, bytes, bytes]]) -> None:
    from dvae_cli.data.loading import load_dataset

    with workdir() as root:
        raw = root / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for name, (compressed, plain, packed) in zip(MNIST_FILES, files, strict=True):
            if compressed:
                (raw / f"{name}.gz").write_bytes(packed)
            else:
                (raw / name).write_bytes(plain)
        answers_clearly(lambda: load_dataset("mnist", root), raw)


NPY_DTYPES = st.sampled_from(["u1", "i8", "f4", "?", "U2", "c8"])


def npy(shape: list[int], dtype: str) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(shape, dtype=dtype))
    return buffer.getvalue()


NPY_FILES = st.one_of(st.binary(max_size=300), st.builds(npy, st.lists(st.sampled_from([0, 1, 2, 32]), max_size=5),
                                                         NPY_DTYPES),
                      st.binary(max_size=200).map(lambda b: b"\x93NUMPY\x01\x00" + struct.pack("<H", len(b)) + b),
                      mutated(npy([2, 1, 32, 32], "u1")))


@FUZZ
@given(NPY_FILES)
@example(b"\x93NUMPY\x01\x00" + struct.pack("<H", 10) + b"{'descr':1")
def test_cached_images(content: bytes) -> None:
    from dvae_cli.data.cache import cached_shape, open_images
    from dvae_cli.data.catalog import dataset_info
    from dvae_cli.data.loading import load_dataset

    with workdir() as root:
        path = root / dataset_info("mnist").prepared
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
        shape = cached_shape(path)
        assert shape is None or len(shape) == 4
        answers_clearly(lambda: open_images("mnist", path, (1, 32, 32)), path)
        answers_clearly(lambda: load_dataset("mnist", root), path, root / "MNIST")


def npz(arrays: dict[str, np.ndarray], compress: bool) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def dsprites_arrays(n: int, classes: np.ndarray | None = None) -> dict[str, np.ndarray]:
    from dvae_cli.data import sprites

    if classes is None:
        classes = sprites.index_to_classes(np.arange(0, sprites.N_IMAGES, sprites.N_IMAGES // n)[:n]).astype(np.int64)
    values = np.stack([sprites.factor_values()[k][np.clip(classes[:, k], 0, sprites.FACTOR_SIZES[k] - 1)]
                       for k in range(6)], axis=1)
    return {"imgs": np.ones((n, 64, 64), np.uint8), "latents_values": values, "latents_classes": classes}


ARRAYS = st.builds(lambda shape, dtype, fill: np.full(shape, fill).astype(dtype),
                   st.lists(st.sampled_from([0, 1, 2, 6, 64]), max_size=4), NPY_DTYPES,
                   st.sampled_from([0, 1, -1, 255, 256, 10**9, 10**15]))
DSPRITES_NPZ = st.one_of(
    st.binary(max_size=300),
    st.builds(npz, st.dictionaries(st.sampled_from(["imgs", "latents_values", "latents_classes", "metadata"])
                                   | st.text(max_size=5), ARRAYS, max_size=4), st.booleans()),
    st.builds(lambda n, fill, compress: npz(dsprites_arrays(n, np.full((n, 6), fill)), compress),
              st.integers(1, 3), st.sampled_from([0, 1, -1, 255, 256, 10**9, 10**15]), st.booleans()),
    mutated(npz(dsprites_arrays(2), True)))


@FUZZ
@given(DSPRITES_NPZ)
def test_dsprites_official_file(content: bytes) -> None:
    from dvae_cli.data.dsprites import FILENAME
    from dvae_cli.data.loading import load_dataset

    with workdir() as root:
        path = root / "dsprites" / FILENAME
        path.parent.mkdir()
        path.write_bytes(content)
        answers_clearly(lambda: load_dataset("dsprites", root), path)


@FUZZ
@given(NPY_FILES | DSPRITES_NPZ, st.sampled_from(["dsprites-packed.npy", "dsprites-factors.npz", "both"]))
def test_dsprites_prepared_files(content: bytes, which: str) -> None:
    from dvae_cli.data.dsprites import FILENAME
    from dvae_cli.data.loading import load_dataset

    with workdir() as root:
        folder = root / "dsprites"
        folder.mkdir()
        (folder / FILENAME).write_bytes(npz(dsprites_arrays(3), False))
        load_dataset("dsprites", root)       # prepares the two files, then one is damaged
        for name in ("dsprites-packed.npy", "dsprites-factors.npz"):
            if which in (name, "both"):
                (folder / name).write_bytes(content)
        assert len(load_dataset("dsprites", root)) == 3     # damaged prepared files are made again


@FUZZ
@given(NPY_FILES)
@example(b"")
def test_sprites_cache(content: bytes) -> None:
    from dvae_cli.data import sprites

    with workdir() as root:
        path = root / "sprites-v2.npy"
        path.write_bytes(content)
        packed = sprites.read_packed(path)    # load_packed regenerates (30 s) when this is None
        assert packed is None or packed.shape == (sprites.N_IMAGES, sprites.IMG * sprites.IMG // 8)


def image_file(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 30, 3), 120, np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


IMAGES = st.one_of(st.binary(max_size=300), mutated(image_file("PNG")), mutated(image_file("JPEG")),
                   mutated(image_file("GIF")))


def archive(kind: str, members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w") as zipped:
            for name, data in members.items():
                zipped.writestr(name, data)
    else:
        with tarfile.open(fileobj=buffer, mode="w") as tarred:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tarred.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


MEMBER_NAMES = st.sampled_from(["img_align_celeba/000001.jpg", "rendered_chairs/c/renders/a.png", "../up.png",
                                "/abs.png", "x"]) | st.text(min_size=1, max_size=12)


def archives(kind: str, good_member: str) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=300), st.builds(archive, st.just(kind), st.dictionaries(MEMBER_NAMES, IMAGES,
                                                                                                 max_size=3)),
                     mutated(archive(kind, {good_member: image_file("PNG")})))


@FEW
@given(st.lists(IMAGES, min_size=1, max_size=2) | archives("zip", "img_align_celeba/000001.jpg"))
def test_celeba_images(content: list[bytes] | bytes) -> None:
    from dvae_cli.data.loading import load_dataset

    with workdir() as root:
        folder = root / "celeba"
        if isinstance(content, bytes):
            folder.mkdir()
            (folder / "img_align_celeba.zip").write_bytes(content)
        else:
            (folder / "img_align_celeba").mkdir(parents=True)
            for k, image in enumerate(content):
                (folder / "img_align_celeba" / f"{k + 1:06d}.jpg").write_bytes(image)
        answers_clearly(lambda: load_dataset("celeba", root), folder)


@FEW
@given(st.lists(IMAGES, min_size=1, max_size=2) | archives("tar", "rendered_chairs/c/renders/a.png"))
def test_chairs_images(content: list[bytes] | bytes) -> None:
    from dvae_cli.data.loading import load_dataset

    with workdir() as root:
        folder = root / "chairs"
        if isinstance(content, bytes):
            folder.mkdir()
            (folder / "rendered_chairs.tar").write_bytes(content)
        else:
            renders = folder / "rendered_chairs" / "chair" / "renders"
            renders.mkdir(parents=True)
            for k, image in enumerate(content):
                (renders / f"image_{k:03d}.png").write_bytes(image)
        answers_clearly(lambda: load_dataset("chairs", root), folder)


# ------------------------------------------------------------------ figures

@FUZZ
@given(IMAGES, st.sampled_from(["posterior_traversals.gif", "samples.png"]))
def test_figure_readers(content: bytes, name: str) -> None:
    from dvae_cli.tui.data.figures import decode_figure
    from dvae_cli.viz.gif_grid import read_gif

    with workdir() as root:
        path = root / name
        path.write_bytes(content)
        frames = answers_clearly(lambda: read_gif(path), path)
        if isinstance(frames, list):
            assert all(frame.ndim == 3 and frame.shape[-1] == 3 for frame in frames)
        figure = decode_figure(path)
        assert figure.frames or figure.error
