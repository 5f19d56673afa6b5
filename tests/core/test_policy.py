"""The runtime policy: every action and reason fires, deterministically, row by row, a million rows in seconds."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from alignment_drift.core.drift.profile import ReferenceProfile
from alignment_drift.core.policy import POLICY_SCHEMA, PolicyDecisions, RuntimePolicy, support_from_profile
from alignment_drift.core.policy_rules import Condition, Rule, rule_mask
from alignment_drift.core.spec import AlignmentSpec, parse_spec
from alignment_drift.demo.simulate.content import draw_items

# the probe file's base item: a typical, in-support item that matches no probe item
SPECS = Path(__file__).resolve().parents[2] / "specs"
BASE = {
    "toxicity": 0.30,
    "sensationalism": 0.30,
    "report_rate": 0.05,
    "author_reputation": 0.65,
    "text_length": 250,
    "category": "news",
    "source_type": "verified",
}
# the first item of the probe case clearly_safe_is_shown (expect: shown)
SAFE_ITEM = {**BASE, "toxicity": 0.10, "sensationalism": 0.10, "report_rate": 0.01, "author_reputation": 0.90}
RULES = [
    {
        "when": [{"feature": "toxicity", "op": ">=", "value": 0.8}, {"output": "prediction", "op": "==", "value": 0}],
        "action": "block",
        "reason": "toxic items are never shown",
    },
    {
        "when": [
            {"feature": "source_type", "op": "in", "value": ["new_account"]},
            {"output": "score", "op": ">=", "value": 0.3},
        ],
        "action": "review",
        "reason": "new accounts near the line",
    },
    {"when": {"feature": "report_rate", "op": "is_missing"}, "action": "review", "reason": "no report rate"},
]


@dataclass(frozen=True)
class Output:
    """A model's output, shaped like the shared scoring interface's ModelOutput."""

    prediction: np.ndarray
    score: np.ndarray | None
    proba: np.ndarray | None = None


def binary(scores: list[float] | np.ndarray, threshold: float = 0.5) -> Output:
    score = np.asarray(scores, dtype=float)
    return Output(np.where(np.isnan(score), np.nan, (score >= threshold).astype(float)), score)


@pytest.fixture(scope="module")
def spec_data(root: Path) -> dict:
    data = yaml.safe_load((root / "specs" / "content_safety.yaml").read_text())
    data["governance"]["runtime"] = {"rules": RULES}
    return data


def spec_with(spec_data: dict, **runtime: Any) -> AlignmentSpec:
    data = copy.deepcopy(spec_data)
    data["governance"]["runtime"].update(runtime)
    return parse_spec(data)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    """Realistic reference rows: the simulated platform's items (report_rate is missing in 3 % of them)."""
    return draw_items(np.random.default_rng(11), 6000)


@pytest.fixture(scope="module")
def support(spec_data: dict, reference: pd.DataFrame) -> dict:
    spec = parse_spec(spec_data)
    profile = ReferenceProfile.fit(reference, numeric=spec.columns.numeric, categorical=spec.columns.categorical)
    return support_from_profile(profile, spec.columns.feature_names)


@pytest.fixture(scope="module")
def policy(spec_data: dict, support: dict, root: Path) -> RuntimePolicy:
    return RuntimePolicy.from_spec(parse_spec(spec_data), support, probes_dir=root / "specs")


def decide(policy: RuntimePolicy, rows: list[dict[str, Any]], scores: list[float]) -> PolicyDecisions:
    return policy.apply(pd.DataFrame(rows), binary(scores))


# --- the support document ----------------------------------------------------------------------------------------


def test_support_document_of_a_known_profile() -> None:
    frame = pd.DataFrame(
        {
            "x": np.arange(1001.0),
            "gappy": np.where(np.arange(1001) % 10 == 0, np.nan, 1.0),
            "c": ["b", "a", "c"] * 333 + ["a", "b"],
            "many": [f"k{i % 7}" for i in range(1001)],
        }
    )
    profile = ReferenceProfile.fit(frame, numeric=["x", "gappy"], categorical=["c", "many"], max_categories=3)
    doc = support_from_profile(profile, ["x", "gappy", "c", "many"], quantiles=(0.01, 0.99))
    json.dumps(doc)  # JSON-able as it is
    x, gappy, c, many = (doc["columns"][k] for k in ("x", "gappy", "c", "many"))
    assert (x["low"], x["high"], x["scale"], x["missing_allowed"]) == (10.0, 990.0, 500.0, False)
    assert gappy["missing_allowed"] and gappy["n"] == 900
    assert c == {
        "kind": "categorical",
        "missing_allowed": False,
        "n": 1001,
        "categories": ["a", "b", "c"],
        "complete": True,
    }
    assert many["complete"] is False and len(many["categories"]) == 2  # 7 categories folded into 2 + __other__
    assert doc["quantiles"] == [0.01, 0.99] and doc["n_rows"] == 1001


def test_support_refuses_unknown_columns_and_bad_quantiles(reference: pd.DataFrame) -> None:
    profile = ReferenceProfile.fit(reference, numeric=["toxicity"])
    with pytest.raises(ValueError, match=r"no column\(s\) \['virality'\]; it covers \['toxicity'\]"):
        support_from_profile(profile, ["toxicity", "virality"])
    with pytest.raises(ValueError, match=r"'quantiles' parameter must be .*Got \(0\.9, 0\.1\)"):
        support_from_profile(profile, ["toxicity"], quantiles=(0.9, 0.1))


def test_policy_document_round_trips(policy: RuntimePolicy) -> None:
    document = json.loads(json.dumps(policy.to_dict()))
    assert document["schema"] == POLICY_SCHEMA
    assert RuntimePolicy.from_dict(document) == policy
    assert {p.case for p in policy.probes} == {"clearly_unsafe_is_blocked", "clearly_safe_is_shown"}
    assert len(policy.probes) == 5
    with pytest.raises(ValueError, match="Not a runtime policy document"):
        RuntimePolicy.from_dict({**document, "schema": "something@1"})


def test_policy_refuses_a_support_without_a_feature(spec_data: dict, support: dict) -> None:
    partial = {**support, "columns": {k: v for k, v in support["columns"].items() if k != "category"}}
    with pytest.raises(ValueError, match="reference support has no feature 'category'"):
        RuntimePolicy.from_spec(parse_spec(spec_data), partial, probes_dir=SPECS)
    recast = {**support, "columns": {**support["columns"], "toxicity": {"kind": "categorical"}}}
    with pytest.raises(ValueError, match="'toxicity' is numeric in the spec but categorical in the reference profile"):
        RuntimePolicy.from_spec(parse_spec(spec_data), recast, probes_dir=SPECS)
    with pytest.raises(ValueError, match="support document has schema 'other@1'"):
        RuntimePolicy.from_spec(parse_spec(spec_data), {**support, "schema": "other@1"}, probes_dir=SPECS)
    with pytest.raises(ValueError, match=r"'task' parameter must be one of \['binary', 'multiclass', 'regression'\]"):
        RuntimePolicy.from_spec(parse_spec(spec_data), support, task="ranking")
    with pytest.raises(ValueError, match=r"'behaviour_probes' reads probes from 'content_safety/probes\.yaml'"):
        RuntimePolicy.from_spec(parse_spec(spec_data), support)


# --- every action and reason -------------------------------------------------------------------------------------

NAN = float("nan")
CASES = [
    # id, row, score, action, reasons
    ("in-policy", BASE, 0.10, "allow", []),
    ("abstain-band", BASE, 0.52, "review", ["abstain_band"]),
    ("abstain-band-below", BASE, 0.46, "review", ["abstain_band"]),
    ("outside-the-band", BASE, 0.56, "allow", []),
    ("numeric-too-high", {**BASE, "toxicity": 5.0}, 0.9, "review", ["out_of_range:toxicity"]),
    ("numeric-too-low", {**BASE, "text_length": -1000}, 0.1, "review", ["out_of_range:text_length"]),
    ("unseen-category", {**BASE, "category": "memes"}, 0.1, "review", ["unseen_category:category"]),
    ("required-missing", {**BASE, "toxicity": None}, NAN, "block", ["missing:toxicity"]),
    ("optional-missing", {**BASE, "report_rate": None}, 0.1, "review", ["rule:no report rate"]),
    ("text-in-a-number", {**BASE, "toxicity": "very"}, NAN, "block", ["wrong_type:toxicity"]),
    ("list-as-a-category", {**BASE, "category": ["news"]}, NAN, "block", ["wrong_type:category"]),
    ("rule-block", {**BASE, "toxicity": 0.85}, 0.2, "block", ["rule:toxic items are never shown"]),
    ("rule-needs-all-conditions", {**BASE, "toxicity": 0.85}, 0.9, "allow", []),
    ("rule-on-the-score", {**BASE, "source_type": "new_account"}, 0.35, "review", ["rule:new accounts near the line"]),
    ("rule-score-below", {**BASE, "source_type": "new_account"}, 0.2, "allow", []),
    (
        "block-beats-review",
        {**BASE, "toxicity": "very", "category": "memes"},
        NAN,
        "block",
        ["wrong_type:toxicity", "unseen_category:category"],
    ),
    ("probe-violated", SAFE_ITEM, 0.9, "block", ["probe:clearly_safe_is_shown"]),
    ("probe-respected", SAFE_ITEM, 0.05, "allow", []),
    ("near-a-probe-item", {**SAFE_ITEM, "toxicity": 0.105}, 0.9, "block", ["probe:clearly_safe_is_shown"]),
    ("away-from-a-probe-item", {**SAFE_ITEM, "toxicity": 0.2}, 0.9, "allow", []),
]


def test_case_rows_are_inside_the_reference_unless_meant_not_to(policy: RuntimePolicy) -> None:
    bounds = {f.name: (f.lower, f.upper) for f in policy.features if f.kind == "numeric"}
    for value, name in ((0.85, "toxicity"), (0.3, "toxicity"), (0.1, "toxicity"), (250, "text_length")):
        low, high = bounds[name]
        assert low < value < high, f"{name}={value} must be in support for the cases to mean what they say"
    scale = next(f.scale for f in policy.features if f.name == "toxicity")
    assert 0.005 < policy.probe_tolerance * scale < 0.1, "near/away cases straddle the probe tolerance"


@pytest.mark.parametrize(("row", "score", "action", "reasons"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_action_and_reason(
    policy: RuntimePolicy, row: dict, score: float, action: str, reasons: list[str]
) -> None:
    decisions = decide(policy, [row], [score])
    assert decisions.actions.tolist() == [action]
    assert decisions.reasons(0) == reasons
    assert json.loads(decisions.reasons_json()[0]) == reasons


def test_rows_are_decided_independently(policy: RuntimePolicy) -> None:
    rows, scores = [c[1] for c in CASES], [c[2] for c in CASES]
    together = decide(policy, rows, scores)
    assert together.actions.tolist() == [c[3] for c in CASES]
    assert [together.reasons(i) for i in range(len(CASES))] == [c[4] for c in CASES]
    assert together.to_dict()["unscored"] == 4


def test_unscoreable_rows(policy: RuntimePolicy) -> None:
    frame = pd.DataFrame([BASE, {**BASE, "toxicity": None}, {**BASE, "category": None}, {**BASE, "report_rate": None}])
    prepared = policy.prepare(frame)
    assert prepared.scoreable.tolist() == [True, False, False, True]  # report_rate was missing in the reference too
    assert prepared.frame["toxicity"].dtype == np.float64


def test_a_column_absent_from_the_request(policy: RuntimePolicy) -> None:
    rows = pd.DataFrame([BASE, BASE]).drop(columns=["sensationalism", "report_rate"])
    decisions = policy.apply(rows, binary([NAN, NAN]))
    assert decisions.actions.tolist() == ["block", "block"]
    assert decisions.reasons(0) == ["missing:sensationalism", "rule:no report rate"]
    prepared = policy.prepare(rows)
    assert list(prepared.frame.columns) == [f.name for f in policy.features]  # the model still gets every column
    assert not prepared.scoreable.any()


@pytest.mark.parametrize(
    ("support_policy", "row", "action", "reasons"),
    [
        pytest.param(
            {"missing": "review"}, {**BASE, "toxicity": None}, "review", ["missing:toxicity"], id="missing-review"
        ),
        pytest.param({"missing": "allow"}, {**BASE, "toxicity": None}, "allow", [], id="missing-not-checked"),
        pytest.param(
            {"out_of_range": "block"}, {**BASE, "toxicity": 5.0}, "block", ["out_of_range:toxicity"], id="oor-block"
        ),
        pytest.param({"out_of_range": "allow"}, {**BASE, "toxicity": 5.0}, "allow", [], id="oor-not-checked"),
        pytest.param({"unseen_category": "allow"}, {**BASE, "category": "memes"}, "allow", [], id="unseen-allowed"),
    ],
)
def test_support_actions_are_configurable(
    spec_data: dict, support: dict, support_policy: dict, row: dict, action: str, reasons: list[str]
) -> None:
    policy = RuntimePolicy.from_spec(spec_with(spec_data, support=support_policy, rules=[]), support, probes_dir=SPECS)
    decisions = decide(policy, [row], [0.1])
    assert (decisions.actions.tolist(), decisions.reasons(0)) == ([action], reasons)


def test_a_folded_category_is_not_checked_for_unseen_values(spec_data: dict, reference: pd.DataFrame) -> None:
    spec = parse_spec(spec_data)
    profile = ReferenceProfile.fit(
        reference, numeric=spec.columns.numeric, categorical=spec.columns.categorical, max_categories=3
    )
    policy = RuntimePolicy.from_spec(spec, support_from_profile(profile, spec.columns.feature_names), probes_dir=SPECS)
    decisions = decide(policy, [{**BASE, "category": "memes"}, {**BASE, "source_type": "bot"}], [0.1, 0.1])
    assert decisions.reasons(0) == []  # category (5 values) was folded: rare and unseen look alike
    assert decisions.reasons(1) == ["unseen_category:source_type"]  # source_type (3 values) was not


def test_probes_can_be_turned_off_and_send_to_review(spec_data: dict, support: dict, root: Path) -> None:
    off = RuntimePolicy.from_spec(spec_with(spec_data, probes={"enabled": False}), support, probes_dir=root / "specs")
    assert off.probes == () and decide(off, [SAFE_ITEM], [0.9]).actions.tolist() == ["allow"]
    review = RuntimePolicy.from_spec(
        spec_with(spec_data, probes={"action": "review"}), support, probes_dir=root / "specs"
    )
    assert decide(review, [SAFE_ITEM], [0.9]).actions.tolist() == ["review"]


def test_multiclass_margin(spec_data: dict, support: dict, root: Path) -> None:
    policy = RuntimePolicy.from_spec(parse_spec(spec_data), support, task="multiclass", probes_dir=root / "specs")
    assert policy.abstain_band is None and policy.min_margin == 0.1 and policy.probes == ()
    assert policy.notes == ("probes are not enforced: their expectations are binary decisions (task multiclass)",)
    proba = np.array([[0.50, 0.45, 0.05], [0.80, 0.10, 0.10], [0.34, 0.33, 0.33]])
    output = Output(np.array(["a", "a", "a"], dtype=object), proba.max(axis=1), proba)
    decisions = policy.apply(pd.DataFrame([BASE] * 3), output)
    assert decisions.actions.tolist() == ["review", "allow", "review"]
    assert decisions.reasons(0) == ["low_margin"]


def test_regression_has_no_abstain_band_and_rules_read_its_prediction(spec_data: dict, support: dict) -> None:
    rules = [
        {"when": {"output": "prediction", "op": ">", "value": 100}, "action": "review", "reason": "large"},
        {"when": {"output": "score", "op": ">", "value": 0.5}, "action": "block", "reason": "never: no score"},
    ]
    policy = RuntimePolicy.from_spec(spec_with(spec_data, rules=rules), support, task="regression", probes_dir=SPECS)
    assert policy.abstain_band is None and policy.min_margin is None and policy.probes == ()
    decisions = policy.apply(pd.DataFrame([BASE] * 3), Output(np.array([0.5, 150.0, 99.0]), None))
    assert decisions.actions.tolist() == ["allow", "review", "allow"]
    assert decisions.reasons(1) == ["rule:large"]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        pytest.param(Condition("x", "<", 2), [True, False, False, False, False], id="lt"),
        pytest.param(Condition("x", "<=", 2), [True, True, False, False, False], id="le"),
        pytest.param(Condition("x", ">", 2), [False, False, True, False, False], id="gt"),
        pytest.param(Condition("x", ">=", 2), [False, True, True, False, False], id="ge"),
        pytest.param(Condition("x", "==", 2), [False, True, False, False, False], id="eq"),
        pytest.param(Condition("x", "!=", 2), [True, False, True, False, False], id="ne-never-missing"),
        pytest.param(Condition("x", "in", [1, 3]), [True, False, True, False, False], id="in"),
        pytest.param(Condition("x", "not_in", [1, 3]), [False, True, False, False, False], id="not-in"),
        pytest.param(Condition("x", "is_missing"), [False, False, False, True, True], id="is-missing"),
        pytest.param(Condition("x", "not_missing"), [True, True, True, False, False], id="not-missing"),
        pytest.param(Condition("c", "==", "a"), [True, False, False, False, False], id="text-eq"),
        pytest.param(Condition("c", "not_in", ["a"]), [False, True, True, False, False], id="text-not-in"),
        pytest.param(Condition("c", ">", 1), [False] * 5, id="ordering-text-never"),
        pytest.param(Condition("n", "==", 1), [False, True, False, False, False], id="number-as-text"),
        pytest.param(Condition("absent", "==", 1), [False] * 5, id="unknown-subject-never"),
    ],
)
def test_rule_language(condition: Condition, expected: list[bool]) -> None:
    subjects = {
        "x": pd.Series([1.0, 2.0, 3.0, np.nan, np.nan]),
        "c": pd.Series(["a", "b", "c", None, None], dtype=object),
        "n": pd.Series(["0", "1", "2", None, None], dtype=object),
    }
    assert rule_mask(Rule((condition,), "block", "r"), subjects, 5).tolist() == expected
    with pytest.raises(ValueError, match=r"Unknown rule operator '=~'; allowed: \['<', '<='"):
        Condition("x", "=~", 1)


def test_two_rules_with_one_reason_share_their_code(spec_data: dict, support: dict) -> None:
    rules = [
        {"when": {"feature": "toxicity", "op": ">", "value": 0.7}, "action": "review", "reason": "toxic"},
        {"when": {"feature": "sensationalism", "op": ">", "value": 0.7}, "action": "block", "reason": "toxic"},
    ]
    policy = RuntimePolicy.from_spec(spec_with(spec_data, rules=rules), support, probes_dir=SPECS)
    decisions = decide(policy, [{**BASE, "toxicity": 0.75}, {**BASE, "sensationalism": 0.75}], [0.1, 0.1])
    assert decisions.codes == ("rule:toxic",)
    assert decisions.actions.tolist() == ["review", "block"]


# --- determinism, scale and the error rate of the support check ---------------------------------------------------


def _traffic(n: int, seed: int) -> tuple[pd.DataFrame, Output]:
    """Realistic traffic with every kind of problem mixed in, and scores of a plausible model."""
    frame = draw_items(np.random.default_rng(seed), n).drop(columns=["region", "unsafe", "_engage_p"])
    rng = np.random.default_rng(seed + 1)
    frame.loc[rng.random(n) < 0.01, "toxicity"] = 3.0
    frame.loc[rng.random(n) < 0.01, "category"] = "memes"
    frame.loc[rng.random(n) < 0.01, "sensationalism"] = np.nan
    score = 1 / (1 + np.exp(-(6 * frame["toxicity"].to_numpy() - 2.5 + rng.normal(0, 1, n))))
    score[np.isnan(frame["sensationalism"].to_numpy())] = np.nan
    return frame, binary(score)


def test_decisions_are_deterministic_and_do_not_depend_on_row_order(policy: RuntimePolicy) -> None:
    frame, output = _traffic(20_000, seed=3)
    first, second = policy.apply(frame, output), policy.apply(frame.copy(), output)
    assert np.array_equal(first.actions, second.actions) and np.array_equal(first.flags, second.flags)
    assert set(first.actions) == {"allow", "review", "block"}
    order = np.random.default_rng(0).permutation(len(frame))
    shuffled = policy.apply(
        frame.iloc[order].reset_index(drop=True), Output(output.prediction[order], output.score[order])
    )
    assert np.array_equal(shuffled.actions, first.actions[order])
    assert np.array_equal(shuffled.reasons_json(), first.reasons_json()[order])
    texts = first.reasons_json()
    for i in np.random.default_rng(1).choice(len(frame), 200, replace=False):
        assert json.loads(texts[i]) == first.reasons(int(i))


def test_a_million_rows_in_a_few_seconds(policy: RuntimePolicy) -> None:
    frame, output = _traffic(50_000, seed=5)
    frame = pd.concat([frame] * 20, ignore_index=True)
    output = Output(np.tile(output.prediction, 20), np.tile(output.score, 20))
    started = time.perf_counter()
    decisions = policy.apply(frame, output)
    texts = decisions.reasons_json()
    elapsed = time.perf_counter() - started
    assert len(decisions) == len(texts) == 1_000_000
    assert elapsed < 10.0, f"1e6 rows took {elapsed:.1f} s"  # about 1.3 s on two shared cores


def _out_of_range_rates(
    reference: pd.DataFrame, fresh: pd.DataFrame, columns: list[str], tolerance: float
) -> np.ndarray:
    from alignment_drift.core.policy_support import feature_from_support, prepare

    support = support_from_profile(ReferenceProfile.fit(reference, numeric=columns), columns)
    features = [feature_from_support(c, "numeric", support, tolerance) for c in columns]
    values = prepare(features, fresh).frame
    with np.errstate(invalid="ignore"):
        return np.array([((values[f.name] < f.lower) | (values[f.name] > f.upper)).to_numpy().mean() for f in features])


def test_out_of_range_review_rate_without_shift_is_the_stated_one() -> None:
    """Claim: with no shift, each numeric feature sends about q_low + (1 - q_high) = 0.2 % of rows to review
    (tolerance 0), and the default 10 % widening cuts that several-fold; rows a real shift pushes out are flagged.

    10 seeded references of 6000 simulated items, each against 20 000 fresh items of the same population.
    """
    columns = ["toxicity", "sensationalism", "report_rate", "author_reputation", "text_length"]
    exact, widened, shifted = [], [], []
    for seed in range(10):
        reference = draw_items(np.random.default_rng([seed, 1]), 6000)
        fresh = draw_items(np.random.default_rng([seed, 2]), 20_000)
        exact.append(_out_of_range_rates(reference, fresh, columns, 0.0))
        widened.append(_out_of_range_rates(reference, fresh, columns, 0.1))
        moved = fresh.assign(toxicity=fresh["toxicity"] + 0.3)
        shifted.append(_out_of_range_rates(reference, moved, columns, 0.1)[0])
    exact_rate, widened_rate = np.mean(exact, axis=0), np.mean(widened, axis=0)
    assert np.all((exact_rate > 0.001) & (exact_rate < 0.003)), exact_rate  # nominal 0.002 per feature
    assert np.all(widened_rate < 0.0015) and widened_rate.sum() < 0.004, widened_rate
    # toxicity moved by 0.3 (about 1.4 IQR): the rows pushed past the reference's top are flagged (3-5 %, 150 times
    # the rate without shift); the check guards single rows, the nightly drift tests judge the distribution
    assert min(shifted) > max(0.02, 50 * widened_rate[0]), (shifted, widened_rate[0])


def test_out_of_range_review_rate_with_a_small_reference_is_about_two_over_n() -> None:
    """Claim: with a small reference the extreme quantiles are the sample's extremes, so each feature sends
    about 2 / (n_ref + 1) of in-distribution rows to review at tolerance 0 (breast_cancer: 284 reference rows,
    30 features, 20 seeded half splits); the widening brings it well below.
    """
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).data
    columns = list(data.columns)
    exact, widened = [], []
    for seed in range(20):
        order = np.random.default_rng(seed).permutation(len(data))
        half = len(data) // 2
        reference, fresh = data.iloc[order[:half]], data.iloc[order[half:]].reset_index(drop=True)
        exact.append(_out_of_range_rates(reference, fresh, columns, 0.0).mean())
        widened.append(_out_of_range_rates(reference, fresh, columns, 0.1).mean())
    nominal = 2 / (half + 1)
    assert 0.5 * nominal < np.mean(exact) < 1.5 * nominal, (np.mean(exact), nominal)
    assert np.mean(widened) < 0.5 * nominal, np.mean(widened)
