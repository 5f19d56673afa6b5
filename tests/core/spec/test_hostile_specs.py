"""Hostile and mistaken spec files: each ends fast in one clear line naming the file, the problem and the fix.

A corpus of real files written to disk and read by ``load_spec``, as the DAG
factory, the CLI and the Alignment page read them. Every case must raise
:class:`SpecError` (never a traceback of another type), in one line that
names the file and says "Fix", within :data:`SECONDS` of this process's CPU time (what a hostile
input could make it burn; wall time would also count whatever else the machine is running).
"""

from __future__ import annotations

import codecs
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from alignment_drift.core.spec import SpecError, load_spec
from alignment_drift.core.spec.reading import MAX_ALIASES, MAX_DEPTH, MAX_SPEC_BYTES

SECONDS = 1.0
DEMO = (Path(__file__).resolve().parents[3] / "specs" / "content_safety.yaml").read_text(encoding="utf-8")


def _alias_bomb(levels: int = 9, width: int = 9) -> bytes:
    """The YAML "billion laughs": each level repeats the one before ``width`` times (9**9 leaves)."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return ("\n".join(lines) + "\n" + DEMO).encode()


def _bomb_in_a_field() -> bytes:
    """The bomb hidden in a real field of an otherwise valid spec, where validation would walk it."""
    bomb = _alias_bomb().decode().split("\nmodel:")[0]
    return (DEMO.replace("description:", f"{bomb}\ndescription:", 1)).encode()


CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "nested-brackets-50000": (lambda: b"[" * 50_000 + b"]" * 50_000, rf"nested more than {MAX_DEPTH} levels"),
    "nested-mappings-50000": (lambda: b"{a: " * 50_000 + b"1" + b"}" * 50_000, r"nested more than \d+ levels"),
    "unclosed-brackets-50000": (lambda: b"model: " + b"[" * 50_000, r"nested more than \d+ levels"),
    "deep-block-indentation": (
        lambda: "".join(f"{' ' * i}k{i}:\n" for i in range(200)).encode(),
        r"nested more than \d+ levels",
    ),
    "latin-1": (
        lambda: DEMO.replace("description:", "description: café", 1).encode("latin-1"),
        r"not UTF-8.*0xE9.*iconv -f LATIN1",
    ),
    "windows-1252": (
        lambda: DEMO.replace("owner:", "owner: “ops”", 1).encode("cp1252"),
        r"not UTF-8.*0x93.*iconv -f WINDOWS-1252",
    ),
    "utf-16-without-bom": (lambda: DEMO.encode("utf-16-le"), r"NUL bytes.*iconv -f UTF-16LE"),
    "utf-16-bom-invalid": (lambda: codecs.BOM_UTF16_LE + b"m\x00\x00\xd8", r"UTF-16 byte-order mark but is not"),
    "alias-bomb": (_alias_bomb, r"more than [\d,]+ values once aliases are expanded"),
    "alias-bomb-in-a-field": (_bomb_in_a_field, r"more than [\d,]+ values once aliases are expanded"),
    "many-aliases": (
        lambda: b"a: &a 1\nb: [" + b", ".join([b"*a"] * (MAX_ALIASES + 1)) + b"]\n",
        rf"more than {MAX_ALIASES} aliases",
    ),
    "recursive-alias": (lambda: b"a: &a [1, *a]\n", r"refers to the value that contains it"),
    "undefined-alias": (lambda: b"a: *nowhere\n", r"not valid YAML: found undefined alias"),
    "duplicate-top-level-key": (
        lambda: (DEMO + "owner: someone-else\n").encode(),
        r"the key 'owner' appears twice in one mapping \(lines \d+ and \d+\)",
    ),
    "duplicate-nested-key": (
        lambda: DEMO.replace("  format: parquet\n", "  format: parquet\n  format: csv\n", 1).encode(),
        r"the key 'format' appears twice in one mapping \(lines 13 and 14\)",
    ),
    "list-top-level": (lambda: b"- model: a\n- model: b\n", r"must be a YAML mapping at the top level; got a list"),
    "string-top-level": (lambda: b"just some text\n", r"YAML mapping at the top level; got a single string"),
    "number-top-level": (lambda: b"42\n", r"YAML mapping at the top level; got a number"),
    "empty-file": (lambda: b"", r"the spec is empty"),
    "only-comments": (lambda: b"# nothing here\n", r"the spec is empty"),
    "huge-file": (lambda: b"description: " + b"x" * (MAX_SPEC_BYTES + 10), r"larger than 256 KiB"),
    "huge-file-of-lines": (lambda: b"a: 1\n" * (MAX_SPEC_BYTES // 4), r"larger than 256 KiB"),
    "two-documents": (lambda: (DEMO + "---\nmodel: other\n").encode(), r"expected a single document"),
    "python-tag": (lambda: b"model: !!python/object/apply:os.system [ls]\n", r"remove the '!tag'"),
    "control-character": (lambda: b"model: a\x01b\n", r"unacceptable character"),
    "impossible-date": (lambda: DEMO.replace("start_date:", "start_date: 2026-13-45 #", 1).encode(), r"2026-13-45"),
    "huge-integer": (lambda: b"model: " + b"9" * 5000 + b"\n", r"cannot be read \(Exceeds the limit"),
    "unhashable-key": (lambda: b"? [a, b]\n: 1\n", r"unhashable key"),
    "tab-indentation": (lambda: b"model: a\nsource:\n\tkind: files\n", r"not valid YAML: .*line 3"),
    "unclosed-quote": (lambda: b'model: "content_safety\n', r"not valid YAML: .*scanning a quoted scalar"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_spec_ends_in_one_clear_line_quickly(name: str, tmp_path: Path) -> None:
    make, expected = CASES[name]
    path = tmp_path / "content_safety.yaml"
    path.write_bytes(make())
    began = time.process_time()
    with pytest.raises(SpecError) as info:
        load_spec(path)
    seconds = time.process_time() - began
    message = str(info.value)
    assert seconds < SECONDS, f"{name} took {seconds:.2f} s of CPU"
    assert "\n" not in message, message
    assert message.startswith(f"{path}: "), message
    assert "Fix" in message or "name the file" in message, message
    assert len(message) < 600, message
    assert re.search(expected, message), message


def test_a_huge_mistyped_spec_lists_its_problems_briefly(tmp_path: Path) -> None:
    path = tmp_path / "content_safety.yaml"
    path.write_text("\n".join(f"key_{i}: {'v' * 400}" for i in range(500)))
    began = time.perf_counter()
    with pytest.raises(SpecError, match=r"not valid \(50\d problem\(s\)\)") as info:
        load_spec(path)
    assert time.perf_counter() - began < SECONDS
    lines = str(info.value).splitlines()
    assert len(lines) < 30 and "... and" in lines[-2], lines[-3:]
    assert all(len(line) < 300 for line in lines)


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
        lambda text: text.encode("utf-16"),  # with its byte-order mark
        lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        lambda text: text.encode("utf-32"),
    ],
    ids=["utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "utf-32-bom"],
)
def test_a_spec_with_a_byte_order_mark_loads(encode: Callable[[str], bytes], tmp_path: Path) -> None:
    path = tmp_path / "content_safety.yaml"
    path.write_bytes(encode(DEMO.replace("description:", "description: café ✓", 1)))
    spec = load_spec(path)
    assert spec.model == "content_safety" and spec.description.startswith("café ✓")


def test_anchors_aliases_and_merge_keys_in_reason_still_read(tmp_path: Path) -> None:
    """A spec may reuse values with anchors; a merge key's fields may be overridden without a duplicate error."""
    path = tmp_path / "content_safety.yaml"
    anchors = "shared: &shared {alpha: 0.05}\n"
    path.write_text(anchors + "merged:\n  <<: *shared\n  alpha: 0.01\n" + "again: *shared\n")
    from alignment_drift.core.spec.reading import read_spec_data

    assert read_spec_data(path) == {"shared": {"alpha": 0.05}, "merged": {"alpha": 0.01}, "again": {"alpha": 0.05}}


def test_the_demo_spec_is_far_inside_every_limit(tmp_path: Path) -> None:
    from alignment_drift.core.spec.reading import read_spec_data

    path = Path(__file__).resolve().parents[3] / "specs" / "content_safety.yaml"
    assert path.stat().st_size * 20 < MAX_SPEC_BYTES
    assert isinstance(read_spec_data(path), dict)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_named_like_a_spec_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "content_safety.yaml"
    os.mkfifo(path)
    with pytest.raises(SpecError, match=r"not a regular file"):
        load_spec(path)


def test_a_folder_or_an_unreadable_file_named_like_a_spec_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "content_safety.yaml"
    folder.mkdir()
    with pytest.raises(SpecError, match=r"is a folder"):
        load_spec(folder)
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.yaml"
        locked.write_text(DEMO)
        locked.chmod(0)
        with pytest.raises(SpecError, match=r"cannot be read"):
            load_spec(locked)


# --- fuzz: whatever the bytes, a SpecError or a spec, never another exception -------------------------------

_TOKENS = ["[", "]", "{", "}", ": ", "- ", " ", "\n", "  ", "&a ", "*a", "<<: ", "model", "'", '"', "!!str ", "!x "]
_TOKENS += ["1", "#", "? ", ", ", "\t", "é", "\x85", "%YAML 1.1\n", "---\n", "...\n", "2026-01-01", "|\n", ">-\n", "\\"]


def _only_spec_errors(path: Path, raw: bytes) -> None:
    path.write_bytes(raw)
    began = time.perf_counter()
    try:
        load_spec(path)
    except SpecError as error:
        assert str(error).startswith(f"{path}: ")
    assert time.perf_counter() - began < SECONDS


def test_fuzzed_bytes_and_yaml_fragments_end_in_a_spec_error(tmp_path: Path) -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    path = tmp_path / "content_safety.yaml"

    @hypothesis.settings(max_examples=100, deadline=None, database=None, derandomize=True)
    @hypothesis.given(st.binary(max_size=600))
    def bytes_(raw: bytes) -> None:
        _only_spec_errors(path, raw)

    @hypothesis.settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @hypothesis.given(st.lists(st.sampled_from(_TOKENS), max_size=80))
    def fragments(tokens: list[str]) -> None:
        _only_spec_errors(path, "".join(tokens).encode("utf-8"))

    @hypothesis.settings(max_examples=100, deadline=None, database=None, derandomize=True)
    @hypothesis.given(st.integers(0, len(DEMO)), st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=4))
    def spliced(at: int, tokens: list[str]) -> None:
        _only_spec_errors(path, (DEMO[:at] + "".join(tokens) + DEMO[at:]).encode("utf-8"))

    bytes_()
    fragments()
    spliced()


@pytest.mark.parametrize("name", ["alias-bomb", "nested-brackets-50000", "latin-1", "duplicate-top-level-key"])
def test_a_probe_file_is_read_with_the_same_limits(name: str, tmp_path: Path) -> None:
    from alignment_drift.core.benchmarks.probes import load_probe_suite

    make, expected = CASES[name]
    path = tmp_path / "probes.yaml"
    path.write_bytes(make())
    began = time.perf_counter()
    with pytest.raises(SpecError, match=expected):
        load_probe_suite(path)
    assert time.perf_counter() - began < SECONDS
