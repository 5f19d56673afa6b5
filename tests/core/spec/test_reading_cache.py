"""A spec file is parsed once per content: a changed file is read anew, and no caller shares another's data."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignment_drift.core.spec.base import SpecError
from alignment_drift.core.spec.reading import _parsed, read_spec_data


def test_the_same_bytes_are_parsed_once_and_each_caller_gets_its_own_copy(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("model: m\nsegments: [a, b]\n")
    misses = _parsed.cache_info().misses
    first = read_spec_data(path)
    first["segments"].append("changed by a caller")
    second = read_spec_data(path)
    assert second == {"model": "m", "segments": ["a", "b"]}
    assert _parsed.cache_info().misses == misses + 1


def test_a_file_changed_in_place_is_read_again_even_at_the_same_size_and_time(tmp_path: Path) -> None:
    import os

    path = tmp_path / "m.yaml"
    path.write_text("model: a\n")
    stat = path.stat()
    assert read_spec_data(path) == {"model": "a"}
    path.write_text("model: b\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same modification time
    assert read_spec_data(path) == {"model": "b"}


def test_an_invalid_file_fails_every_time_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("model: a\nmodel: b\n")
    for _ in range(2):
        with pytest.raises(SpecError, match="appears twice"):
            read_spec_data(path)
