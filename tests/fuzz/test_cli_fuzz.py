"""Property-based fuzzing of the two inputs a user controls: the spec and the batch.

(a) Specs: the demo's spec mutated — values of the wrong type, fields dropped,
unknown keys, huge numbers, NaN, unicode, nesting — and raw text or bytes, through
the loader the command uses and through ``alignment-drift spec``: always a valid
spec or a clean error (exit 2, valid JSON on stdout), never another exception,
never a changed file.

(b) Batches: a valid night mutated — columns dropped, renamed or retyped
(strings, categories, booleans, floats, mixed objects), nulls, NaN and
infinities, unicode, empty, duplicated rows — written as parquet or CSV and
run through the DAG's ``pull`` and ``validate`` steps: accepted, or quarantined
with a reason, never an unhandled exception, never a changed input byte.

The default run is small and deterministic (``derandomize=True``); the ``slow``
run tries many more examples.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from alignment_drift.cli import main
from alignment_drift.cli.common import UsageError, read_spec
from tests.pipeline.conftest import END, NOW, ROOT, START, content_spec, valid_log  # noqa: F401  (shared fixtures)

BASE_SPEC: dict[str, Any] = yaml.safe_load((ROOT / "specs" / "content_safety.yaml").read_text())
FAST = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
THOROUGH = settings(FAST, max_examples=200)
BATCH_FAST = settings(FAST, max_examples=12)
BATCH_THOROUGH = settings(FAST, max_examples=60)


# --- (a) specs -------------------------------------------------------------------------------------------------


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


PATHS = _paths(BASE_SPEC)


def _walk(node: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


MAPPINGS = [()] + [p for p in PATHS if isinstance(_walk(BASE_SPEC, p), dict)]

ODD_TEXT = st.sampled_from(
    ["", " ", "{date}", "../../etc/{date}/passwd", "-1", "1e309", "NaN", "null", "~", "yes", "\u202e", "💥", "é" * 300]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    ODD_TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
MUTATIONS = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(PATHS), VALUES),
    st.tuples(st.just("drop"), st.sampled_from(PATHS), st.none()),
    st.tuples(st.just("add"), st.sampled_from(MAPPINGS), st.tuples(st.text(min_size=1, max_size=12), VALUES)),
)


def _mutate(document: dict[str, Any], mutations: list[tuple[str, tuple[Any, ...], Any]]) -> dict[str, Any]:
    document = copy.deepcopy(document)
    for op, path, value in mutations:
        try:
            parent = _walk(document, path[:-1]) if op != "add" else _walk(document, path)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced that part
        if op == "add":
            if isinstance(parent, dict):
                parent[value[0]] = value[1]
        elif op == "set":
            if isinstance(parent, dict | list):
                try:
                    parent[path[-1]] = value
                except (IndexError, TypeError):
                    continue
        elif isinstance(parent, dict):
            parent.pop(path[-1], None)
        elif isinstance(parent, list) and isinstance(path[-1], int) and path[-1] < len(parent):
            del parent[path[-1]]
    return document


def _spec_file(content: bytes) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-spec-"))
    path = folder / "content_safety.yaml"
    path.write_bytes(content)
    return path


def _check_spec(content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    """The property: a valid spec or a UsageError from the loader; exit 0 or 2 and JSON from the command."""
    path = _spec_file(content)
    try:
        read_spec(path)
        valid = True
    except UsageError as error:
        valid = False
        assert str(error).strip()
    event("valid" if valid else "refused")
    capsys.readouterr()
    code = main(["spec", str(path), "--format", "json"])
    captured = capsys.readouterr()
    assert code == (0 if valid else 2), captured.err
    assert json.loads(captured.out)["specs"][0]["valid"] is valid
    assert "Traceback" not in captured.err
    assert path.read_bytes() == content


def _dump(document: Any) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode("utf-8")


RAW = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8")),
    st.sampled_from(
        [
            "model: content_safety\nx: &a [1]\ny: *a\n",
            "model: !!python/object/apply:os.system ['true']\n",
            "model: content_safety\nmodel: other\n",
            "- a\n- b\n",
            "42\n",
            "model: [\n",
            "\ufeffmodel: content_safety\n",
        ]
    ).map(lambda t: t.encode("utf-8")),
    st.sampled_from(["utf-16", "latin-1", "utf-32"]).map(lambda enc: "model: café\n".encode(enc)),
)


SPEC_MUTATIONS = st.lists(MUTATIONS, min_size=1, max_size=4)


@FAST
@given(mutations=SPEC_MUTATIONS)
def test_mutated_specs_are_valid_or_a_clean_error(mutations: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _check_spec(_dump(_mutate(BASE_SPEC, mutations)), capsys)


@FAST
@given(content=RAW)
def test_raw_spec_bytes_are_valid_or_a_clean_error(content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    _check_spec(content, capsys)


@pytest.mark.slow
@THOROUGH
@given(mutations=SPEC_MUTATIONS)
def test_many_mutated_specs(mutations: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _check_spec(_dump(_mutate(BASE_SPEC, mutations)), capsys)


@pytest.mark.slow
@THOROUGH
@given(content=RAW)
def test_many_raw_spec_bytes(content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    _check_spec(content, capsys)


# --- (b) batches -----------------------------------------------------------------------------------------------

ODD_VALUES = st.sampled_from(
    [None, math.nan, math.inf, -math.inf, 1e308, -0.0, 2**63 - 1, "", " ", "💥", "\x00", "é" * 200, "1' OR '1'='1"]
)
COLUMN_OPS = st.sampled_from(["drop", "nulls", "odd", "str", "category", "object", "bool", "float32", "rename"])
BATCH_OPS = st.one_of(
    st.tuples(st.just("column"), COLUMN_OPS, st.integers(0, 50), ODD_VALUES, st.text(min_size=1, max_size=10)),
    st.tuples(st.just("rows"), st.sampled_from(["empty", "head", "twice"]), st.integers(0, 40), st.none(), st.none()),
)


def _apply(frame: pd.DataFrame, ops: list[tuple[Any, ...]]) -> pd.DataFrame:
    frame = frame.copy()
    for kind, op, index, value, name in ops:
        if kind == "rows":
            frame = frame.head(0) if op == "empty" else frame.head(index) if op == "head" else pd.concat([frame, frame])
            continue
        if frame.columns.empty:
            continue
        column = frame.columns[index % len(frame.columns)]
        if op == "drop":
            frame = frame.drop(columns=[column])
        elif op == "rename":
            frame = frame.rename(columns={column: name})
        elif op in ("nulls", "odd"):
            frame[column] = frame[column].astype(object)
            frame.loc[frame.index[:: 1 + index % 3], column] = None if op == "nulls" else value
        elif op == "str":
            frame[column] = frame[column].astype(str)
        elif op == "category":
            frame[column] = frame[column].astype("category")
        elif op == "object":
            frame[column] = frame[column].astype(object)
        elif op == "bool":
            frame[column] = frame[column].notna() & frame[column].astype(bool)
        elif op == "float32":
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float32")
    return frame.reset_index(drop=True)


def _write(frame: pd.DataFrame, folder: Path, fmt: str) -> Path | None:
    path = folder / "content_safety" / "predictions" / f"{START:%Y-%m-%d}.{fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
    except Exception:  # a frame the writer itself refuses (mixed objects) is no batch a user can have
        return None
    return path


def _check_batch(spec: Any, log: pd.DataFrame, ops: list[tuple[Any, ...]], fmt: str) -> None:
    """The property: ``pull`` + ``validate`` accept the batch or quarantine it with a reason; its bytes stay."""
    from alignment_drift.core.spec import FilesSource
    from alignment_drift.pipeline.steps.pull import pull
    from alignment_drift.pipeline.steps.validate import validate
    from alignment_drift.settings import Settings

    with tempfile.TemporaryDirectory(prefix="fuzz-batch-") as tmp:
        data = Path(tmp) / "data"
        path = _write(_apply(log.head(40), ops), data, fmt)
        if path is None:
            event("the writer refused the frame")
            return
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        template = f"content_safety/predictions/{{date}}.{fmt}"
        run_spec = spec.model_copy(update={"source": FilesSource(path=template, format=fmt)})
        base = Settings.from_env(ROOT)
        run_settings = dataclasses.replace(base, data_dir=data, quarantine_dir=data / "quarantine")
        pulled = pull(run_spec, run_settings, start=START, end=END)
        out = validate(run_spec, run_settings, pulled, now=NOW).to_xcom()
        assert out["status"] in ("valid", "quarantined")
        event(f"{fmt}: {out['status']}")
        if out["status"] == "quarantined":
            assert out["reason"], out
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before


BATCHES = {"ops": st.lists(BATCH_OPS, min_size=1, max_size=4), "fmt": st.sampled_from(["parquet", "csv"])}


@BATCH_FAST
@given(**BATCHES)
def test_mutated_batches_are_accepted_or_quarantined(
    content_spec: Any,  # noqa: F811
    valid_log: pd.DataFrame,  # noqa: F811
    ops: list[tuple[Any, ...]],
    fmt: str,
) -> None:
    _check_batch(content_spec, valid_log, ops, fmt)


@pytest.mark.slow
@BATCH_THOROUGH
@given(**BATCHES)
def test_many_mutated_batches(
    content_spec: Any,  # noqa: F811
    valid_log: pd.DataFrame,  # noqa: F811
    ops: list[tuple[Any, ...]],
    fmt: str,
) -> None:
    _check_batch(content_spec, valid_log, ops, fmt)
