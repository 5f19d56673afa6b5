"""The bad-input corpus: malformed nights through ``pull`` + ``validate``, each ending as documented.

Every case builds a batch (from a valid simulated night, then corrupted) where
the spec's source reads it, runs the two ingest steps the DAG runs, and checks
the documented outcome: ``quarantined`` with a clear reason, ``accepted``, or
``warning`` (accepted, with the warning surfaced). Never an unhandled
exception. For every quarantined case the quarantined bytes are compared with
the original, byte for byte and by sha256; a refused batch (it escapes the data
root) is quarantined without a single byte of it being read or copied.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.pipeline.conftest import END, NOW, ROWS, START, Workspace

Case = tuple[str, Callable[[Workspace], Any], str, str | tuple[str, ...]]


def _parquet(ws: Workspace, frame: pd.DataFrame) -> None:
    frame.to_parquet(ws.batch_path(), index=False)


def _mutated(change: Callable[[pd.DataFrame], pd.DataFrame | None]) -> Callable[[Workspace], Any]:
    """A case that writes the valid night as parquet after ``change`` (in place or returning a new frame)."""

    def build(ws: Workspace) -> Any:
        frame = ws.log
        changed = change(frame)
        _parquet(ws, frame if changed is None else changed)
        return ws.spec

    return build


def _raw(data: bytes | Callable[[Workspace], bytes], suffix: str = "parquet") -> Callable[[Workspace], Any]:
    def build(ws: Workspace) -> Any:
        ws.batch_path(suffix).write_bytes(data(ws) if callable(data) else data)
        return ws.spec if suffix == "parquet" else ws.csv_spec()

    return build


def _csv_text(ws: Workspace) -> str:
    return ws.log.to_csv(index=False)


def _set(column: str, value: Any, rows: slice | None = None, *, dtype: Any = None) -> Callable[[Workspace], Any]:
    """A case that sets ``column`` to ``value`` on ``rows`` (all rows by default)."""

    def change(frame: pd.DataFrame) -> None:
        if dtype is not None:
            frame[column] = frame[column].astype(dtype)
        frame.loc[frame.index[rows] if rows is not None else frame.index, column] = value

    return _mutated(change)


def _parquet_bytes(ws: Workspace) -> bytes:
    path = ws.tmp / "valid.parquet"
    ws.log.to_parquet(path, index=False)
    return path.read_bytes()


# ---- builders of the cases that need more than one mutation --------------------------------------------------


def _valid_csv(ws: Workspace) -> Any:
    ws.batch_path("csv").write_text(_csv_text(ws), encoding="utf-8")
    return ws.csv_spec()


def _csv_with(ws: Workspace, column: str, value: str) -> Any:
    frame = ws.log.astype({column: object})
    frame.loc[frame.index[5], column] = value
    ws.batch_path("csv").write_text(frame.to_csv(index=False), encoding="utf-8")
    return ws.csv_spec()


def _bom_csv(ws: Workspace) -> Any:
    ws.batch_path("csv").write_bytes(b"\xef\xbb\xbf" + _csv_text(ws).encode())
    return ws.csv_spec()


def _broken_quote(ws: Workspace) -> Any:
    lines = _csv_text(ws).splitlines()
    lines[50] = lines[50].replace(",", ',"', 1)  # a field opens a quote that never closes
    ws.batch_path("csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ws.csv_spec()


def _latin1(ws: Workspace) -> Any:
    frame = ws.log
    frame.loc[frame.index[:20], "region"] = "café"
    ws.batch_path("csv").write_bytes(frame.to_csv(index=False).encode("latin-1"))
    return ws.csv_spec()


def _header_only_csv(ws: Workspace) -> Any:
    ws.batch_path("csv").write_text(",".join(ws.log.columns) + "\n", encoding="utf-8")
    return ws.csv_spec()


def _huge(frame: pd.DataFrame) -> pd.DataFrame:
    big = frame.iloc[np.tile(np.arange(len(frame)), 100)].reset_index(drop=True)
    big["prediction_id"] = np.char.add("big-", np.arange(len(big)).astype(str)).astype(object)
    return big


def _symlink_outside(ws: Workspace) -> Any:
    outside = ws.tmp / "elsewhere" / "secret.parquet"
    outside.parent.mkdir()
    ws.log.to_parquet(outside, index=False)
    ws.batch_path().symlink_to(outside)
    return ws.spec


def _symlink_inside(ws: Workspace) -> Any:
    real = ws.data / "content_safety" / "archive" / "night.parquet"
    real.parent.mkdir(parents=True)
    ws.log.to_parquet(real, index=False)
    ws.batch_path().symlink_to(real)
    return ws.spec


def _symlinked_folder_outside(ws: Workspace) -> Any:
    outside = ws.tmp / "elsewhere"
    outside.mkdir()
    ws.log.to_parquet(outside / f"{START:%Y-%m-%d}.parquet", index=False)
    (ws.data / "content_safety").mkdir()
    (ws.data / "content_safety" / "predictions").symlink_to(outside, target_is_directory=True)
    return ws.spec


def _template_escape(ws: Workspace) -> Any:
    outside = ws.tmp / "outside" / f"{START:%Y-%m-%d}.parquet"
    outside.parent.mkdir()
    ws.log.to_parquet(outside, index=False)
    return ws.with_path("../outside/{date}.parquet")


def _partitions(ws: Workspace, corrupt: bool = False) -> Any:
    folder = ws.data / "content_safety" / "predictions" / f"{START:%Y-%m-%d}"
    for i, part in enumerate(np.array_split(np.arange(len(ws.log)), 3)):
        target = folder / f"hour={i:02d}" / "part-0000.parquet"
        target.parent.mkdir(parents=True)
        ws.log.iloc[part].to_parquet(target, index=False)
    (folder / "_SUCCESS").write_bytes(b"")
    if corrupt:
        (folder / "hour=01" / "part-0000.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    return ws.with_path("content_safety/predictions/{date}")


def _empty_folder(ws: Workspace) -> Any:
    (ws.data / "content_safety" / "predictions" / f"{START:%Y-%m-%d}").mkdir(parents=True)
    return ws.with_path("content_safety/predictions/{date}")


def _glob(ws: Workspace, *, matches: bool = True, escape: bool = False) -> Any:
    folder = ws.data / "content_safety" / "predictions" / f"{START:%Y-%m-%d}"
    folder.mkdir(parents=True)
    if matches:
        for i, part in enumerate(np.array_split(np.arange(len(ws.log)), 2)):
            ws.log.iloc[part].to_parquet(folder / f"part-{i}.parquet", index=False)
    if escape:
        outside = ws.tmp / "outside.parquet"
        ws.log.head(5).to_parquet(outside, index=False)
        (folder / "part-9.parquet").symlink_to(outside)
    return ws.with_path("content_safety/predictions/{date}/part-*.parquet")


def _duplicate_ids(frame: pd.DataFrame) -> None:
    frame.loc[frame.index[1:11], "prediction_id"] = frame["prediction_id"].iloc[0]


def _shift_time(rows: slice, delta: pd.Timedelta | None = None, to: pd.Timestamp | None = None) -> Callable:
    def change(frame: pd.DataFrame) -> None:
        idx = frame.index[rows]
        frame.loc[idx, "timestamp"] = to if to is not None else frame.loc[idx, "timestamp"] + delta

    return change


def _nan_storm(frame: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    for column in ("toxicity", "sensationalism", "report_rate", "author_reputation"):
        frame.loc[rng.random(len(frame)) < 0.5, column] = np.nan


def _report_rate_nulls(frame: pd.DataFrame) -> None:
    rate = frame["report_rate"].fillna(0.01)
    frame["report_rate"] = rate.where(np.arange(len(frame)) % 12 != 0)  # 8.25 % missing, 10 % tolerated


def _bulk(column: str, value: str, share: float) -> Callable[[Workspace], Any]:
    return _set(column, value, slice(0, int(ROWS * share)))


def _ten_mb_cell(frame: pd.DataFrame) -> None:
    frame.loc[frame.index[7], "category"] = "x" * (10 * 1024 * 1024)


def _engaged_not_shown(frame: pd.DataFrame) -> None:
    hidden = frame.index[frame["shown"] == 0][:5]
    frame.loc[hidden, "engaged"] = 1.0


# ---- what real writers produce: Arrow types, compressions, layouts ---------------------------------------------


def _arrow(
    *,
    strings: Any = None,
    only: tuple[str, ...] | None = None,
    stamp: Any = None,
    **write: Any,
) -> Callable[[Workspace], Any]:
    """A case that writes the valid night with pyarrow: string columns cast to ``strings`` (all, or ``only``),
    the timestamp cast to ``stamp``, and ``write`` passed to ``pyarrow.parquet.write_table``."""

    def build(ws: Workspace) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(ws.log, preserve_index=False)
        for i, field in enumerate(table.schema):
            column = table.column(i)
            text = pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
            if strings is not None and text and (only is None or field.name in only):
                column = column.cast(pa.string())  # as Spark and Arrow writers store text
                column = column.dictionary_encode() if strings == "dictionary" else column.cast(strings)
                assert column.type == (pa.dictionary(pa.int32(), pa.string()) if strings == "dictionary" else strings)
            if stamp is not None and field.name == "timestamp":
                column = column.cast(stamp, safe=False)
            table = table.set_column(i, field.name, column)
        pq.write_table(table.replace_schema_metadata(None), ws.batch_path(), **write)  # no pandas metadata
        return ws.spec

    return build


def _spark_folder(ws: Workspace) -> Any:
    """A Spark-style output folder: dictionary-encoded parts, ``_SUCCESS`` and ``.crc`` side files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = ws.data / "content_safety" / "predictions" / f"{START:%Y-%m-%d}"
    folder.mkdir(parents=True)
    for i, part in enumerate(np.array_split(np.arange(len(ws.log)), 4)):
        table = pa.Table.from_pandas(ws.log.iloc[part], preserve_index=False)
        # text columns come as large_string (pandas 3's str dtype) or string (pandas 2's object dtype)
        text = (pa.types.is_large_string, pa.types.is_string)
        cols = [c.cast(pa.string()).dictionary_encode() if any(t(c.type) for t in text) else c for c in table.columns]
        assert sum(pa.types.is_dictionary(c.type) for c in cols) == 5
        name = f"part-{i:05d}-c000.snappy.parquet"
        pq.write_table(pa.table(cols, names=table.column_names), folder / name)
        (folder / f".{name}.crc").write_bytes(b"crc\x00\x01")
    (folder / "_SUCCESS").write_bytes(b"")
    return ws.with_path("content_safety/predictions/{date}")


def _grouped(build: Callable[[Workspace], Any], rows: int) -> Callable[[Workspace], Any]:
    """``build``, validated group by group (a batch larger than ``rows`` rows per group)."""
    import dataclasses

    def wrapped(ws: Workspace) -> Any:
        ws.settings = dataclasses.replace(ws.settings, group_rows=rows)
        return build(ws)

    return wrapped


def _duplicate_column(ws: Workspace) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(ws.log, preserve_index=False)
    table = table.append_column("score", table.column("score"))  # two columns named 'score'
    pq.write_table(table, ws.batch_path())
    return ws.spec


def _nested(column: str, kind: str) -> Callable[[Workspace], Any]:
    def build(ws: Workspace) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(ws.log, preserve_index=False)
        values = table.column(column).to_pylist()
        nested = [[v, v] for v in values] if kind == "list" else [{"value": v, "source": "x"} for v in values]
        i = table.schema.get_field_index(column)
        table = table.set_column(i, column, pa.array(nested))
        pq.write_table(table, ws.batch_path())
        return ws.spec

    return build


def _as_arrow_type(column: str, arrow_type: Any) -> Callable[[Workspace], Any]:
    def build(ws: Workspace) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(ws.log, preserve_index=False)
        i = table.schema.get_field_index(column)
        table = table.set_column(i, column, table.column(column).cast(arrow_type(pa), safe=False))
        pq.write_table(table, ws.batch_path())
        return ws.spec

    return build


def pa_type(name: str, *args: Any, **kwargs: Any) -> Any:
    import pyarrow as pa

    return getattr(pa, name)(*args, **kwargs)


def _nulled(ws: Workspace, column: str) -> Workspace:
    ws.log.loc[ws.log.index[:2], column] = None
    return ws


def _zero_rows_dictionary(ws: Workspace) -> Any:
    return _arrow(strings="dictionary")(_emptied(ws))


def _emptied(ws: Workspace) -> Workspace:
    ws.log = ws.log.iloc[:0]
    return ws


# ---- CSV text as exports and spreadsheets write it ------------------------------------------------------------


def _csv_bytes(make: Callable[[str], bytes]) -> Callable[[Workspace], Any]:
    def build(ws: Workspace) -> Any:
        ws.batch_path("csv").write_bytes(make(_csv_text(ws)))
        return ws.csv_spec()

    return build


def _mixed_encodings(text: str) -> bytes:
    lines = text.splitlines(keepends=True)
    half = len(lines) // 2
    head = "".join(lines[:half]).replace("sports", "spórts").encode("utf-8")
    return head + "".join(lines[half:]).replace("sports", "spórts").encode("latin-1")


def _quoted_newline(text: str) -> bytes:
    lines = text.splitlines()
    lines[3] = lines[3].replace(",na,", ',"n\na, ""quoted"", with comma",', 1)
    return ("\n".join(lines) + "\n").encode()


def _csv_ids(ws: Workspace, ids: list[str]) -> Any:
    """CSV ids that a reader guessing types would turn into numbers (and collide): kept as text, all distinct."""
    ws.batch_path("csv").write_text(ws.log.assign(prediction_id=ids).to_csv(index=False), encoding="utf-8")
    return ws.csv_spec()


def _csv_duplicate_header(text: str) -> bytes:
    head, _, rest = text.partition("\n")
    return (head.replace("toxicity", "score", 1) + "\n" + rest).encode()


# ---- the source path of a spec: roots, '..', symlinks, things that are not files ------------------------------


def _absolute(rel_template: str, *, under: str = "data") -> Callable[[Workspace], Any]:
    """An absolute source path: ``rel_template`` below the data root (``data``) or the workspace (``tmp``)."""

    def build(ws: Workspace) -> Any:
        base = ws.data if under == "data" else ws.tmp
        target = base / rel_template.replace("{date}", f"{START:%Y-%m-%d}")
        target = Path(os.path.normpath(target))
        target.parent.mkdir(parents=True, exist_ok=True)
        ws.log.to_parquet(target, index=False)
        return ws.with_path(str(base / rel_template))

    return build


def _host_file(ws: Workspace) -> Any:
    return ws.with_path("/etc/{date}/../hostname")  # satisfies the {date} rule; would copy /etc/hostname


def _host_file_relative(ws: Workspace) -> Any:
    depth = len(ws.data.parts)
    return ws.with_path("../" * depth + "etc/{date}/../hostname")


def _source_root(ws: Workspace) -> Any:
    import dataclasses

    root = ws.tmp / "mnt" / "exports"
    (root / "content_safety").mkdir(parents=True)
    ws.log.to_parquet(root / "content_safety" / f"{START:%Y-%m-%d}.parquet", index=False)
    ws.settings = dataclasses.replace(ws.settings, source_roots=(root,))
    return ws.with_path(str(root / "content_safety" / "{date}.parquet"))


def _source_root_escape(ws: Workspace) -> Any:
    _source_root(ws)
    ws.log.to_parquet(ws.tmp / "mnt" / f"{START:%Y-%m-%d}.parquet", index=False)
    return ws.with_path(str(ws.tmp / "mnt" / "exports") + "/{date}/../../{date}.parquet")


def _static_root_symlink(ws: Workspace) -> Any:
    outside = ws.tmp / "elsewhere"
    outside.mkdir()
    ws.log.to_parquet(outside / f"{START:%Y-%m-%d}.parquet", index=False)
    (ws.data / "feeds").symlink_to(outside, target_is_directory=True)
    return ws.with_path(str(ws.data / "feeds" / "{date}.parquet"))


def _symlink_to(target: str) -> Callable[[Workspace], Any]:
    def build(ws: Workspace) -> Any:
        ws.batch_path().symlink_to(target)
        return ws.spec

    return build


def _fifo(ws: Workspace) -> Any:
    os.mkfifo(ws.batch_path())  # nobody writes to it: opening it to read would block forever
    return ws.spec


def _fifo_in(layout: str) -> Callable[[Workspace], Any]:
    def build(ws: Workspace) -> Any:
        spec = _partitions(ws) if layout == "folder" else _glob(ws)
        folder = ws.data / "content_safety" / "predictions" / f"{START:%Y-%m-%d}"
        os.mkfifo(folder / ("hour=03" if layout == "folder" else "part-7.parquet"))
        return spec

    return build


def _override(target: str | Callable[[Workspace], str]) -> Callable[[Workspace], Any]:
    """``check --batch TARGET``: a path given by a person instead of the spec's source."""

    def build(ws: Workspace) -> Any:
        path = target(ws) if callable(target) else target
        return ws.spec, {"batch": path}

    return build


def _fifo_path(ws: Workspace) -> str:
    os.mkfifo(ws.tmp / "candidate.parquet")
    return str(ws.tmp / "candidate.parquet")


def _own_manifest(ws: Workspace) -> Any:
    spec = _partitions(ws)
    folder = ws.data / "content_safety" / "predictions" / f"{START:%Y-%m-%d}"
    (folder / "manifest.json").write_text('{"writer": "exporter", "files": 3}')
    return spec


def _own_manifest_hidden(ws: Workspace) -> Any:
    spec = _partitions(ws)
    folder = ws.data / "content_safety" / "predictions" / f"{START:%Y-%m-%d}"
    (folder / "_manifest.json").write_text('{"writer": "exporter"}')
    return spec


def _disk_full(build: Callable[[Workspace], Any]) -> Callable[[Workspace], Any]:
    """``build``, with the quarantine disk full."""

    def wrapped(ws: Workspace) -> Any:
        spec = build(ws)
        _fill_quarantine_disk(ws)
        return spec

    return wrapped


def _fill_quarantine_disk(ws: Workspace) -> None:
    """Writes to files below the quarantine root fail with ENOSPC (``os.write``, the file layer); others work."""
    import errno

    real, quarantine = os.write, str(ws.settings.quarantine_dir)

    def write(fd: int, data: Any) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(quarantine):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    ws.monkeypatch.setattr(os, "write", write)


def _loose_umask(ws: Workspace) -> Any:
    """A world-writable batch, and a worker running with umask 0: the quarantine stays owner-only."""
    _mutated(_duplicate_ids)(ws)
    ws.batch_path().chmod(0o666)
    old = os.umask(0)
    ws.cleanups.append(lambda: os.umask(old))
    return ws.spec


# id, build, outcome (quarantined | accepted | warning), what the reason or the warning names
CASES: list[Case] = [
    ("valid-parquet", _mutated(lambda f: None), "accepted", ""),
    ("valid-csv", _valid_csv, "accepted", ""),
    ("csv-with-utf8-bom", _bom_csv, "accepted", ""),
    ("zero-byte-parquet", _raw(b""), "quarantined", "unreadable batch"),
    ("zero-byte-csv", _raw(b"", "csv"), "quarantined", "unreadable batch"),
    ("truncated-parquet", _raw(lambda ws: _parquet_bytes(ws)[:-200]), "quarantined", "unreadable batch"),
    ("corrupt-parquet-garbage", _raw(b"PAR1" + bytes(range(256)) * 40 + b"PAR1"), "quarantined", "unreadable batch"),
    ("parquet-bytes-declared-csv", _raw(_parquet_bytes, "csv"), "quarantined", "unreadable batch"),
    ("csv-broken-quote", _broken_quote, "quarantined", "unreadable batch"),
    ("csv-latin1-bytes-in-utf8", _latin1, "quarantined", "unreadable batch"),
    ("empty-table", _mutated(lambda f: f.iloc[:0]), "quarantined", "empty"),
    ("empty-csv-header-only", _header_only_csv, "quarantined", "empty"),
    ("missing-required-column", _mutated(lambda f: f.drop(columns="score")), "quarantined", "'score'"),
    ("missing-id-column", _mutated(lambda f: f.drop(columns="prediction_id")), "quarantined", "prediction_id"),
    ("missing-timestamp-column", _mutated(lambda f: f.drop(columns="timestamp")), "quarantined", "timestamp"),
    ("extra-columns", _mutated(lambda f: f.assign(debug=1, note="x")), "accepted", ""),
    ("renamed-column", _mutated(lambda f: f.rename(columns={"score": "model_score"})), "quarantined", "'score'"),
    ("strings-in-numeric", _mutated(lambda f: f.assign(toxicity=f["toxicity"].map(str))), "quarantined", "toxicity"),
    ("csv-text-in-numeric-column", lambda ws: _csv_with(ws, "toxicity", "high"), "quarantined", "toxicity"),
    ("integer-ids", _mutated(lambda f: f.assign(prediction_id=np.arange(len(f)))), "quarantined", "prediction_id"),
    ("fractional-text-length", _mutated(lambda f: f.assign(text_length=f["text_length"] + 0.5)), "quarantined",
     "text_length"),
    ("all-null-feature", _set("toxicity", np.nan), "quarantined", "toxicity"),
    ("all-null-target-label", _set("unsafe", np.nan), "accepted", ""),
    ("nan-storm", _mutated(_nan_storm), "quarantined", "toxicity"),
    ("report-rate-nulls-within-tolerance", _mutated(_report_rate_nulls), "accepted", ""),
    ("plus-inf-storm", _set("toxicity", np.inf, slice(0, 120)), "quarantined", "toxicity"),
    ("minus-inf-storm", _set("report_rate", -np.inf, slice(0, 120)), "quarantined", "report_rate"),
    ("null-scores", _set("score", np.nan, slice(0, 3)), "quarantined", "'score'"),
    ("duplicate-ids", _mutated(_duplicate_ids), "quarantined", "unique"),
    ("double-export", _mutated(lambda f: pd.concat([f, f], ignore_index=True)), "quarantined", "unique"),
    ("null-ids", _set("prediction_id", None, slice(0, 2)), "quarantined", "prediction_id"),
    ("timestamps-outside-interval", _mutated(_shift_time(slice(0, 80), pd.Timedelta(days=-1))), "quarantined",
     "inside the data interval"),
    ("few-timestamps-outside-interval", _mutated(_shift_time(slice(0, 2), pd.Timedelta(hours=-1))), "warning",
     "inside the data interval"),
    ("timestamps-in-future", _mutated(_shift_time(slice(0, 3), to=pd.Timestamp(NOW) + pd.Timedelta(days=1))),
     "quarantined", "later than now"),
    ("epoch-zero-timestamps", _mutated(_shift_time(slice(0, 5), to=pd.Timestamp(0, tz="UTC"))), "quarantined",
     "timestamp"),
    ("tz-naive-timestamps", _mutated(lambda f: f.assign(timestamp=f["timestamp"].dt.tz_localize(None))),
     "quarantined", "timestamp"),
    ("timestamps-as-text", _mutated(lambda f: f.assign(timestamp=f["timestamp"].astype(str))), "quarantined",
     "timestamp"),
    ("null-timestamps", _set("timestamp", pd.NaT, slice(0, 4)), "quarantined", "timestamp"),
    ("negative-scores", _set("score", -0.2, slice(0, 10)), "quarantined", "'score'"),
    ("scores-above-one", _set("score", 1.7, slice(0, 10)), "quarantined", "'score'"),
    ("prediction-outside-0-1", _set("prediction", 2, slice(0, 3)), "quarantined", "'prediction'"),
    ("exposure-outside-0-1", _set("shown", -1, slice(0, 3)), "quarantined", "'shown'"),
    ("unseen-categories-in-bulk", _bulk("category", "crypto", 0.4), "warning", "'category'"),
    ("unseen-categories-few", _bulk("category", "crypto", 0.01), "accepted", ""),
    ("new-region-rollout", _bulk("region", "mena", 0.3), "warning", "'region'"),
    ("unseen-source-type", _bulk("source_type", "bot", 0.1), "quarantined", "source_type"),
    ("engagement-when-not-shown", _mutated(_engaged_not_shown), "warning", "'engaged'"),
    ("ten-mb-string-cell", _mutated(_ten_mb_cell), "accepted", ""),
    ("unicode-column-name", _mutated(lambda f: f.assign(**{"ñandú_🚀_列": 1})), "accepted", ""),
    ("script-column-name", _mutated(lambda f: f.assign(**{"<script>alert(1)</script>": "x"})), "accepted", ""),
    ("script-values-in-bulk", _bulk("category", "<script>alert('x')</script>", 0.4), "warning",
     "<script>alert('x')</script>"),
    ("unicode-values-in-bulk", _bulk("category", "ニュース 📰", 0.4), "warning", "ニュース 📰"),
    ("huge-batch-100x", _mutated(_huge), "accepted", ""),
    ("single-row", _mutated(lambda f: f.head(1)), "accepted", ""),
    ("symlink-outside-root", _symlink_outside, "quarantined", "not followed"),
    ("symlink-inside-root", _symlink_inside, "accepted", ""),
    ("symlinked-folder-outside-root", _symlinked_folder_outside, "quarantined", "not followed"),
    ("path-template-escapes-root", _template_escape, "quarantined", "leaves its root"),
    ("missing-file", lambda ws: ws.spec, "quarantined", "no batch"),
    ("partitioned-folder", _partitions, "accepted", ""),
    ("partitioned-folder-one-corrupt-part", lambda ws: _partitions(ws, corrupt=True), "quarantined",
     "unreadable batch"),
    ("empty-partition-folder", _empty_folder, "quarantined", "batch"),
    ("glob-of-parts", _glob, "accepted", ""),
    ("glob-matching-nothing", lambda ws: _glob(ws, matches=False), "quarantined", "no batch"),
    ("glob-with-symlink-outside-root", lambda ws: _glob(ws, escape=True), "quarantined", "not followed"),
    # Arrow types real writers produce (issue 17, item 6): all accepted
    ("arrow-dictionary-ids", _arrow(strings="dictionary", only=("prediction_id",)), "accepted", ""),
    ("arrow-dictionary-model-version", _arrow(strings="dictionary", only=("model_version",)), "accepted", ""),
    ("arrow-dictionary-every-string", _arrow(strings="dictionary"), "accepted", ""),
    ("arrow-large-string-ids", _arrow(strings=pa_type("large_string"), only=("prediction_id",)), "accepted", ""),
    ("arrow-large-string-every-string", _arrow(strings=pa_type("large_string")), "accepted", ""),
    ("arrow-string-view-every-string", _arrow(strings=pa_type("string_view")), "accepted", ""),
    ("arrow-timestamp-s-utc", _arrow(stamp=pa_type("timestamp", "s", tz="UTC")), "accepted", ""),
    ("arrow-timestamp-ms-utc", _arrow(stamp=pa_type("timestamp", "ms", tz="UTC")), "accepted", ""),
    ("arrow-timestamp-us-utc", _arrow(stamp=pa_type("timestamp", "us", tz="UTC")), "accepted", ""),
    ("arrow-timestamp-ns-utc", _arrow(stamp=pa_type("timestamp", "ns", tz="UTC")), "accepted", ""),
    ("arrow-timestamp-ms-paris", _arrow(stamp=pa_type("timestamp", "ms", tz="Europe/Paris")), "accepted", ""),
    ("arrow-timestamp-ns-offset", _arrow(stamp=pa_type("timestamp", "ns", tz="+05:30")), "accepted", ""),
    ("arrow-timestamp-ms-naive", _arrow(stamp=pa_type("timestamp", "ms")), "quarantined", "timestamp"),
    ("arrow-timestamp-s-naive", _arrow(stamp=pa_type("timestamp", "s")), "quarantined", "timestamp"),
    ("arrow-dictionary-and-ms-timestamps", _arrow(strings="dictionary", stamp=pa_type("timestamp", "ms", tz="UTC")),
     "accepted", ""),
    ("spark-folder-dictionary-parts", _spark_folder, "accepted", ""),
    ("spark-folder-validated-by-groups", _grouped(_spark_folder, rows=150), "accepted", ""),
    ("arrow-dictionary-null-ids", lambda ws: _arrow(strings="dictionary")(_nulled(ws, "prediction_id")),
     "quarantined", "prediction_id"),
    ("arrow-dictionary-zero-rows", _zero_rows_dictionary, "quarantined", "empty"),
    ("arrow-float32-features", _as_arrow_type("toxicity", lambda pa: pa.float32()), "accepted", ""),
    ("arrow-float16-feature", _as_arrow_type("toxicity", lambda pa: pa.float16()), "quarantined", "toxicity"),
    ("arrow-decimal-score", _as_arrow_type("score", lambda pa: pa.decimal128(12, 6)), "quarantined", "'score'"),
    ("arrow-bool-score", _as_arrow_type("score", lambda pa: pa.bool_()), "quarantined", "'score'"),
    ("arrow-int32-text-length", _as_arrow_type("text_length", lambda pa: pa.int32()), "accepted", ""),
    ("arrow-date32-timestamp", _as_arrow_type("timestamp", lambda pa: pa.date32()), "quarantined", "timestamp"),
    ("arrow-epoch-int-timestamp", _as_arrow_type("timestamp", lambda pa: pa.int64()), "quarantined", "timestamp"),
    ("arrow-list-feature", _nested("toxicity", "list"), "quarantined", "toxicity"),
    # pandas 3 cannot read the struct as the str column the file's pandas metadata declares (unreadable);
    # pandas 2 reads dicts and the suite's type expectation names the column: quarantined either way
    ("arrow-struct-id", _nested("prediction_id", "struct"), "quarantined", ("unreadable batch", "'prediction_id'")),
    ("arrow-duplicate-column-names", _duplicate_column, "quarantined", "batch"),
    ("parquet-zstd", _arrow(compression="zstd"), "accepted", ""),
    ("parquet-gzip", _arrow(compression="gzip"), "accepted", ""),
    ("parquet-brotli", _arrow(compression="brotli"), "accepted", ""),
    ("parquet-uncompressed", _arrow(compression="none"), "accepted", ""),
    ("parquet-tiny-row-groups", _arrow(row_group_size=7), "accepted", ""),
    ("parquet-format-1.0-data-page-v2", _arrow(version="1.0", data_page_version="2.0"), "accepted", ""),
    ("parquet-with-pandas-index", _mutated(lambda f: f.set_index("prediction_id", drop=False).rename_axis("idx")),
     "accepted", ""),
    ("parquet-trailing-garbage", _raw(lambda ws: _parquet_bytes(ws) + b"\n<!-- proxy -->"), "quarantined",
     "unreadable batch"),
    ("html-error-page-as-parquet", _raw(b"<html><body>503 Service Unavailable</body></html>"), "quarantined",
     "unreadable batch"),
    ("csv-bytes-declared-parquet", _raw(lambda ws: _csv_text(ws).encode()), "quarantined", "unreadable batch"),
    # CSV as exports and spreadsheets write it
    ("csv-crlf", _csv_bytes(lambda t: t.replace("\n", "\r\n").encode()), "accepted", ""),
    ("csv-bom-and-crlf", _csv_bytes(lambda t: b"\xef\xbb\xbf" + t.replace("\n", "\r\n").encode()), "accepted", ""),
    ("csv-no-final-newline", _csv_bytes(lambda t: t.rstrip("\n").encode()), "accepted", ""),
    ("csv-trailing-blank-lines", _csv_bytes(lambda t: (t + "\n\n\n").encode()), "accepted", ""),
    ("csv-utf16-with-bom", _csv_bytes(lambda t: t.encode("utf-16")), "quarantined", "unreadable batch"),
    ("csv-mixed-utf8-and-latin1", _csv_bytes(_mixed_encodings), "quarantined", "unreadable batch"),
    ("csv-cp1252-smart-quotes", _csv_bytes(lambda t: t.replace("sports", "“sports”").encode("cp1252")),
     "quarantined", "unreadable batch"),
    ("csv-gzip-bytes", _csv_bytes(lambda t: __import__("gzip").compress(t.encode())), "quarantined",
     "unreadable batch"),
    ("csv-semicolon-delimited", _csv_bytes(lambda t: t.replace(",", ";").encode()), "quarantined",
     "'prediction_id'"),
    ("csv-quoted-newline-and-comma-in-a-value", _csv_bytes(_quoted_newline), "warning", "'region'"),
    ("csv-duplicate-header", _csv_bytes(_csv_duplicate_header), "quarantined", "toxicity"),
    ("csv-nan-and-inf-text-in-score", lambda ws: _csv_with(ws, "score", "inf"), "quarantined", "'score'"),
    # values
    ("nan-in-score", _set("score", np.nan, slice(0, 1)), "quarantined", "'score'"),
    ("inf-in-score", _set("score", np.inf, slice(0, 1)), "quarantined", "'score'"),
    ("minus-inf-in-score", _set("score", -np.inf, slice(0, 1)), "quarantined", "'score'"),
    ("64-kb-ids", _mutated(lambda f: f.assign(prediction_id=f["prediction_id"] + "x" * (1 << 16))), "accepted",
     ""),
    ("hundred-k-char-column-name", _mutated(lambda f: f.assign(**{"c" * 100_000: 1})), "accepted", ""),
    ("two-thousand-extra-columns", _mutated(lambda f: pd.concat([f, pd.DataFrame(
        np.zeros((len(f), 2000)), columns=[f"x{i}" for i in range(2000)])], axis=1)), "accepted", ""),
    ("ids-differing-only-by-whitespace", _mutated(lambda f: f.assign(
        prediction_id=["same" + " " * i for i in range(len(f))])), "accepted", ""),
    ("control-characters-in-bulk", _bulk("category", "news\x00\x1b[31m", 0.4), "warning", "'category'"),
    ("right-to-left-override-ids", _mutated(lambda f: f.assign(prediction_id="\u202e" + f["prediction_id"])),
     "accepted", ""),
    ("csv-numeric-looking-ids", lambda ws: _csv_ids(ws, [f"{i:07d}" for i in range(len(ws.log))]), "accepted", ""),
    ("csv-ids-with-leading-zeros-colliding", lambda ws: _csv_ids(ws, ["007", "7", "07.0", *map(str, range(
        100, 100 + len(ws.log) - 3))]), "accepted", ""),
    ("integer-model-version", _mutated(lambda f: f.assign(model_version=1)), "quarantined", "model_version"),
    ("shuffled-rows", _mutated(lambda f: f.sample(frac=1, random_state=3)), "accepted", ""),
    ("all-timestamps-identical", _mutated(lambda f: f.assign(timestamp=f["timestamp"].iloc[0])), "accepted", ""),
    # the spec's source path (issue 17, item 3): confined to the allowed roots, never a byte read outside
    ("absolute-path-to-etc-via-date-dotdot", _host_file, "quarantined", "allowed roots"),
    ("relative-path-to-etc-via-dotdot", _host_file_relative, "quarantined", "leaves its root"),
    ("absolute-path-outside-data-root", _absolute("outside/{date}.parquet", under="tmp"), "quarantined",
     "allowed roots"),
    ("absolute-path-inside-data-root", _absolute("content_safety/abs/{date}.parquet"), "accepted", ""),
    ("absolute-path-under-source-root", _source_root, "accepted", ""),
    ("absolute-path-dotdot-out-of-source-root", _source_root_escape, "quarantined", "leaves its root"),
    ("relative-dotdot-staying-inside", lambda ws: (_absolute("content_safety/predictions/{date}.parquet")(ws),
     ws.with_path("content_safety/other/../predictions/{date}.parquet"))[1], "accepted", ""),
    ("absolute-root-is-symlink-outside", _static_root_symlink, "quarantined", "not followed"),
    ("symlink-to-host-file", _symlink_to("/etc/hostname"), "quarantined", "not followed"),
    ("symlink-to-dev-zero", _symlink_to("/dev/zero"), "quarantined", "not followed"),
    # things that are not files (item 9): refused unread, never quarantined as "nothing"
    ("fifo-as-batch", _fifo, "quarantined", "named pipe"),
    ("fifo-inside-partition-folder", _fifo_in("folder"), "quarantined", "named pipe"),
    ("fifo-matched-by-glob", _fifo_in("glob"), "quarantined", "named pipe"),
    ("check-batch-dev-zero", _override("/dev/zero"), "quarantined", "character device"),
    ("check-batch-fifo", _override(_fifo_path), "quarantined", "named pipe"),
    # the quarantine itself (item 5)
    ("folder-with-its-own-manifest", _own_manifest, "quarantined", "(manifest.json)"),
    ("folder-with-hidden-manifest-side-file", _own_manifest_hidden, "accepted", ""),
    ("disk-full-during-copy", _disk_full(_mutated(_duplicate_ids)), "quarantined", "unique"),
    ("disk-full-during-folder-copy", _disk_full(lambda ws: _partitions(ws, corrupt=True)), "quarantined",
     "unreadable batch"),
    ("disk-full-missing-batch", _disk_full(lambda ws: ws.spec), "quarantined", "no batch"),
    ("world-writable-batch-umask-0", _loose_umask, "quarantined", "unique"),
]  # fmt: skip

REFUSED = {
    "symlink-outside-root",
    "symlinked-folder-outside-root",
    "path-template-escapes-root",
    "glob-with-symlink-outside-root",
    "absolute-path-to-etc-via-date-dotdot",
    "relative-path-to-etc-via-dotdot",
    "absolute-path-outside-data-root",
    "absolute-path-dotdot-out-of-source-root",
    "absolute-root-is-symlink-outside",
    "symlink-to-host-file",
    "symlink-to-dev-zero",
    "fifo-as-batch",
    "fifo-inside-partition-folder",
    "fifo-matched-by-glob",
    "check-batch-dev-zero",
    "check-batch-fifo",
}
#: The copy into quarantine fails (disk full): the night is recorded as quarantined, copy failed, nothing partial.
COPY_FAILS = {"disk-full-during-copy", "disk-full-during-folder-copy"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _assert_quarantine_is_faithful(case_id: str, pulled: dict[str, Any], out: dict[str, Any], ws: Workspace) -> None:
    from alignment_drift.integrations.quarantine import MANIFEST_NAME, verify_quarantine

    record = out["quarantine"]
    folder = Path(record["path"])
    assert folder == ws.settings.quarantine_dir / "content_safety" / f"{START:%Y-%m-%d}"
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["reason"] == out["reason"]
    assert manifest["data_interval"] == {"start": START.isoformat(), "end": END.isoformat()}
    assert manifest["details"]["counts"]["rows"] == out["rows"]
    assert verify_quarantine(folder) == []
    _assert_owner_only(folder)
    copied = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    copied = [c for c in copied if c != MANIFEST_NAME]
    copied = [c for c in copied if (folder / c).is_file()]
    if case_id in COPY_FAILS:  # nothing partial is left, and the night is recorded all the same
        assert copied == [] and manifest["files"] == [] and record["sha256"] is None
        assert manifest["status"] == "quarantined" and manifest["copy"]["status"] == "failed"
        assert manifest["copy"]["error"] == record["copy_error"]
        assert "No space left on device" in record["copy_error"] and "Fix:" in record["copy_error"]
        assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]  # no staging folder left
        return
    assert record["copy_error"] is None
    if case_id in REFUSED or not pulled["files"]:
        assert copied == [] and manifest["files"] == [] and record["sha256"] is None
        return
    nested = "batch/" if MANIFEST_NAME in pulled["files"] else ""  # the batch's own manifest.json kept below batch/
    assert [f["path"] for f in manifest["files"]] == [nested + f for f in pulled["files"]]
    assert [f["path"] for f in manifest["files"]] == sorted(copied, key=lambda r: r.split("/"))
    sources = (
        [Path(pulled["path"])] if pulled["layout"] == "file" else [Path(pulled["path"]) / r for r in pulled["files"]]
    )
    whole = hashlib.sha256()
    for entry, source in zip(manifest["files"], sources, strict=True):
        original, copy = source.read_bytes(), (folder / entry["path"]).read_bytes()
        assert copy == original
        assert entry["sha256"] == _sha(copy) == _sha(original)
        whole.update(original)
    assert record["sha256"] == manifest["sha256"] == whole.hexdigest() == pulled["sha256"]
    assert record["matches_pull"] is True


def _assert_owner_only(folder: Path) -> None:
    """Quarantines hold production data: owner-only folders and files, whatever the batch's permissions."""
    import stat

    for path in [folder.parent, folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path} has mode {mode:o}"


def test_the_corpus_is_big_and_well_named() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) >= 120 and len(set(ids)) == len(ids)
    assert {c[2] for c in CASES} == {"quarantined", "accepted", "warning"}
    assert REFUSED <= set(ids) and COPY_FAILS <= set(ids)
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    tried = len(CASES) + FAULT_CASES  # the README's reliability figures
    assert f"runs {len(CASES)} malformed" in readme and f"**{tried} cases tried, {tried} handled" in readme


@pytest.mark.parametrize(("build", "outcome", "names"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_batch(
    request: pytest.FixtureRequest, ws: Workspace, build: Callable, outcome: str, names: str | tuple[str, ...]
) -> None:
    case_id = request.node.callspec.id
    built = build(ws)
    spec, kwargs = built if isinstance(built, tuple) else (built, {})
    outside_before = {p: p.read_bytes() for p in ws.tmp.rglob("*") if p.is_file() and not p.is_symlink()}
    pulled, out = ws.run(spec, **kwargs)

    json.dumps(pulled, allow_nan=False)
    encoded = json.dumps(out, allow_nan=False)
    assert len(encoded) < 200_000, "the validation result must stay XCom-sized"
    if outcome == "quarantined":
        assert out["status"] == "quarantined", out
        assert any(n in out["reason"] for n in ((names,) if isinstance(names, str) else names)), out["reason"]
        _assert_quarantine_is_faithful(case_id, pulled, out, ws)
    else:
        assert out["status"] == "valid", out["reason"]
        assert out["reason"] is None and out["quarantine"] is None
        assert not ws.settings.quarantine_dir.exists()
        if outcome == "warning":
            assert out["warnings"], out
            assert any(names in w for w in out["warnings"]), out["warnings"]
            assert out["validation"]["warnings"]
        else:
            assert out["warnings"] == [], out["warnings"]
    if case_id in REFUSED:
        assert pulled["refused"] and pulled["sha256"] is None
    for path, data in outside_before.items():  # nothing is ever changed at the source
        assert path.read_bytes() == data, f"{path} changed"


def test_evidence_is_written_and_a_rerun_is_identical(ws: Workspace) -> None:
    from alignment_drift.integrations.evidence import evidence_dir

    _bulk("category", "crypto", 0.4)(ws)
    first_pulled, first = ws.run()
    evidence = evidence_dir(ws.settings, ws.spec.model, START, END) / "validation.json"
    gx_result = json.loads(evidence.read_text())
    checks = {c["type"] for c in gx_result["alignment_drift_checks"]}
    assert checks == {"alignment_drift:timestamps_inside_data_interval", "alignment_drift:timestamps_not_in_the_future"}
    again_pulled, again = ws.run()
    assert again_pulled == first_pulled and again == first


def test_rerun_replaces_the_quarantine_atomically_never_duplicates_it(ws: Workspace) -> None:
    _mutated(_duplicate_ids)(ws)
    _, first = ws.run()
    _, again = ws.run()
    night = ws.settings.quarantine_dir / "content_safety"
    assert sorted(p.name for p in night.iterdir()) == [f"{START:%Y-%m-%d}"]
    assert {k: v for k, v in again.items() if k != "quarantine"} == {
        k: v for k, v in first.items() if k != "quarantine"
    }
    assert again["quarantine"]["sha256"] == first["quarantine"]["sha256"]
    manifest = json.loads(Path(again["quarantine"]["manifest_path"]).read_text())
    assert [h["reason"] for h in manifest["history"]] == [first["reason"]]


def test_a_read_failure_after_a_valid_run_removes_the_stale_evidence(ws: Workspace) -> None:
    from alignment_drift.integrations.evidence import evidence_dir

    _mutated(lambda f: None)(ws)
    ws.run()
    evidence = evidence_dir(ws.settings, ws.spec.model, START, END) / "validation.json"
    assert evidence.exists()
    ws.batch_path().write_bytes(b"")
    _, out = ws.run()
    assert out["status"] == "quarantined" and not evidence.exists()


def test_a_broken_suite_is_a_configuration_error_not_a_quarantine(ws: Workspace, tmp_path: Path) -> None:
    import dataclasses

    from alignment_drift.integrations.gx import SuiteLoadError

    _mutated(lambda f: None)(ws)
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "content_safety_predictions.json").write_text("{")
    ws.settings = dataclasses.replace(ws.settings, expectations_dir=tmp_path / "suites")
    with pytest.raises(SuiteLoadError, match="Fix:"):
        ws.run()
    assert not ws.settings.quarantine_dir.exists()


def test_check_batch_override_reads_a_file_elsewhere(ws: Workspace) -> None:
    other = ws.tmp / "candidate.csv"
    other.write_text(_csv_text(ws), encoding="utf-8")
    pulled, out = ws.run(batch=other)
    assert pulled["format"] == "csv" and pulled["path"] == str(other)
    assert out["status"] == "valid"
    assert os.path.exists(other)


def test_every_partition_is_read_and_its_folder_keys_become_columns(ws: Workspace) -> None:
    from alignment_drift.integrations.sources import read_batch
    from alignment_drift.pipeline.steps.pull import pull

    spec = _partitions(ws)
    pulled = pull(spec, ws.settings, start=START, end=END)
    assert pulled.layout == "folder" and pulled.files[0] == "_SUCCESS"
    frame = read_batch(pulled.batch())
    assert len(frame) == ROWS and sorted(frame["hour"].unique()) == ["00", "01", "02"]
    pd.testing.assert_frame_equal(frame.drop(columns="hour"), ws.log)


# ---- faults that need more than a batch: another user, a file size limit, a writer still writing -------------

#: The fault cases below, counted in the README's figures with the table's: an unreadable file and folder, two file
#: size limits, a writer still appending, a batch changed after pull, ``check --batch`` given a device and a pipe.
FAULT_CASES = 8


def _run_as_nobody(ws: Workspace) -> tuple[dict[str, Any], dict[str, Any]]:
    """``ws.run()`` in a child process that has dropped to the ``nobody`` user (root reads every file)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        code = 0
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            result = json.dumps(ws.run())
        except BaseException as error:  # reported to the parent as the test's failure
            result, code = json.dumps({"error": f"{type(error).__name__}: {error}"}), 1
        with os.fdopen(write_end, "w") as out:
            out.write(result)
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        text = answer.read()
    os.waitpid(pid, 0)
    outcome = json.loads(text)
    assert "error" not in outcome, outcome
    return outcome[0], outcome[1]


@pytest.mark.parametrize("what", ["file", "partition-folder"])
def test_an_unreadable_batch_is_refused_unread(ws: Workspace, what: str) -> None:
    import dataclasses
    import tempfile

    if os.geteuid() == 0:  # the user 'nobody' must reach the data root: a world-writable one of its own
        data = Path(tempfile.mkdtemp(prefix="alignment-drift-unreadable-"))
        data.chmod(0o777)
        ws.cleanups.append(lambda: __import__("shutil").rmtree(data, ignore_errors=True))
        ws.settings = dataclasses.replace(ws.settings, data_dir=data, quarantine_dir=data / "quarantine")
    if what == "file":
        _mutated(lambda f: None)(ws)
        locked, spec, message = ws.batch_path(), ws.spec, "cannot be read by this user (permission denied)"
    else:
        spec = _partitions(ws)
        locked, message = ws.batch_path().parent / f"{START:%Y-%m-%d}" / "hour=01", "cannot be listed by this user"
    for folder in ws.batch_path().parents[:2]:
        folder.chmod(0o777)
    for path in locked.parent.rglob("*") if what != "file" else ():
        path.chmod(0o777 if path.is_dir() else 0o666)
    locked.parent.chmod(0o777)
    locked.chmod(0)
    ws.cleanups.append(lambda: locked.chmod(0o700))
    ws.spec = spec
    pulled, out = _run_as_nobody(ws) if os.geteuid() == 0 else ws.run()
    assert out["status"] == "quarantined"
    assert message in out["reason"] and "Fix:" in out["reason"], out["reason"]
    assert pulled["refused"] and pulled["sha256"] is None
    assert out["quarantine"]["files"] == [] and out["quarantine"]["copy_error"] is None


@pytest.mark.parametrize("limit", [1 << 20, 1 << 10], ids=["below-the-batch", "below-every-file"])
def test_a_file_size_limit_hit_while_copying_still_records_the_night(ws: Workspace, limit: int) -> None:
    """A real write failure from the kernel: the worker's file size limit (``ulimit -f``) is below the batch's size.

    Below every file's size, neither the evidence nor the manifest can be written: the night's result
    still says it is quarantined and why its bytes are not kept.
    """
    import resource
    import signal
    import subprocess
    import sys

    big = ws.log.copy()
    _duplicate_ids(big)
    noise = np.random.default_rng(0).random((len(big), 800))  # incompressible extra columns: a batch of ~3 MB
    big = pd.concat([big, pd.DataFrame(noise, columns=[f"noise_{i}" for i in range(800)])], axis=1)
    big.to_parquet(ws.batch_path(), index=False)
    assert ws.batch_path().stat().st_size > 2 * limit

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    script = """
import dataclasses, json, sys
from alignment_drift.core.spec import load_spec
from alignment_drift.pipeline.steps.pull import pull
from alignment_drift.pipeline.steps.validate import validate
from alignment_drift.settings import Settings
from tests.pipeline.conftest import END, NOW, ROOT, START
data = __import__("pathlib").Path(sys.argv[1])
settings = dataclasses.replace(Settings.from_env(ROOT), data_dir=data, quarantine_dir=data / "quarantine")
spec = load_spec(ROOT / "specs" / "content_safety.yaml")
pulled = pull(spec, settings, start=START, end=END)
print(json.dumps(validate(spec, settings, pulled, now=NOW).to_xcom()))
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "plugins"), "."])}
    done = subprocess.run(
        [sys.executable, "-c", script, str(ws.data)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        env=env,
        preexec_fn=limited,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["status"] == "quarantined" and "unique" in out["reason"]
    record = out["quarantine"]
    assert "File too large" in record["copy_error"] and "ulimit -f" in record["copy_error"]
    folder = Path(record["path"])
    if limit < 4096:
        assert "The manifest could not be written either" in record["copy_error"]
        assert not folder.exists() and list(folder.parent.iterdir()) == []  # nothing partial, no staging left
        return
    assert sorted(p.name for p in folder.rglob("*")) == ["manifest.json"]  # nothing partial
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "quarantined" and manifest["copy"]["status"] == "failed"
    assert manifest["details"]["sha256_at_pull"] == hashlib.sha256(ws.batch_path().read_bytes()).hexdigest()
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]


def test_a_batch_still_being_written_is_quarantined_and_never_copied_half(ws: Workspace) -> None:
    import threading

    _mutated(lambda f: None)(ws)
    original = ws.batch_path().read_bytes()
    started, stop = threading.Event(), threading.Event()

    def writer() -> None:  # an exporter appending to the file the check reads
        with ws.batch_path().open("ab") as out:
            while not stop.is_set():
                out.write(b"\0" * 512)
                out.flush()
                started.set()
                stop.wait(0.0002)

    thread = threading.Thread(target=writer)
    thread.start()
    started.wait(10)
    try:
        _, out = ws.run()
    finally:
        stop.set()
        thread.join()
    assert out["status"] == "quarantined" and "unreadable batch" in out["reason"]
    record = out["quarantine"]
    folder = Path(record["path"])
    if record["copy_error"] is not None:  # the writer was caught appending during the copy: nothing kept half
        assert "changed while it was copied" in record["copy_error"] and "Fix:" in record["copy_error"]
        assert sorted(p.name for p in folder.iterdir()) == ["manifest.json"]
    else:  # the writer paused for the whole copy: a complete copy of the file as it was then
        copy = (folder / ws.batch_path().name).read_bytes()
        assert copy.startswith(original) and ws.batch_path().read_bytes().startswith(copy)
        assert record["sha256"] == _sha(copy)


def test_a_batch_that_grew_after_pull_is_kept_as_copied_and_flagged(ws: Workspace) -> None:
    from alignment_drift.pipeline.steps.pull import pull
    from alignment_drift.pipeline.steps.validate import validate

    _mutated(lambda f: None)(ws)
    pulled = pull(ws.spec, ws.settings, start=START, end=END)
    with ws.batch_path().open("ab") as out:
        out.write(b"late rows")
    result = validate(ws.spec, ws.settings, pulled, now=NOW).to_xcom()
    record = result["quarantine"]
    assert result["status"] == "quarantined" and record["copy_error"] is None
    assert record["matches_pull"] is False  # the copy holds the bytes as they are now, and says so
    assert record["sha256"] == _sha(ws.batch_path().read_bytes()) != pulled.sha256


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_check_refuses_a_pipe_or_device_as_batch(
    ws: Workspace, capsys: pytest.CaptureFixture[str], special: str
) -> None:
    import yaml

    from alignment_drift.cli import main

    spec_path = ws.tmp / "content_safety.yaml"
    spec_path.write_text(yaml.safe_dump(ws.spec.model_dump(mode="json")))
    if special == "fifo":
        special = str(ws.tmp / "candidate.parquet")
        os.mkfifo(special)
    ws.monkeypatch.setenv("ALIGNMENT_DRIFT_DATA_DIR", str(ws.data))
    assert main(["check", str(spec_path), "--date", f"{START:%Y-%m-%d}", "--batch", special]) == 2
    err = capsys.readouterr().err
    assert "not a regular file" in err and "Fix:" in err and "Traceback" not in err
    assert not ws.settings.quarantine_dir.exists()


def test_evidence_is_owner_only(ws: Workspace) -> None:
    import stat

    from alignment_drift.integrations.evidence import evidence_dir

    _mutated(lambda f: None)(ws)
    old = os.umask(0)
    try:
        ws.run()
    finally:
        os.umask(old)
    folder = evidence_dir(ws.settings, ws.spec.model, START, END)
    for path in (folder.parent.parent, folder.parent, folder):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    assert stat.S_IMODE((folder / "validation.json").stat().st_mode) == 0o600
