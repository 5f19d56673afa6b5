"""The typed night: what the steps of one check hand to each other.

Each step of :mod:`alignment_drift.pipeline.steps` takes and returns these
models. The monitor DAG passes them between tasks through XCom as
``model_dump(mode="json")`` and reads them back with ``model_validate``; the
command line (:func:`alignment_drift.pipeline.check.run_check`) passes the
objects themselves. No step builds another step's result by hand.

::

    Pulled ─► Validation ─► [Group ─► Partial]* ─► DriftResult ─┐
                        └─► BenchmarkResults ───────────────────┴─► TrendResult ─► Check ─► Recorded

The nested documents (a drift table, a benchmark's result, an attribution)
are the ``to_dict()`` of the core's frozen result types, kept as they are so
that the recorded check (schema ``alignment-drift/check@1``) is unchanged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from alignment_drift.integrations.sources import Batch

__all__ = [
    "CHECK_SCHEMA",
    "BenchmarkResults",
    "Check",
    "DriftResult",
    "Group",
    "Interval",
    "Night",
    "Partial",
    "Pulled",
    "Recorded",
    "RetrainDecision",
    "TrendResult",
    "Validation",
]

CHECK_SCHEMA = "alignment-drift/check@1"

Json = dict[str, Any]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_xcom(self) -> Json:
        """The JSON-able form a task returns (read back with ``model_validate``)."""
        return self.model_dump(mode="json")


class Interval(_Part):
    """A data interval, as ISO timestamps (UTC)."""

    start: str
    end: str

    @classmethod
    def of(cls, start: dt.datetime, end: dt.datetime) -> Interval:
        return cls(start=start.isoformat(), end=end.isoformat())

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """``(start, end)`` as tz-aware datetimes (a naive value is taken as UTC)."""
        start, end = dt.datetime.fromisoformat(self.start), dt.datetime.fromisoformat(self.end)
        return (
            start if start.tzinfo else start.replace(tzinfo=dt.UTC),
            end if end.tzinfo else end.replace(tzinfo=dt.UTC),
        )


class Pulled(_Part):
    """The night's batch located and fingerprinted: where it is, its bytes' sha256, the interval.

    The fields are those of :class:`~alignment_drift.integrations.sources.Batch`
    (``exists`` is derived); ``sha256`` is None when the batch is missing or refused.
    ``wait``: the spec's ``source.wait`` in seconds, how long after the interval's end the batch was
    waited for (0: not waited for, or checked from a given path).
    """

    kind: str
    uri: str
    path: str
    format: str
    layout: str
    files: list[str] = Field(default_factory=list)
    bytes: int = 0
    refused: str | None = None
    protocol: str = "file"
    conn_id: str | None = None
    read: Json = Field(default_factory=dict)
    origin: Json = Field(default_factory=dict)
    exists: bool = False
    sha256: str | None
    interval: Interval
    wait: int = 0

    @classmethod
    def of(cls, batch: Batch, *, sha256: str | None, interval: Interval, wait: int = 0) -> Pulled:
        return cls(**batch.to_dict(), sha256=sha256, interval=interval, wait=wait)

    def batch(self) -> Batch:
        """The batch, to read or quarantine."""
        return Batch.from_dict(self.model_dump(exclude={"sha256", "interval", "exists", "wait"}))

    def only(self, files: list[str]) -> Batch:
        """The batch restricted to some of its member files (one group)."""
        return Batch.from_dict({**self.model_dump(exclude={"sha256", "interval", "exists", "wait"}), "files": files})


class Validation(_Part):
    """The batch's validation: ``valid``, or ``quarantined`` with why and where its bytes were kept.

    ``columns``: the batch's columns as read (``name`` and MLflow ``type``), empty when nothing was read.
    """

    status: Literal["valid", "quarantined"]
    reason: str | None = None
    rows: int = 0
    validation: Json | None = None
    warnings: list[str] = Field(default_factory=list)
    quarantine: Json | None = None
    columns: list[Json] = Field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.status == "valid"


class Group(_Part):
    """Some of the batch's files, profiled by one task (``skip`` when the batch is not to be used).

    ``row_groups`` ``[first, stop)``: the group is that slice of the row groups of its one file (a big file
    cut into bounded pieces); None: its files whole.
    """

    index: int
    files: list[str] = Field(default_factory=list)
    rows: int | None = None
    bytes: int = 0
    skip: bool = False
    row_groups: list[int] | None = None


class Partial(_Part):
    """One group's batch-side profile, written beside the night's evidence (``uri``), or skipped."""

    index: int
    uri: str | None = None
    rows: int = 0
    files: int = 0
    skipped: bool = False


class DriftResult(_Part):
    """Input, output and joint drift against the deployed version's reference, and the exposure rate.

    ``profile_uri`` is the merged batch profile the tests ran on (the report draws its charts from it).
    """

    skipped: bool
    model_version: str | None = None
    reference_version: str | None = None
    drift: Json | None = None
    output_drift: Json | None = None
    multivariate: Json = Field(default_factory=dict)
    exposure: Json | None = None
    partitions: Json | None = None
    profile_uri: str | None = None

    @property
    def drifted_features(self) -> list[str]:
        columns = (self.drift or {}).get("columns", [])
        return [c["name"] for c in columns if c["drift"] or c["missing_drift"]]


class BenchmarkResults(_Part):
    """The safety benchmarks' results (each a ``BenchmarkResult.to_dict()``), selection and labels evidence."""

    skipped: bool
    model_version: str | None = None
    reference_version: str | None = None
    results: list[Json] = Field(default_factory=list)
    selection: Json | None = None
    labels: Json | None = None


class TrendResult(_Part):
    """The trend detectors over the nights since the reference was promoted, or why they did not run."""

    skipped: str | None = None
    since_reference: str | None = None
    nights: int = 0
    as_of: str | None = None
    results: list[Json] = Field(default_factory=list)

    @property
    def alarms(self) -> list[Json]:
        return [t for t in self.results if t["alarm"]]

    def to_check(self) -> Json:
        """As the check records it: ``{"skipped": why}`` or the detectors' results."""
        if self.skipped is not None:
            return {"skipped": self.skipped}
        return {"skipped": False, **self.model_dump(mode="json", exclude={"skipped"})}


class Check(_Part):
    """One evaluated night: every signal, the verdict and its attribution (schema ``check@1``).

    ``action`` (the retraining decision) and ``objective`` (the spec's fingerprint and its change)
    are added when the check is recorded.
    """

    schema_: str = Field(default=CHECK_SCHEMA, alias="schema")
    model: str
    data_interval: Interval
    source: Json
    validation: Json | None = None
    quarantine: Json | None = None
    model_version: str | None = None
    reference_version: str | None = None
    drift: Json | None = None
    output_drift: Json | None = None
    multivariate: Json | None = None
    exposure: Json | None = None
    benchmarks: list[Json] = Field(default_factory=list)
    trends: Json | None = None
    selection: Json | None = None
    labels: Json | None = None
    verdict: str = ""
    verdict_code: int = 0
    reasons: list[str] = Field(default_factory=list)
    attribution: list[Json] = Field(default_factory=list)
    action: Json | None = None
    objective: Json | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def document(self) -> Json:
        """The check as recorded (``check.json``): JSON, keyed as schema ``check@1``."""
        out = self.model_dump(mode="json", by_alias=True)
        for key in ("action", "objective"):  # added when recorded
            if out[key] is None:
                del out[key]
        return out

    @classmethod
    def from_document(cls, document: Json) -> Check:
        """A recorded ``check.json`` read back (keys it does not know, from older records, are dropped)."""
        known = {f.alias or name for name, f in cls.model_fields.items()}
        return cls.model_validate({k: v for k, v in document.items() if k in known})


class RetrainDecision(_Part):
    """Whether a check requests retraining, whether it was coalesced into an earlier request, and why."""

    due: bool
    coalesced: bool = False
    reason: str


class Recorded(_Part):
    """A recorded check: its MLflow run, verdict, the retraining decision and how the request was sent.

    ``incident``: the night's step in the incident lifecycle (``IncidentUpdate.to_dict()``);
    ``policy``: what the deployment policies found and did (``deployment``: ``governance.on_ungated``,
    ``verdict``: ``governance.on_misaligned``).
    ``retrain_request``: ``none`` (not due), ``pending`` (kept in the record, emitted by the next monitor
    run or the command line's Airflow connection) or ``emitted`` (an asset event exists).
    """

    mlflow_run_id: str
    verdict: str
    retrain_due: bool
    retrain_reason: str
    retrain_request: Literal["none", "pending", "emitted"] = "none"
    report: str | None = None
    incident: Json | None = None
    policy: Json | None = None


class Night(_Part):
    """Everything one check produced, step by step (what :func:`~alignment_drift.pipeline.check.run_check` returns)."""

    pulled: Pulled
    validation: Validation
    groups: list[Group]
    partials: list[Partial]
    drift: DriftResult
    benchmarks: BenchmarkResults
    trend: TrendResult
    check: Check
    recorded: Recorded
    emitted: str | None = None
    emit_error: str | None = None
