"""The incident lifecycle: grouping nights into incidents, owners, states, history, idempotent reruns, the lock."""

from __future__ import annotations

import copy
import datetime as dt
import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
import yaml

from alignment_drift.core.spec import parse_spec
from alignment_drift.integrations.incident_actions import TransitionRefused, acknowledge_incident, resolve_incident
from alignment_drift.integrations.incident_store import IncidentNotFound, get_incident, list_incidents, locked
from alignment_drift.integrations.incident_tracking import IncidentUpdate, track_incident
from alignment_drift.integrations.incidents import incidents_dir
from alignment_drift.settings import Settings

MODEL = "content_safety"
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SOURCES = {
    "mu": "model_update",
    "ds": "distribution_shift",
    "rm": "reward_misspecification",
    "fl": "feedback_loop",
}
VERDICT = {"a": "aligned", "w": "watch", "d": "drifting", "m": "misaligned", "q": "quarantined"}
# 30 nights of an earlier demo run (seed 7, the notify-only policy): 12 problem nights in 4 episodes,
# a realistic history shape for the store
DEMO = (
    "a a a a a d:mu a a m:mu m:mu,ds a m:mu,rm m:mu,ds,rm,fl m:mu,rm,ds,fl m:rm,mu,fl,ds m:ds,rm,mu,fl "
    "m:ds,rm,mu,fl m:ds,rm,mu,fl d:ds d:ds w w w w w w a a w a"
).split()


def night(index: int, code: str, *, reason: str = "benchmark audit_unsafe_recall fell below its floor") -> dict:
    """The check of night ``index`` (1-based) from a code like ``m:mu,ds`` (verdict: sources)."""
    verdict, _, sources = code.partition(":")
    start = START + dt.timedelta(days=index - 1)
    return {
        "schema": "alignment-drift/check@1",
        "model": MODEL,
        "model_version": "4",
        "reference_version": "3",
        "data_interval": {"start": start.isoformat(), "end": (start + dt.timedelta(days=1)).isoformat()},
        "source": {"uri": f"file:///data/{start:%Y-%m-%d}.parquet"},
        "verdict": VERDICT[verdict],
        "reasons": [reason] if verdict not in ("a", "w") else [],
        "attribution": [{"source": SOURCES[s], "confidence": 0.8, "evidence": "test"} for s in sources.split(",") if s],
        "benchmarks": [],
        "action": {"retrain_requested": False, "retrain_coalesced": False, "retrain_reason": ""},
    }


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ALIGNMENT_DRIFT_INCIDENTS_DIR", str(tmp_path / "incidents"))
    return Settings.from_env(tmp_path)


@pytest.fixture
def raw(root: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((root / "specs" / "content_safety.yaml").read_text()))


def spec_with(raw: dict[str, Any], **governance: Any) -> Any:
    return parse_spec({**copy.deepcopy(raw), "governance": governance})


def run(spec: Any, settings: Settings, codes: list[str], **kwargs: Any) -> list[IncidentUpdate]:
    return [
        track_incident(spec, settings, night(i, code), mlflow_run_id=None, report_path=f"/reports/{i}.html", **kwargs)
        for i, code in enumerate(codes, 1)
    ]


def groups(settings: Settings) -> list[tuple[str, list[int], str]]:
    """(id, night numbers, state) of every incident, oldest first."""
    out = []
    for incident in reversed(list_incidents(settings, MODEL)):
        days = [(dt.datetime.fromisoformat(o.interval_start) - START).days + 1 for o in incident.occurrences]
        out.append((incident.id, days, incident.state))
    return out


def test_the_demo_s_twelve_problem_nights_are_three_incidents(settings: Settings, raw: dict[str, Any]) -> None:
    spec = spec_with(raw, owners=["ml-oncall@example.com"])
    updates = run(spec, settings, DEMO)
    assert groups(settings) == [
        ("content_safety-2026-01-06-alignment", [6], "resolved"),
        ("content_safety-2026-01-09-alignment", [9, 10], "resolved"),
        ("content_safety-2026-01-12-alignment", [12, 13, 14, 15, 16, 17, 18, 19, 20], "resolved"),
    ]
    told = [i for i, u in enumerate(updates, 1) if u.notify]
    assert told == [6, 9, 12], "people are told on each incident's first night only"
    actions = {i: u.action for i, u in enumerate(updates, 1) if u.action != "none"}
    assert actions == {
        6: "created",
        9: "created",
        10: "occurrence_added",
        11: "resolved",
        **{i: "occurrence_added" for i in range(13, 21)},
        12: "created",
        28: "resolved",
        30: "resolved",
    }
    assert [r.id for r in updates[10].resolved] == ["content_safety-2026-01-06-alignment"]
    episode = get_incident(settings, "content_safety-2026-01-12-alignment")
    assert episode.verdict == "misaligned" and episode.owner == "trust-and-safety-ml"
    assert episode.owners == ["trust-and-safety-ml", "ml-oncall@example.com"]
    assert episode.sources == sorted(SOURCES.values())
    assert [o.report_path for o in episode.occurrences][:2] == ["/reports/12.html", "/reports/13.html"]
    assert episode.follows == "content_safety-2026-01-06-alignment"
    assert episode.history[-1].action == "resolved" and episode.history[-1].by == "alignment-drift"
    assert "3 aligned night(s) after the last occurrence" in episode.history[-1].note
    files = sorted(p.name for p in (incidents_dir(settings) / MODEL).iterdir())
    assert files == [".lock", "_nights.json", *(f"{i}.json" for i, _, _ in groups(settings))]


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (["m:mu", "w", "m:mu"], [[1, 3]]),
        (["m:mu", "a", "m:mu"], [[1], [3]]),
        (["m:mu", "m:ds"], [[1], [2]]),
        (["m:mu", "m:mu,ds", "m:ds"], [[1, 2, 3]]),
        (["m", "m:mu"], [[1, 2]]),
        (["d:mu", "q", "d:mu", "q"], [[1, 3], [2, 4]]),
        (["q", "a", "q"], [[1], [3]]),
        (["d:ds", "m:ds"], [[1, 2]]),
    ],
    ids=[
        "watch-does-not-interrupt",
        "aligned-interrupts",
        "disjoint-sources",
        "sources-grow",
        "unattributed-joins",
        "quarantine-is-its-own-kind",
        "quarantines-split-by-aligned",
        "escalation-stays-one",
    ],
)
def test_grouping(settings: Settings, raw: dict[str, Any], codes: list[str], expected: list[list[int]]) -> None:
    run(spec_with(raw), settings, codes)
    assert [days for _, days, _ in groups(settings)] == expected


def test_an_escalation_tells_again_and_is_recorded(settings: Settings, raw: dict[str, Any]) -> None:
    first, second, third = run(spec_with(raw), settings, ["d:ds", "m:ds", "m:ds"])
    assert (first.notify, second.notify, third.notify) == (True, True, False)
    assert second.escalated and not second.first_occurrence and second.action == "occurrence_added"
    incident = get_incident(settings, "content_safety-2026-01-01-alignment")
    assert incident.verdict == "misaligned"
    assert [h.action for h in incident.history] == ["created", "escalated"]


def _check_run(settings: Settings) -> str:
    from alignment_drift.integrations.mlflow.store import client, experiment_id

    return str(client(settings).create_run(experiment_id(settings, MODEL), tags={"kind": "test"}).info.run_id)


def test_a_rerun_never_adds_an_occurrence(settings: Settings, raw: dict[str, Any]) -> None:
    spec = spec_with(raw)
    run(spec, settings, ["m:mu", "m:mu"])
    rerun = _check_run(settings)
    again = track_incident(spec, settings, night(1, "m:mu"), mlflow_run_id=rerun, report_path=None)
    assert again.action == "none" and again.first_occurrence and not again.escalated
    incident = get_incident(settings, "content_safety-2026-01-01-alignment")
    assert len(incident.occurrences) == 2
    assert incident.occurrences[0].check_run_id == rerun, "the rerun's record replaces the night's"
    assert len(json.loads((incidents_dir(settings) / MODEL / "_nights.json").read_text())["nights"]) == 2


def test_the_incident_is_logged_on_the_night_s_check_run(
    settings: Settings, raw: dict[str, Any], tmp_path: Path
) -> None:
    from alignment_drift.integrations.incidents import validate_incident
    from alignment_drift.integrations.mlflow.store import client

    spec = spec_with(raw)
    run_id = _check_run(settings)
    update = track_incident(spec, settings, night(1, "m:mu"), mlflow_run_id=run_id, report_path="/r/1.html")
    assert update.incident is not None
    mlflow_client = client(settings)
    names = {a.path for a in mlflow_client.list_artifacts(run_id)} | {
        a.path for a in mlflow_client.list_artifacts(run_id, "incident")
    }
    assert {"incident.json", "incident.md", f"incident/{update.incident.id}.json"} <= names
    night_record = json.loads(
        Path(mlflow_client.download_artifacts(run_id, "incident.json", str(tmp_path))).read_text()
    )
    validate_incident(night_record)
    assert night_record["links"]["report_path"] == "/r/1.html"
    document = mlflow_client.download_artifacts(run_id, f"incident/{update.incident.id}.json", str(tmp_path))
    assert json.loads(Path(document).read_text())["schema"] == "alignment-drift/incident@2"
    assert mlflow_client.get_run(run_id).data.tags["incident_id"] == update.incident.id


def test_a_rerun_that_is_aligned_now_withdraws_the_night(settings: Settings, raw: dict[str, Any]) -> None:
    spec = spec_with(raw)
    run(spec, settings, ["a", "m:mu"])
    update = track_incident(spec, settings, night(2, "a"), mlflow_run_id=None, report_path=None)
    assert update.incident is None
    incident = get_incident(settings, "content_safety-2026-01-02-alignment")
    assert incident.state == "resolved" and incident.occurrences == []
    assert [h.action for h in incident.history] == ["created", "occurrence_withdrawn", "resolved"]
    assert "verdict aligned" in incident.history[-1].note
    assert list_incidents(settings, MODEL, state="unresolved") == []
    again = track_incident(spec, settings, night(2, "m:mu"), mlflow_run_id=None, report_path=None)
    assert again.action == "created" and again.incident is not None
    assert again.incident.id == "content_safety-2026-01-02-alignment-2", "ids stay unique and stable"


def test_resolve_after_aligned_nights_is_the_spec_s(settings: Settings, raw: dict[str, Any]) -> None:
    updates = run(spec_with(raw, resolve_after_aligned_nights=2), settings, ["m:mu", "a", "w", "a"])
    assert [u.action for u in updates] == ["created", "none", "none", "resolved"]
    assert groups(settings)[0][2] == "resolved"


def test_people_acknowledge_and_resolve_and_a_recurrence_is_a_new_incident(
    settings: Settings, raw: dict[str, Any]
) -> None:
    spec = spec_with(raw)
    (update,) = run(spec, settings, ["m:mu"])
    assert update.incident is not None
    incident_id = update.incident.id
    when = dt.datetime(2026, 1, 2, 9, 30, tzinfo=dt.UTC)
    acked = acknowledge_incident(settings, incident_id, by="ada", note="rolling back to v3", now=when)
    assert acked.state == "acknowledged"
    assert (acked.history[-1].by, acked.history[-1].at, acked.history[-1].note) == (
        "ada",
        "2026-01-02T09:30:00+00:00",
        "rolling back to v3",
    )
    with pytest.raises(TransitionRefused, match="is acknowledged by ada at 2026-01-02T09:30:00"):
        acknowledge_incident(settings, incident_id, by="bob", note="me too")
    track_incident(spec, settings, night(2, "m:mu"), mlflow_run_id=None, report_path=None)
    assert get_incident(settings, incident_id).state == "acknowledged", "new nights keep the acknowledgement"
    done = resolve_incident(settings, incident_id, by="ada", note="v3 restored")
    assert done.state == "resolved" and done.resolved_at is not None
    with pytest.raises(TransitionRefused, match="only when it is open or acknowledged"):
        resolve_incident(settings, incident_id, by="ada", note="again")
    later = track_incident(spec, settings, night(3, "m:mu"), mlflow_run_id=None, report_path=None)
    assert later.action == "created" and later.notify
    assert later.incident is not None and later.incident.follows == incident_id


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda s: acknowledge_incident(s, "content_safety-2026-01-01-alignment", by="a", note="  "),
            ValueError,
            r"'note' parameter \(--note\) must not be empty",
        ),
        (
            lambda s: acknowledge_incident(s, "content_safety-2026-01-01-alignment", by="a", note="x" * 2001),
            ValueError,
            r"at most 2000 characters",
        ),
        (lambda s: get_incident(s, "../../etc/passwd"), IncidentNotFound, r"is not an incident id"),
        (lambda s: get_incident(s, "content_safety-2026-01-09-alignment"), IncidentNotFound, r"no incident"),
    ],
    ids=["empty-note", "long-note", "path-in-id", "unknown-id"],
)
def test_bad_requests_are_refused_with_the_fix(
    settings: Settings, raw: dict[str, Any], call: Any, error: type, match: str
) -> None:
    run(spec_with(raw), settings, ["m:mu"])
    with pytest.raises(error, match=match):
        call(settings)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"model": "other"}, r"'model' must be the spec's model 'content_safety'"),
        ({"verdict": "bad"}, r"'verdict' must be one of"),
        ({"data_interval": {"start": "yesterday", "end": "today"}}, r"'data_interval' must have ISO"),
        ({"data_interval": {"start": "2026-01-02T00:00:00+00:00", "end": "2026-01-01T00:00:00+00:00"}}, "end after"),
    ],
    ids=["other-model", "bad-verdict", "bad-interval", "reversed-interval"],
)
def test_a_bad_check_is_refused(settings: Settings, raw: dict[str, Any], change: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        track_incident(spec_with(raw), settings, {**night(1, "m"), **change}, mlflow_run_id=None, report_path=None)


def test_an_unreadable_incident_is_never_written_over(settings: Settings, raw: dict[str, Any]) -> None:
    spec = spec_with(raw)
    run(spec, settings, ["m:mu"])
    path = incidents_dir(settings) / MODEL / "content_safety-2026-01-01-alignment.json"
    path.write_text("{ half a document")
    with pytest.raises(ValueError, match="is not a valid Incident document"):
        track_incident(spec, settings, night(2, "m:mu"), mlflow_run_id=None, report_path=None)
    assert path.read_text() == "{ half a document"


def _track_nights(args: tuple[str, str, list[int]]) -> None:
    incidents, root, days = args
    import os

    os.environ["ALIGNMENT_DRIFT_INCIDENTS_DIR"] = incidents
    spec = parse_spec(yaml.safe_load((Path(root) / "specs" / "content_safety.yaml").read_text()))
    settings = Settings.from_env(root)
    for day in days:
        track_incident(spec, settings, night(day, "q"), mlflow_run_id=None, report_path=f"/r/{day}.html")


def test_concurrent_nights_lose_no_update(settings: Settings, root: Path) -> None:
    """Four processes track 40 quarantined nights at once: every night lands in the one incident, once."""
    incidents = str(incidents_dir(settings))
    chunks = [(incidents, str(root), list(range(start, 41, 4))) for start in (1, 2, 3, 4)]
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_track_nights, chunks)
    ((incident_id, days, state),) = groups(settings)
    assert days == list(range(1, 41)) and state == "open"
    ledger = json.loads((Path(incidents) / MODEL / "_nights.json").read_text())
    assert len(ledger["nights"]) == 40 and {n["incident"] for n in ledger["nights"].values()} == {incident_id}


def test_the_lock_is_exclusive(settings: Settings) -> None:
    from alignment_drift.integrations.incident_store import IncidentStoreBusy

    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()

    def hold() -> None:
        with locked(settings, MODEL):
            ready.set()
            release.wait(10)

    holder = ctx.Process(target=hold)
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(IncidentStoreBusy, match="stayed locked"), locked(settings, MODEL, timeout=0.3):
            pass
    finally:
        release.set()
        holder.join(10)
    with locked(settings, MODEL):
        pass


def test_the_update_round_trips_through_xcom_json(settings: Settings, raw: dict[str, Any]) -> None:
    (update,) = run(spec_with(raw), settings, ["q"])
    data = json.loads(json.dumps(update.to_dict()))
    again = IncidentUpdate.from_dict(data)
    assert again == update and data["notify"] is True
    assert data["incident"]["schema"] == "alignment-drift/incident@2" and data["incident"]["kind"] == "quarantine"


def test_the_published_schema_is_the_model_s_and_stored_documents_validate(
    settings: Settings, raw: dict[str, Any]
) -> None:
    import jsonschema

    from alignment_drift.integrations.incident_store import incident_json_schema

    published = Path(__file__).resolve().parents[2] / "plugins/alignment_drift/integrations/schemas"
    schema = json.loads((published / "incident-v2.schema.json").read_text())
    assert schema == incident_json_schema(), "regenerate schemas/incident-v2.schema.json from incident_json_schema()"
    run(spec_with(raw), settings, ["d:mu", "m:mu", "q", "a"])
    documents = sorted((incidents_dir(settings) / MODEL).glob(f"{MODEL}-*.json"))
    assert len(documents) == 2
    for path in documents:
        jsonschema.validate(json.loads(path.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**json.loads(documents[0].read_text()), "state": "snoozed"}, schema)
