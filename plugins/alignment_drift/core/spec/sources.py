"""Where a model's prediction log (and its late labels) come from.

Every source kind takes ``wait`` (a duration: ``"2h"``, ``"30m"``, seconds;
default 0, at most a day): how long after the data interval's end a batch
that has not landed is still waited for before the night is checked without
it (and quarantined as missing). See :mod:`alignment_drift.core.spec.arrival`
and ``docs/arrival.md``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from alignment_drift.core.spec.arrival import Wait
from alignment_drift.core.spec.base import Strict

__all__ = ["FilesSource", "LateLabels", "ObjectStoreSource", "Source", "SqlSource"]


class FilesSource(Strict):
    """Prediction-log files on a local or mounted file system.

    ``path`` is relative to the data root (or absolute) and is templated by
    the data interval with ``{date}`` (interval start, ``YYYY-MM-DD``),
    ``{start}``/``{end}`` (ISO timestamps) and ``{model}``.
    """

    kind: Literal["files"] = "files"
    path: str
    format: Literal["parquet", "csv"] = "parquet"
    wait: Wait = 0

    @field_validator("path")
    @classmethod
    def _path_has_date(cls, value: str) -> str:
        if "{date}" not in value and "{start}" not in value:
            raise ValueError(
                "the path must be templated by the data interval with {date} or {start}, "
                f"e.g. 'predictions/{{date}}.parquet'; got {value!r}"
            )
        return value


_OBJECT_SCHEMES = ("s3", "gs", "gcs", "az", "abfs", "abfss", "file", "http", "https")


class ObjectStoreSource(Strict):
    """Prediction logs in object storage, read through Airflow's ``ObjectStoragePath``.

    ``uri`` is templated like ``FilesSource.path`` (e.g.
    ``s3://bucket/content_safety/{date}.parquet``); credentials come from the
    Airflow connection ``conn_id``, never from the spec.
    """

    kind: Literal["object_store"] = "object_store"
    uri: str
    conn_id: str | None = None
    format: Literal["parquet", "csv"] = "parquet"
    wait: Wait = 0

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in _OBJECT_SCHEMES:
            raise ValueError(
                f"the uri must start with one of {', '.join(s + '://' for s in _OBJECT_SCHEMES)}; got {value!r}"
            )
        if "{date}" not in value and "{start}" not in value:
            raise ValueError(
                f"the uri must be templated by the data interval with {{date}} or {{start}}; got {value!r}"
            )
        return value


class SqlSource(Strict):
    """Prediction logs from a SQL database through an Airflow connection.

    The query receives the data interval as bound parameters ``:start`` and
    ``:end`` (never by string formatting); large results are read in chunks.
    """

    kind: Literal["sql"] = "sql"
    conn_id: str
    query: str
    chunk_size: Annotated[int, Field(ge=1000)] = 100_000
    wait: Wait = 0

    @field_validator("query")
    @classmethod
    def _bound(cls, value: str) -> str:
        if ":start" not in value or ":end" not in value:
            raise ValueError(
                "the query must select the data interval with the bound parameters :start and :end, "
                f"e.g. 'WHERE ts >= :start AND ts < :end'; got {value!r}"
            )
        return value


Source = Annotated[FilesSource | ObjectStoreSource | SqlSource, Field(discriminator="kind")]


class LateLabels(Strict):
    """Labels that arrive after their night: joined back to it by id, and the night re-evaluated.

    ``source`` is templated by the arrival date; its rows carry the id column
    and the target (and/or proxy) column of the prediction log.
    """

    source: Source
    max_delay_days: Annotated[int, Field(ge=1, le=365)] = 14

    @model_validator(mode="after")
    def _no_wait(self) -> LateLabels:
        if self.source.wait:
            raise ValueError(
                f"labels.source.wait is not used (got {self.source.wait} s): late labels are joined whenever they "
                "land, within labels.max_delay_days. Fix: remove labels.source.wait"
            )
        return self
