"""Governance in the spec: notify routes, fail_run_on, owners; the objective's fingerprint and diff."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from alignment_drift.core.governance import routes_for, run_should_fail
from alignment_drift.core.spec import SpecError, objective_fingerprint, parse_spec
from alignment_drift.core.spec.fingerprint import objective_diff
from alignment_drift.core.spec.notify import route_key


@pytest.fixture
def raw(root: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((root / "specs" / "content_safety.yaml").read_text()))


def _with(raw: dict[str, Any], **governance: Any) -> Any:
    return parse_spec({**copy.deepcopy(raw), "governance": governance})


ROUTES = [
    {"kind": "email", "to": ["ml-oncall@example.com", "t-and-s@example.com"], "on": ["misaligned"]},
    {"kind": "slack", "conn_id": "slack_alerts"},
    {"kind": "webhook", "conn_id": "pager", "endpoint": "v2/enqueue", "on": ["quarantined", "drifting"]},
]


def test_defaults_fail_misaligned_and_quarantined_nights_and_resolve_after_three(raw: dict[str, Any]) -> None:
    governance = parse_spec(raw).governance
    assert governance.fail_run_on == ["misaligned", "quarantined"]
    assert governance.resolve_after_aligned_nights == 3
    assert governance.notify == [] and governance.owners == []


def test_routes_of_each_kind_parse_with_their_defaults(raw: dict[str, Any]) -> None:
    spec = _with(raw, notify=ROUTES, owners=["ml-oncall"])
    email, slack, webhook = spec.governance.notify
    assert (email.kind, email.conn_id, email.on) == ("email", "smtp_default", ["misaligned"])
    assert slack.on == ["misaligned", "quarantined", "ungated", "gate_rejected"], "drifting is opt-in"
    assert (webhook.conn_id, webhook.endpoint) == ("pager", "v2/enqueue")
    assert [route_key(r) for r in spec.governance.notify] == [
        "email:smtp_default:ml-oncall@example.com,t-and-s@example.com",
        "slack:slack_alerts",
        "webhook:pager:v2/enqueue",
    ]
    assert [route_key(r) for r in routes_for(spec, "misaligned")] == [route_key(email), route_key(slack)]
    assert [r.kind for r in routes_for(spec, "drifting")] == ["webhook"]
    with pytest.raises(ValueError, match=r"'event' parameter must be one of .*Got 'late'"):
        routes_for(spec, "late")


@pytest.mark.parametrize(
    ("governance", "expected"),
    [
        ({"notify": [{"kind": "pager", "conn_id": "x"}]}, r"governance\.notify\.0: .*'email', 'slack', 'webhook'"),
        ({"notify": [{"kind": "email", "to": ["not-an-address"]}]}, r"not addresses: \['not-an-address'\]"),
        ({"notify": [{"kind": "email", "to": []}]}, r"governance\.notify\.0\.email\.to"),
        ({"notify": [{"kind": "slack", "conn_id": "a b"}]}, r"conn_id must name an Airflow connection"),
        (
            {"notify": [{"kind": "webhook", "conn_id": "h", "endpoint": "https://evil.example/x"}]},
            r"endpoint is the path below the connection's base URL",
        ),
        ({"notify": [{"kind": "slack", "conn_id": "s", "on": ["sometimes"]}]}, r"notify\.0\.slack\.on\.0"),
        ({"notify": [{"kind": "slack", "conn_id": "s", "on": []}]}, r"notify\.0\.slack\.on"),
        ({"notify": [{"kind": "slack", "conn_id": "s", "url": "https://hooks"}]}, r"slack\.url: unknown field"),
        ({"fail_run_on": ["aligned"]}, r"governance\.fail_run_on\.0"),
        ({"resolve_after_aligned_nights": 0}, r"governance\.resolve_after_aligned_nights: .*Got 0"),
    ],
    ids=[
        "unknown-kind",
        "bad-address",
        "no-recipient",
        "bad-conn-id",
        "endpoint-with-host",
        "unknown-event",
        "no-event",
        "secret-in-spec",
        "fail-on-aligned",
        "resolve-after-zero",
    ],
)
def test_bad_governance_names_the_field(raw: dict[str, Any], governance: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError, match=expected):
        _with(raw, **governance)


@pytest.mark.parametrize(
    ("fail_run_on", "verdict", "fails"),
    [
        (["misaligned", "quarantined"], "misaligned", True),
        (["misaligned", "quarantined"], "quarantined", True),
        (["misaligned", "quarantined"], "drifting", False),
        (["misaligned", "quarantined"], "aligned", False),
        ([], "quarantined", False),
        (["watch", "drifting"], "watch", True),
    ],
    ids=["misaligned-default", "quarantined-default", "drifting-green", "aligned-green", "opted-out", "strict"],
)
def test_run_should_fail(raw: dict[str, Any], fail_run_on: list[str], verdict: str, fails: bool) -> None:
    spec = _with(raw, fail_run_on=fail_run_on)
    message = run_should_fail(spec, verdict, incident_id="content_safety-2026-01-12-alignment", mlflow_run_id="r1")
    assert (message is not None) == fails
    if message:
        assert message.startswith(f"content_safety was {verdict}")
        assert "incident content_safety-2026-01-12-alignment" in message and "MLflow run r1" in message
        assert "governance.fail_run_on" in message and f"remove {verdict!r}" in message


def test_run_should_fail_refuses_an_unknown_verdict(raw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"'verdict' parameter must be one of .*Got 'green' instead"):
        run_should_fail(parse_spec(raw), "green")


def test_the_fingerprint_is_the_documented_sha256_of_the_normalised_spec(raw: dict[str, Any]) -> None:
    spec = parse_spec(raw)
    expected = hashlib.sha256(
        json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert objective_fingerprint(spec) == expected and len(expected) == 64


def test_the_fingerprint_ignores_formatting_and_spelled_out_defaults(raw: dict[str, Any]) -> None:
    base = objective_fingerprint(parse_spec(raw))
    spelled = copy.deepcopy(raw)
    spelled["governance"] = {**raw.get("governance", {}), "approval": "automatic", "resolve_after_aligned_nights": 3}
    reordered = dict(reversed(list(copy.deepcopy(raw).items())))
    assert objective_fingerprint(parse_spec(spelled)) == base
    assert objective_fingerprint(parse_spec(yaml.safe_load(yaml.safe_dump(reordered, indent=4)))) == base


def test_loosening_a_floor_changes_the_fingerprint_and_the_diff_says_how(raw: dict[str, Any]) -> None:
    before = parse_spec(raw)
    loosened = copy.deepcopy(raw)
    loosened["benchmarks"][0]["floor"] = 0.55
    loosened["drift"]["alpha"] = 0.01
    loosened["benchmarks"].append({"kind": "metric_floor", "name": "audit_f1", "metric": "f1", "floor": 0.5})
    after = parse_spec(loosened)
    assert objective_fingerprint(after) != objective_fingerprint(before)
    texts = [c.text() for c in objective_diff(before.model_dump(mode="json"), after.model_dump(mode="json"))]
    assert "benchmarks[audit_unsafe_recall].floor: 0.62 → 0.55" in texts
    assert "drift.alpha: 0.05 → 0.01" in texts
    assert any(t.startswith("benchmarks[audit_f1]: (absent) → {") for t in texts)
    assert len(texts) == 3


def test_the_diff_names_removed_items_numbers_unnamed_ones_and_shows_scalar_lists() -> None:
    old = {"columns": {"segments": ["region"]}, "notify": [{"kind": "slack", "conn_id": "a"}], "b": [{"name": "x"}]}
    new = {"columns": {"segments": ["region", "age"]}, "notify": [{"kind": "slack", "conn_id": "b"}], "b": []}
    texts = [c.text() for c in objective_diff(old, new)]
    assert texts == [
        'b[0]: {"name": "x"} → (absent)',
        'columns.segments: ["region"] → ["region", "age"]',
        'notify[0].conn_id: "a" → "b"',
    ]
