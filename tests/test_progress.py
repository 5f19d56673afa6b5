"""Progress: redrawn in place on a terminal, periodic lines in a log."""

from __future__ import annotations

import io
import logging

import pytest

from alignment_drift.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_line_redrawn_in_place() -> None:
    out = _Terminal()
    progress = Progress("profiling", unit="rows", total=100, stream=out)
    for _ in range(4):
        progress.update(25)
    progress.close()
    text = out.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n") and text.count("\n") == 1
    assert "profiling: 100/100 rows (100%)" in text and "50/100 rows (50%)" in text


def test_a_log_gets_a_line_at_most_every_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="alignment_drift.progress")
    progress = Progress("nights", unit="nights", every=3600)
    for _ in range(50):
        progress.update()
    progress.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "alignment_drift.progress"]
    assert len(lines) == 1 and lines[0].startswith("nights: 50 nights")


@pytest.mark.parametrize(("kwargs", "match"), [({"total": -1}, "'total'"), ({"every": -1.0}, "'every'")])
def test_parameters_are_validated(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Progress("x", **kwargs)
