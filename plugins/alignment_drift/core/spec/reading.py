"""Reading a spec file (or a probe file) into plain data, with limits: a hostile or mistaken file fails fast.

A spec is a small hand-written YAML file, so anything far outside that shape
is refused before it can cost time or memory, each with a one-line
:class:`SpecError` naming the file, the problem and the fix:

- more than :data:`MAX_SPEC_BYTES` bytes, or not a regular file;
- text that is not UTF-8 (UTF-8, UTF-16 and UTF-32 with a byte-order mark are
  accepted; Latin-1 or UTF-16 without one is refused with the ``iconv`` fix);
- nesting deeper than :data:`MAX_DEPTH` (``[[[[...`` used to end in a
  ``RecursionError``);
- more than :data:`MAX_ALIASES` aliases, an alias to itself, or more than
  :data:`MAX_NODES` values once aliases are expanded (a "billion laughs" alias
  bomb used to cost minutes of CPU in validation);
- a key repeated in one mapping (YAML would keep the last one silently); both
  line numbers are named.

The same bytes at the same path are parsed once per process (DAG parsing and every task of a night read
the spec): each caller gets its own copy of the data, so nothing one caller changes reaches another.
"""

from __future__ import annotations

import codecs
import copy
import functools
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.reader import ReaderError

from alignment_drift.core.spec.base import SpecError

__all__ = ["MAX_ALIASES", "MAX_DEPTH", "MAX_NODES", "MAX_SPEC_BYTES", "read_spec_data"]

MAX_SPEC_BYTES = 256 * 1024
"""The largest spec file read; the shipped spec is under 5 KiB."""
MAX_DEPTH = 64
"""The deepest nesting of mappings and lists."""
MAX_ALIASES = 1000
"""The most ``*alias`` references (merge keys ``<<: *base`` included) in one file."""
MAX_NODES = 100_000
"""The most values (keys, scalars, lists, mappings) in one file once every alias is expanded."""

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SAVE_AS_UTF8 = "Fix: save it as UTF-8 (e.g. 'iconv -f {source} -t UTF-8 {name} > fixed.yaml', then replace it)."


class _Refused(yaml.YAMLError):
    """A limit of this module, raised from inside the YAML loader and turned into a SpecError."""

    def __init__(self, problem: str, fix: str, node_or_mark: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        mark = getattr(node_or_mark, "start_mark", node_or_mark)
        self.line = mark.line + 1 if mark is not None else None


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with depth, alias and expanded-size limits, and duplicate keys refused."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._nodes = 0
        self._sizes: dict[int, int] = {}

    def _count(self, size: int, at: Any) -> None:
        self._nodes += size
        if self._nodes > MAX_NODES:
            raise _Refused(
                f"more than {MAX_NODES:,} values once aliases are expanded (an alias bomb?)",
                "Fix: write the values out, or use fewer nested '*alias' references.",
                at,
            )

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(
                    f"more than {MAX_ALIASES} aliases ('*name')",
                    "Fix: write the repeated values out; a spec needs few aliases.",
                    event,
                )
            node = super().compose_node(parent, index)
            if node is not None and id(node) not in self._sizes:
                raise _Refused(
                    f"the alias '*{event.anchor}' refers to the value that contains it (a recursive structure)",
                    "Fix: an alias may only repeat a value defined before it, outside it.",
                    event,
                )
            if node is not None:
                self._count(self._sizes[id(node)], event)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(
                f"nested more than {MAX_DEPTH} levels deep",
                "Fix: a spec nests only a few levels; check for unclosed or repeated brackets.",
                self.peek_event(),
            )
        before = self._nodes
        node = super().compose_node(parent, index)
        self._depth -= 1
        if node is not None:
            self._count(1, node)
            self._sizes[id(node)] = self._nodes - before
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, OverflowError) as error:  # e.g. a date 2026-13-45, a 5,000-digit number
            value = repr(node.value) if isinstance(node, ScalarNode) else "this value"
            value = value if len(value) <= 60 else value[:60] + "...'"
            reason = " ".join(str(error).split(";")[0].split())
            problem = f"the value {value} cannot be read ({reason})"
            raise _Refused(problem, "Fix: correct it, or quote it.", node) from None

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    first = seen[key].start_mark.line + 1
                    raise _Refused(
                        f"the key {key!r} appears twice in one mapping (lines {first} and "
                        f"{key_node.start_mark.line + 1}); YAML would silently keep only the last",
                        "Fix: remove or rename one of them.",
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _where(text: bytes, offset: int) -> str:
    line = text.count(b"\n", 0, offset) + 1
    column = offset - (text.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def _decode(path: Path, raw: bytes) -> str:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError as error:
                raise SpecError(
                    f"{path}: starts with a {encoding.upper()} byte-order mark but is not valid {encoding.upper()} "
                    f"(at byte {error.start}). " + _SAVE_AS_UTF8.format(source=encoding.upper(), name=path.name)
                ) from None
    if b"\x00" in raw:
        source = "UTF-16BE" if raw[:1] == b"\x00" else "UTF-16LE"
        raise SpecError(
            f"{path}: contains NUL bytes, so it looks like UTF-16 or UTF-32 without a byte-order mark, "
            "not UTF-8. " + _SAVE_AS_UTF8.format(source=source, name=path.name)
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        byte = raw[error.start]
        raise SpecError(
            f"{path}: not UTF-8 text (byte 0x{byte:02X} at {_where(raw, error.start)}; it looks like "
            "Latin-1 or Windows-1252). "
            + _SAVE_AS_UTF8.format(source="WINDOWS-1252" if 0x80 <= byte <= 0x9F else "LATIN1", name=path.name)
        ) from None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.is_dir():
            raise SpecError(f"{path}: is a folder, not a spec file. Remove it or rename it without '.yaml'.")
        if path.exists() and not path.is_file():  # a pipe or a device would block or never end
            raise SpecError(f"{path}: not a regular file. Fix: the specs folder holds YAML files only.")
        with path.open("rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(f"{path}: no such alignment spec file. Check the path or the specs folder.") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a folder, not a spec file. Remove it or rename it without '.yaml'.") from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise SpecError(
            f"{path}: cannot be read ({reason}). Fix: make it readable by the user that runs Airflow."
        ) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(
            f"{path}: larger than {MAX_SPEC_BYTES // 1024} KiB, far more than any spec or probe file needs. "
            "Fix: check that this is the right file (a spec is a few KiB of YAML)."
        )
    return raw


def _yaml_problem(path: Path, error: Exception) -> SpecError:
    if isinstance(error, _Refused):
        where = f" (line {error.line})" if error.line is not None else ""
        return SpecError(f"{path}: {error.problem}{where}. {error.fix}")
    if isinstance(error, yaml.MarkedYAMLError):
        fix = "Fix: check the indentation, quotes and brackets there."
        if isinstance(error, ConstructorError):
            fix = "Fix: a spec holds plain values only; remove the '!tag' or correct the value there."
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(error.problem or error.context or "syntax error").split())
        context = f" ({' '.join(error.context.split())})" if error.context and error.problem else ""
        return SpecError(f"{path}: not valid YAML: {problem}{context}{where}. {fix}")
    message = " ".join(str(error).split("\n  in ")[0].split())[:300]
    fix = "remove that character" if isinstance(error, ReaderError) else "simplify the file"
    return SpecError(f"{path}: not valid YAML: {message}. Fix: {fix}.")


def read_spec_data(path: Path | str) -> Any:
    """The data of a spec file, read with the limits of this module.

    Parameters
    ----------
    path : Path or str
        The YAML file.

    Returns
    -------
    Any
        What the YAML holds (a spec is a mapping; the caller checks that).

    Raises
    ------
    SpecError
        One line naming the file, the problem and the fix, for a file that is
        missing, unreadable, too large, not UTF-8, not YAML, too deep, an alias
        bomb, or has a key twice in one mapping.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> spec = pathlib.Path(tempfile.mkdtemp()) / "m.yaml"
    >>> _ = spec.write_text("model: m\\nowner: a\\nowner: b\\n")
    >>> try:
    ...     read_spec_data(spec)
    ... except SpecError as error:
    ...     print(str(error).split(": ", 1)[1].split(";")[0])
    the key 'owner' appears twice in one mapping (lines 2 and 3)
    """
    path = Path(path)
    return copy.deepcopy(_parsed(str(path), _read_bytes(path)))


@functools.lru_cache(maxsize=64)
def _parsed(path: str, raw: bytes) -> Any:
    """The data of ``raw`` read from ``path`` (an error is raised again on every call, never kept)."""
    text = _decode(Path(path), raw)
    try:
        loader = _LimitedLoader(text)  # the reader refuses control characters here
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except (yaml.YAMLError, RecursionError) as error:
        raise _yaml_problem(Path(path), error) from None
