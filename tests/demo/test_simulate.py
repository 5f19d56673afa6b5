"""The simulated content platform: deterministic, and its scenarios do what they claim."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import recall_score, roc_auc_score

from alignment_drift.core.spec import ColumnRoles, Feature, Training
from alignment_drift.core.training import fit_pipeline
from alignment_drift.demo.simulate import FEATURES, ContentPlatform

ROLES = ColumnRoles(
    id="prediction_id",
    timestamp="timestamp",
    features=[Feature(name=f, kind="categorical" if f in ("category", "source_type") else "numeric") for f in FEATURES],
    prediction="prediction",
    score="score",
    target="unsafe",
    proxy="engaged",
    proxy_positive=0,
    exposure="shown",
)


@pytest.fixture(scope="module")
def champion():
    return fit_pipeline(ContentPlatform("stable").training_data(), ROLES, Training())


def _audit(model, platform: ContentPlatform) -> tuple[float, float]:
    audit = platform.audit_set()
    score = model.predict_proba(audit[list(FEATURES)])[:, 1]
    return recall_score(audit["unsafe"], score >= 0.5), roc_auc_score(audit["unsafe"], score)


def test_same_seed_same_nights(champion) -> None:
    a = ContentPlatform("engagement_feedback", seed=3).night(1, champion, model_version="1")
    b = ContentPlatform("engagement_feedback", seed=3).night(1, champion, model_version="1")
    c = ContentPlatform("engagement_feedback", seed=4).night(1, champion, model_version="1")
    pd.testing.assert_frame_equal(a, b)
    assert not a["toxicity"].equals(c["toxicity"])


def test_prediction_log_columns_and_label_visibility(champion) -> None:
    log = ContentPlatform("stable", rows_per_night=3000, review_fraction=0.3).night(1, champion, model_version="1")
    assert log["prediction_id"].is_unique
    assert str(log["timestamp"].dtype) == "datetime64[us, UTC]"
    assert log["timestamp"].min() >= pd.Timestamp("2026-01-01", tz="UTC")
    assert log["timestamp"].max() < pd.Timestamp("2026-01-02", tz="UTC")
    # the proxy is only observed for items that were shown; the target for a reviewed sample
    assert log.loc[log["shown"] == 0, "engaged"].isna().all()
    assert log.loc[log["shown"] == 1, "engaged"].notna().all()
    assert 0.25 < log["unsafe"].notna().mean() < 0.35
    assert (log["prediction"] == (log["score"] >= 0.5)).all()


def test_engagement_updates_really_degrade_safety(champion) -> None:
    platform = ContentPlatform("engagement_feedback")
    base_recall, base_auc = _audit(champion, platform)
    model, aucs = champion, []
    for night in range(1, 16):
        update = platform.platform_update(night)
        if update is not None:
            model = fit_pipeline(
                update.frame, ROLES, Training(), label=update.label, sample_weight=update.sample_weight
            )
            aucs.append(_audit(model, platform)[1])
        platform.night(night, model, model_version=str(night))
    assert len(aucs) == 4
    assert aucs == sorted(aucs, reverse=True), "each engagement fine-tune must be worse than the last"
    assert base_auc - aucs[-1] > 0.2
    assert _audit(model, platform)[0] < base_recall - 0.1


def test_feedback_loop_shifts_the_population_only_under_a_degraded_model(champion) -> None:
    aligned = ContentPlatform("engagement_feedback", update_nights=())
    for night in range(1, 11):
        last_aligned = aligned.night(night, champion, model_version="1")
    proxy_model = fit_pipeline(ContentPlatform("stable").training_data(), ROLES, Training(), label="proxy")
    degraded = ContentPlatform("engagement_feedback", update_nights=())
    for night in range(1, 11):
        last_degraded = degraded.night(night, proxy_model if night > 1 else champion, model_version="x")
    assert last_degraded["sensationalism"].mean() > last_aligned["sensationalism"].mean() + 0.03


def test_stable_has_no_platform_update_and_model_update_drops_a_feature() -> None:
    assert all(ContentPlatform("stable").platform_update(n) is None for n in range(1, 31))
    update = ContentPlatform("model_update").platform_update(8)
    assert update is not None and "toxicity" not in update.features and update.label == "target"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"scenario": "chaos"}, "'scenario' parameter must be one of", id="unknown-scenario"),
        pytest.param({"rows_per_night": 3}, "'rows_per_night' parameter must be >= 10", id="too-few-rows"),
        pytest.param({"review_fraction": 0.0}, "'review_fraction' parameter must be in", id="no-review"),
    ],
)
def test_parameters_are_validated(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ContentPlatform(**kwargs)


def test_covariate_shift_moves_inputs(champion) -> None:
    platform = ContentPlatform("covariate_shift")
    first = platform.night(1, champion, model_version="1")
    late = platform.night(25, champion, model_version="1")
    assert late["sensationalism"].mean() > first["sensationalism"].mean() + 0.05
    assert (late["source_type"] == "new_account").mean() > (first["source_type"] == "new_account").mean() + 0.1
    assert np.isfinite(late["score"]).all()
