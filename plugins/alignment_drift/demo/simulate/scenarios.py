"""Deployment scenarios of the simulated content platform, one source of drift each.

``engagement_feedback`` is the seed's own example: the platform fine-tunes its
safety classifier every few nights on engagement (the proxy O) instead of
moderator labels (the target T), and creators chase what gets shown, so
sensational content grows (a feedback loop) while safety erodes.
``stable`` has no drift at all; ``covariate_shift`` shifts the inputs only;
``model_update`` deploys one careless model update and nothing else.

The simulator is deterministic under its seed: night ``i`` draws its items
from ``default_rng([seed, i])``, and the only state carried between nights
is what the deployed model's own decisions caused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from alignment_drift.demo.simulate.content import FEATURES, Population, draw_items, night_start

__all__ = ["SCENARIOS", "ContentPlatform", "PlatformUpdate", "Scenario", "ScoringModel"]

ScenarioName = Literal["engagement_feedback", "stable", "covariate_shift", "model_update"]
SCENARIOS: tuple[str, ...] = ("engagement_feedback", "stable", "covariate_shift", "model_update")


class ScoringModel(Protocol):
    """What the simulator needs of a deployed model: scikit-learn's ``predict_proba``."""

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray: ...


@dataclass(frozen=True)
class Scenario:
    """The knobs of one scenario."""

    name: str
    feedback_gain: float = 0.0
    creator_trend: float = 0.0
    covariate_trend: float = 0.0
    platform_updates: tuple[int, ...] = ()
    proxy_shares: tuple[float, ...] = ()
    feedback_memory: float = 0.8
    update_kind: Literal["engagement_finetune", "dropped_feature"] = "engagement_finetune"


_SCENARIOS: dict[str, Scenario] = {
    "stable": Scenario("stable"),
    "engagement_feedback": Scenario(
        "engagement_feedback",
        feedback_gain=0.5,
        feedback_memory=0.9,
        platform_updates=(6, 9, 12, 15),
        proxy_shares=(0.3, 0.45, 0.6, 0.75),
    ),
    "covariate_shift": Scenario("covariate_shift", covariate_trend=0.04),
    "model_update": Scenario("model_update", platform_updates=(8,), update_kind="dropped_feature"),
}


@dataclass(frozen=True)
class PlatformUpdate:
    """A model update the platform deploys on its own, outside any gate.

    ``frame`` is what it trains on, ``label`` which column kind it learns
    (for a ``mixed`` label, ``frame["_label"]`` holds it row by row),
    ``sample_weight`` how much each row counts, ``features`` the inputs it
    uses (a careless update may drop one).
    """

    night: int
    kind: str
    frame: pd.DataFrame
    label: Literal["target", "proxy"]
    features: tuple[str, ...]
    sample_weight: np.ndarray | None = None


@dataclass
class ContentPlatform:
    """The simulated platform: its population, its users, and its own model updates.

    Parameters
    ----------
    scenario : str
        One of ``SCENARIOS``.
    seed : int
        Seed of every random draw.
    rows_per_night : int
        Items moderated per night.
    update_nights : tuple of int, optional
        Nights on which the platform deploys its own updates, instead of the scenario's.
    review_fraction : float
        Share of items a moderator reviews (their ``unsafe`` label becomes known).
    decision_threshold : float
        Items scoring at or above it are blocked; the rest are shown.
    start_date : datetime.date
        The date of night 1.
    """

    scenario: str = "engagement_feedback"
    seed: int = 7
    rows_per_night: int = 2000
    review_fraction: float = 0.3
    decision_threshold: float = 0.5
    start_date: dt.date = dt.date(2026, 1, 1)
    update_nights: tuple[int, ...] | None = None
    _shift: float = field(default=0.0, init=False, repr=False)
    _logs: list[pd.DataFrame] = field(default_factory=list, init=False, repr=False)
    _base_approval: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.scenario not in _SCENARIOS:
            raise ValueError(
                f"The 'scenario' parameter must be one of {list(SCENARIOS)}. Got {self.scenario!r} instead."
            )
        if self.rows_per_night < 10:
            raise ValueError(f"The 'rows_per_night' parameter must be >= 10. Got {self.rows_per_night} instead.")
        if not 0.0 < self.review_fraction <= 1.0:
            raise ValueError(f"The 'review_fraction' parameter must be in (0, 1]. Got {self.review_fraction} instead.")

    @property
    def config(self) -> Scenario:
        """The scenario's knobs, with ``update_nights`` overriding when its updates happen."""
        cfg = _SCENARIOS[self.scenario]
        return cfg if self.update_nights is None else replace(cfg, platform_updates=tuple(self.update_nights))

    def training_data(self, n: int = 6000) -> pd.DataFrame:
        """Labelled historical data the first champion is trained on (target and proxy known)."""
        rng = np.random.default_rng([self.seed, 0, 1])
        items = draw_items(rng, n)
        items["engaged"] = (rng.random(n) < items.pop("_engage_p")).astype(np.int64)
        return items

    def audit_set(self, n: int = 3000) -> pd.DataFrame:
        """The fixed, labelled audit set that defines the intended behaviour on known cases."""
        rng = np.random.default_rng([self.seed, 0, 2])
        items = draw_items(rng, n)
        items.pop("_engage_p")
        items.insert(0, "audit_id", [f"audit-{i:05d}" for i in range(n)])
        return items

    def population(self, night: int) -> Population:
        """The item population of ``night`` given the scenario and the feedback so far."""
        cfg = self.config
        shift = self._shift + cfg.creator_trend * (night - 1)
        if cfg.covariate_trend:
            t = cfg.covariate_trend * (night - 1)
            return Population(
                sensational_shift=shift + 1.5 * t,
                category_p=_renorm((0.25 - t, 0.25 + 0.6 * t, 0.15 + 0.4 * t, 0.20, 0.15)),
                source_p=_renorm((0.50 - t, 0.35, 0.15 + t)),
            )
        return Population(sensational_shift=shift)

    def night(self, night: int, model: ScoringModel, *, model_version: str) -> pd.DataFrame:
        """Run night ``night`` (1-based) with the deployed ``model`` and return its prediction log.

        The model's decisions feed back: what it shows is what users engage
        with, and (under ``engagement_feedback``) what creators make more of.
        """
        if night < 1:
            raise ValueError(f"The 'night' parameter must be >= 1. Got {night} instead.")
        rng = np.random.default_rng([self.seed, night])
        n = self.rows_per_night
        items = draw_items(rng, n, self.population(night))
        engage_p = items.pop("_engage_p").to_numpy()
        unsafe = items.pop("unsafe").to_numpy()
        score = np.asarray(model.predict_proba(items[list(FEATURES)]))[:, 1]
        blocked = (score >= self.decision_threshold).astype(np.int64)
        shown = 1 - blocked
        engaged = np.where(shown == 1, (rng.random(n) < engage_p).astype(np.float64), np.nan)
        reviewed = rng.random(n) < self.review_fraction
        start = night_start(self.start_date, night)
        seconds = np.sort(rng.integers(0, 86_400, n))
        log = pd.DataFrame(
            {
                "prediction_id": [f"{start:%Y%m%d}-{i:06d}" for i in range(n)],
                "timestamp": pd.to_datetime(start) + pd.to_timedelta(seconds, unit="s"),
                **{c: items[c] for c in items.columns},
                "model_version": model_version,
                "score": score,
                "prediction": blocked,
                "shown": shown,
                "engaged": engaged,
                "unsafe": np.where(reviewed, unsafe.astype(np.float64), np.nan),
            }
        )
        log["timestamp"] = log["timestamp"].astype("datetime64[us, UTC]")
        self._feedback(items, shown)
        self._logs.append(log)
        return log

    def _feedback(self, items: pd.DataFrame, shown: np.ndarray) -> None:
        sensational = items["sensationalism"].to_numpy() > 0.5
        approval = float(shown[sensational].mean()) if sensational.any() else 0.0
        if self._base_approval is None:
            self._base_approval = approval
        cfg = self.config
        self._shift = cfg.feedback_memory * self._shift + cfg.feedback_gain * max(0.0, approval - self._base_approval)

    def platform_update(self, night: int) -> PlatformUpdate | None:
        """The platform's own model update due before ``night``, if the scenario has one.

        ``engagement_finetune`` trains on the historical data (target labels)
        plus every shown item logged so far relabelled by engagement (the
        proxy), the proxy rows weighing a growing share of the total; a
        ``dropped_feature`` update retrains on the historical target labels
        but without the toxicity input.
        """
        cfg = self.config
        if night not in cfg.platform_updates:
            return None
        history = self.training_data()
        if cfg.update_kind == "dropped_feature":
            features = tuple(f for f in FEATURES if f != "toxicity")
            return PlatformUpdate(night, cfg.update_kind, history, "target", features)
        logged = pd.concat(self._logs, ignore_index=True) if self._logs else history.iloc[:0]
        logged = logged[logged["shown"] == 1]
        share = cfg.proxy_shares[min(cfg.platform_updates.index(night), len(cfg.proxy_shares) - 1)]
        # the platform's label: engagement decides for logged items, moderators for history
        proxy_label = 1.0 - logged["engaged"].to_numpy()
        frame = pd.concat(
            [
                history.assign(unsafe=history["unsafe"].astype(float)),
                logged[list(history.columns)].assign(unsafe=proxy_label),
            ],
            ignore_index=True,
        )
        n_hist, n_log = len(history), len(logged)
        weight = np.concatenate([np.full(n_hist, (1 - share) / n_hist), np.full(n_log, share / max(n_log, 1))])
        return PlatformUpdate(night, cfg.update_kind, frame, "target", FEATURES, weight * len(frame))


def _renorm(p: tuple[float, ...]) -> tuple[float, ...]:
    clipped = np.clip(np.array(p, dtype=float), 0.01, None)
    return tuple(float(v) for v in clipped / clipped.sum())
