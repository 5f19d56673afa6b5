"""The runtime policy around a served model: per row, ``allow``, ``review`` or ``block``, and why.

:func:`support_from_profile` (from :mod:`.policy_support`) turns a version's
reference profile into a small JSON document of its *support*; the rules'
expression language is :mod:`.policy_rules`. :meth:`RuntimePolicy.from_spec`
combines it with the spec's ``governance.runtime`` section (see
:mod:`alignment_drift.core.spec.runtime` for what each check means) into a
policy that is itself a JSON document (``to_dict``/``from_dict``, schema
``alignment-drift/runtime-policy@1``): what the served model carries.

:meth:`RuntimePolicy.apply` is pure, deterministic and vectorised: a million
rows take about a second. Reason codes (in this order, per feature first):
``missing:<feature>``, ``wrong_type:<feature>``, ``out_of_range:<feature>``,
``unseen_category:<feature>``, ``abstain_band``, ``low_margin``,
``rule:<reason>``, ``probe:<case id>``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import pandas as pd

from alignment_drift.core.policy_rules import Rule, rule_mask
from alignment_drift.core.policy_support import (
    SUPPORT_SCHEMA,
    Feature,
    Prepared,
    feature_from_support,
    prepare,
    support_from_profile,
)

if TYPE_CHECKING:
    from alignment_drift.core.spec import AlignmentSpec

__all__ = [
    "ACTIONS",
    "POLICY_SCHEMA",
    "SUPPORT_SCHEMA",
    "Feature",
    "ModelOutputLike",
    "PolicyDecisions",
    "Prepared",
    "RuntimePolicy",
    "support_from_profile",
]

POLICY_SCHEMA = "alignment-drift/runtime-policy@1"
ACTIONS: tuple[str, ...] = ("allow", "review", "block")
TASKS = ("binary", "multiclass", "regression")
_MAX_PROBE_ITEMS = 1_000


class ModelOutputLike(Protocol):
    """What :meth:`RuntimePolicy.apply` reads of the model's output (the shared scoring interface's ModelOutput)."""

    @property
    def prediction(self) -> np.ndarray: ...
    @property
    def score(self) -> np.ndarray | None: ...
    @property
    def proba(self) -> np.ndarray | None: ...


@dataclass(frozen=True)
class ProbeItem:
    """One item of a minimum-functionality probe case: rows near it must get ``expect``."""

    case: str
    expect: Literal["blocked", "shown"]
    values: dict[str, Any]


@dataclass(frozen=True)
class PolicyDecisions:
    """Per row: the action (``action_codes`` index ``ACTIONS``) and the reasons (``flags`` over ``codes``)."""

    codes: tuple[str, ...]
    flags: np.ndarray
    action_codes: np.ndarray
    scored: np.ndarray

    def __len__(self) -> int:
        return int(self.action_codes.size)

    @property
    def actions(self) -> np.ndarray:
        """``allow`` / ``review`` / ``block`` per row."""
        return np.asarray(ACTIONS, dtype=object)[self.action_codes]

    def reasons(self, row: int) -> list[str]:
        """The reason codes of one row, in check order."""
        return [self.codes[j] for j in np.flatnonzero(self.flags[row])]

    def reasons_json(self) -> np.ndarray:
        """Each row's reasons as a JSON array string (``"[]"`` when none), formatted once per distinct pattern."""
        n, k = self.flags.shape
        if k == 0 or n == 0:
            return np.full(n, "[]", dtype=object)
        packed = np.ascontiguousarray(np.packbits(self.flags, axis=1))
        keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
        unique, inverse = np.unique(keys, return_inverse=True)
        texts = []
        for key in unique:
            bits = np.unpackbits(np.frombuffer(key.tobytes(), dtype=np.uint8))[:k]
            texts.append(json.dumps([self.codes[j] for j in np.flatnonzero(bits)]))
        return np.asarray(texts, dtype=object)[inverse.ravel()]

    def to_dict(self) -> dict[str, Any]:
        """Counts: rows per action and per reason code."""
        counts = np.bincount(self.action_codes, minlength=len(ACTIONS))
        return {
            "rows": len(self),
            "actions": {a: int(c) for a, c in zip(ACTIONS, counts, strict=True)},
            "reasons": {c: int(v) for c, v in zip(self.codes, self.flags.sum(axis=0).tolist(), strict=True) if v},
            "unscored": int((~self.scored).sum()),
        }


def _action_code(action: str) -> int:
    return ACTIONS.index(action)


@dataclass(frozen=True)
class RuntimePolicy:
    """The runtime policy of one model version, as enforced by the served wrapper."""

    model: str
    task: Literal["binary", "multiclass", "regression"]
    threshold: float
    features: tuple[Feature, ...]
    abstain_band: float | None = None
    min_margin: float | None = None
    out_of_range: str = "review"
    unseen_category: str = "review"
    missing: str = "block"
    rules: tuple[Rule, ...] = ()
    probes: tuple[ProbeItem, ...] = ()
    probe_tolerance: float = 0.05
    probe_action: str = "block"
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def from_spec(
        cls,
        spec: AlignmentSpec,
        support: dict[str, Any],
        *,
        task: str | None = None,
        decision_threshold: float | None = None,
        probes_dir: Path | str | None = None,
    ) -> RuntimePolicy:
        """The policy of ``spec.governance.runtime`` over the reference ``support`` (:func:`support_from_profile`).

        ``task`` defaults to the spec's ``task`` (binary when the spec has none);
        ``decision_threshold`` to the spec's training threshold; probe files are
        read relative to ``probes_dir`` (the specs folder) and embedded.

        Raises
        ------
        ValueError
            When the support misses a feature or disagrees on its kind, or a
            probe file cannot be found or read.
        """
        from alignment_drift.core.benchmarks.probes import load_probe_suite

        runtime = spec.governance.runtime
        task = task or getattr(spec, "task", None) or "binary"
        if task not in TASKS:
            raise ValueError(f"The 'task' parameter must be one of {list(TASKS)}. Got {task!r} instead.")
        threshold = spec.retraining.training.decision_threshold if decision_threshold is None else decision_threshold
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"The 'decision_threshold' parameter must be in (0, 1). Got {threshold!r} instead.")
        band = runtime.abstain_band if task == "binary" else None  # < 0.5: never covers every score
        if support.get("schema") != SUPPORT_SCHEMA:
            raise ValueError(f"The support document has schema {support.get('schema')!r}; expected {SUPPORT_SCHEMA!r}.")
        features = tuple(
            feature_from_support(f.name, f.kind, support, runtime.support.tolerance) for f in spec.columns.features
        )
        notes: list[str] = []
        probes: list[ProbeItem] = []
        if runtime.probes.enabled:
            if task != "binary":
                notes.append(f"probes are not enforced: their expectations are binary decisions (task {task})")
            else:
                for bench in spec.benchmarks:
                    if bench.kind != "probes":
                        continue
                    if probes_dir is None and not Path(bench.cases).is_absolute():
                        raise ValueError(
                            f"Benchmark {bench.name!r} reads probes from {bench.cases!r}, relative to the specs "
                            "folder: pass probes_dir, or set governance.runtime.probes.enabled: false."
                        )
                    path = Path(bench.cases) if probes_dir is None else Path(probes_dir) / bench.cases
                    suite = load_probe_suite(path)
                    names = spec.columns.feature_names
                    for case in suite.cases:
                        if case.type == "minimum_functionality" and case.expect in ("blocked", "shown"):
                            for item in case.inputs:
                                values = {k: v for k, v in {**suite.base, **item}.items() if k in names}
                                probes.append(ProbeItem(case.id, case.expect, values))
                if len(probes) > _MAX_PROBE_ITEMS:
                    raise ValueError(
                        f"The probes hold {len(probes)} minimum-functionality items; at most "
                        f"{_MAX_PROBE_ITEMS} are enforced at runtime. Fix: probes.enabled: false."
                    )
        return cls(
            model=spec.model,
            task=task,  # type: ignore[arg-type]
            threshold=float(threshold),
            features=features,
            abstain_band=band,
            min_margin=runtime.min_margin if task == "multiclass" else None,
            out_of_range=runtime.support.out_of_range,
            unseen_category=runtime.support.unseen_category,
            missing=runtime.support.missing,
            rules=tuple(Rule.from_spec(r) for r in runtime.rules),
            probes=tuple(probes),
            probe_tolerance=runtime.probes.tolerance,
            probe_action=runtime.probes.action,
            notes=tuple(notes),
        )

    def to_dict(self) -> dict[str, Any]:
        """The policy document the served model carries (schema ``alignment-drift/runtime-policy@1``)."""
        data = asdict(self)
        data["rules"] = [r.to_dict() for r in self.rules]
        return {"schema": POLICY_SCHEMA, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuntimePolicy:
        """Read a policy document written by :meth:`to_dict`."""
        if data.get("schema") != POLICY_SCHEMA:
            raise ValueError(
                f"Not a runtime policy document: schema {data.get('schema')!r}, expected {POLICY_SCHEMA!r}."
            )
        body = {k: v for k, v in data.items() if k != "schema"}
        body["features"] = tuple(Feature(**{**f, "categories": tuple(f["categories"])}) for f in body["features"])
        body["rules"] = tuple(Rule.from_dict(r) for r in body["rules"])
        body["probes"] = tuple(ProbeItem(**p) for p in body["probes"])
        body["notes"] = tuple(body["notes"])
        return cls(**body)

    def prepare(self, frame: pd.DataFrame) -> Prepared:
        """Check ``frame`` against the schema (see :func:`~alignment_drift.core.policy_support.prepare`)."""
        return prepare(self.features, frame)

    def apply(
        self, frame: pd.DataFrame, output: ModelOutputLike, *, prepared: Prepared | None = None
    ) -> PolicyDecisions:
        """The decision of every row of ``frame`` given the model's ``output`` (aligned to the rows).

        Rows :meth:`prepare` found unscoreable may carry anything in the
        output (NaN, None): only their schema reasons are used.
        """
        prep = prepared if prepared is not None else self.prepare(frame)
        n = len(prep.frame)
        scored = prep.scoreable
        checks: list[tuple[str, str, np.ndarray]] = []
        for feat in self.features:
            if self.missing != "allow" and feat.required:
                checks.append((f"missing:{feat.name}", self.missing, prep.missing[feat.name]))
            checks.append((f"wrong_type:{feat.name}", "block", prep.wrong_type[feat.name]))
            if feat.kind == "numeric" and self.out_of_range != "allow" and feat.lower is not None:
                values = prep.frame[feat.name].to_numpy()
                with np.errstate(invalid="ignore"):
                    outside = (values < feat.lower) | (values > feat.upper)
                checks.append((f"out_of_range:{feat.name}", self.out_of_range, outside))
            elif feat.kind == "categorical" and self.unseen_category != "allow" and feat.complete:
                known = prep.text[feat.name]
                unseen = known.notna().to_numpy() & ~known.isin(feat.categories).to_numpy()
                checks.append((f"unseen_category:{feat.name}", self.unseen_category, unseen))
        score = None if output.score is None else np.asarray(output.score, dtype=np.float64)
        if self.task == "binary" and self.abstain_band and score is not None:
            with np.errstate(invalid="ignore"):
                near = np.abs(score - self.threshold) < self.abstain_band
            checks.append(("abstain_band", "review", near & scored))
        if self.task == "multiclass" and self.min_margin and output.proba is not None:
            proba = np.asarray(output.proba, dtype=np.float64)
            if proba.shape[1] >= 2:
                top = -np.partition(-proba, 1, axis=1)[:, :2]
                with np.errstate(invalid="ignore"):
                    low = (top[:, 0] - top[:, 1]) < self.min_margin
                checks.append(("low_margin", "review", low & scored))
        if self.rules:
            subjects = self._subjects(prep, output)
            for rule in self.rules:
                checks.append((f"rule:{rule.reason}", rule.action, rule_mask(rule, subjects, n)))
        if self.probes and score is not None:
            checks.extend(self._probe_checks(prep, score, scored))
        return _decide(checks, n, scored)

    def _subjects(self, prep: Prepared, output: ModelOutputLike) -> dict[str, pd.Series]:
        subjects: dict[str, pd.Series] = {}
        for feat in self.features:
            if feat.kind == "numeric":
                subjects[feat.name] = prep.frame[feat.name]
            else:
                subjects[feat.name] = prep.text[feat.name]
        index = prep.frame.index
        subjects["output:prediction"] = pd.Series(np.asarray(output.prediction), index=index).infer_objects()
        if output.score is not None:
            subjects["output:score"] = pd.Series(np.asarray(output.score, dtype=np.float64), index=index)
        return subjects

    def _probe_checks(self, prep: Prepared, score: np.ndarray, scored: np.ndarray) -> list[tuple[str, str, np.ndarray]]:
        kinds = {f.name: f for f in self.features}
        with np.errstate(invalid="ignore"):
            blocked = score >= self.threshold
        violated: dict[str, np.ndarray] = {}
        for item in self.probes:
            near = scored.copy()
            for name, value in item.values.items():
                feat = kinds[name]
                if feat.kind == "numeric":
                    values = prep.frame[name].to_numpy()
                    with np.errstate(invalid="ignore"):
                        near &= np.abs(values - float(value)) <= self.probe_tolerance * feat.scale
                else:
                    near &= (prep.text[name] == str(value)).fillna(False).to_numpy(dtype=bool)
                if not near.any():
                    break
            wrong = near & (blocked != (item.expect == "blocked"))
            code = f"probe:{item.case}"
            violated[code] = violated[code] | wrong if code in violated else wrong
        return [(code, self.probe_action, mask) for code, mask in violated.items()]


def _decide(checks: list[tuple[str, str, np.ndarray]], n: int, scored: np.ndarray) -> PolicyDecisions:
    codes: list[str] = []
    masks: list[np.ndarray] = []
    action = np.zeros(n, dtype=np.int8)
    for code, act, mask in checks:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            continue
        if code in codes:  # two rules with one reason share their code
            masks[codes.index(code)] |= mask
        else:
            codes.append(code)
            masks.append(mask.copy())
        np.maximum(action, np.where(mask, np.int8(_action_code(act)), np.int8(0)), out=action)
    flags = np.column_stack(masks) if masks else np.zeros((n, 0), dtype=bool)
    return PolicyDecisions(tuple(codes), flags, action, np.asarray(scored, dtype=bool))
