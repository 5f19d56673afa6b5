"""The objective's version: a fingerprint of the normalised spec, and a readable diff between two of them.

The *normalised spec* is ``spec.model_dump(mode="json")``: every field with
its default filled in, so two YAML files that mean the same thing have the
same fingerprint, and loosening a floor (or anything else) changes it. The
fingerprint is the SHA-256 of its canonical JSON (sorted keys, no spaces); the
gate computes the very same value for the objective it judged against.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from alignment_drift.core.spec.model import AlignmentSpec

__all__ = ["MAX_DIFF_ENTRIES", "SpecChange", "normalised_spec", "objective_diff", "objective_fingerprint"]

MAX_DIFF_ENTRIES = 200
_ABSENT = "(absent)"


def normalised_spec(spec: AlignmentSpec) -> dict[str, Any]:
    """The spec as JSON-able data with every default filled in (what the fingerprint is taken of)."""
    return spec.model_dump(mode="json")


def objective_fingerprint(spec: AlignmentSpec) -> str:
    """The SHA-256 (hex) of the normalised spec's canonical JSON: the version of the objective.

    Any change of the spec that changes its meaning changes the fingerprint; formatting, comments and
    spelling out a default do not.
    """
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class SpecChange:
    """One difference between two normalised specs.

    ``path`` names the field as a reader would (``benchmarks[audit_unsafe_recall].floor``: list items
    that have a ``name`` are named, others are numbered); ``old``/``new`` are the JSON values
    (``None`` with ``change`` ``added``/``removed`` when the field is absent on one side).
    """

    path: str
    change: Literal["changed", "added", "removed"]
    old: Any
    new: Any

    def text(self) -> str:
        """``benchmarks[audit_unsafe_recall].floor: 0.65 → 0.55``."""
        old = _ABSENT if self.change == "added" else _show(self.old)
        new = _ABSENT if self.change == "removed" else _show(self.new)
        return f"{self.path}: {old} → {new}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text()}


def _show(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, sort_keys=True, separators=(", ", ": "), ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _named(items: list[Any]) -> dict[str, Any] | None:
    """Items keyed by their ``name`` when every item is a mapping with a unique string name."""
    if not items or not all(isinstance(i, Mapping) and isinstance(i.get("name"), str) for i in items):
        return None
    keyed = {str(i["name"]): i for i in items}
    return keyed if len(keyed) == len(items) else None


def _walk(old: Any, new: Any, path: str, out: list[SpecChange]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new)):
            where = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(SpecChange(where, "added", None, new[key]))
            elif key not in new:
                out.append(SpecChange(where, "removed", old[key], None))
            else:
                _walk(old[key], new[key], where, out)
        return
    if isinstance(old, list) and isinstance(new, list) and old != new:
        before, after = _named(old), _named(new)
        if before is not None and after is not None:
            for name in [*before, *(n for n in after if n not in before)]:
                where = f"{path}[{name}]"
                if name not in after:
                    out.append(SpecChange(where, "removed", before[name], None))
                elif name not in before:
                    out.append(SpecChange(where, "added", None, after[name]))
                else:
                    _walk(before[name], after[name], where, out)
            return
        if all(isinstance(i, Mapping) for i in (*old, *new)):
            for index in range(max(len(old), len(new))):
                where = f"{path}[{index}]"
                if index >= len(old):
                    out.append(SpecChange(where, "added", None, new[index]))
                elif index >= len(new):
                    out.append(SpecChange(where, "removed", old[index], None))
                else:
                    _walk(old[index], new[index], where, out)
            return
    if old != new:
        out.append(SpecChange(path or "(spec)", "changed", old, new))


def objective_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[SpecChange]:
    """What changed from one normalised spec to another, field by field (at most :data:`MAX_DIFF_ENTRIES`).

    Examples
    --------
    >>> old = {"benchmarks": [{"name": "unsafe_recall", "floor": 0.65}], "owner": "t&s"}
    >>> new = {"benchmarks": [{"name": "unsafe_recall", "floor": 0.55}], "owner": "t&s"}
    >>> [c.text() for c in objective_diff(old, new)]
    ['benchmarks[unsafe_recall].floor: 0.65 → 0.55']
    """
    out: list[SpecChange] = []
    _walk(old, new, "", out)
    return out[:MAX_DIFF_ENTRIES]
