"""Every failure of the command: a message on stderr, a documented exit code, a traceback only with ``--debug``.

The failures are real: a disk that is full (``/dev/full``), a folder the file
system refuses to write in (immutable), an MLflow address nothing listens on,
Ctrl-C sent to a running check, and the libraries' own exceptions.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alignment_drift.cli import main
from alignment_drift.cli.failures import EXIT_CODES, classify


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def tables(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(list("abc"), 300)})
    reference, current = tmp_path / "reference.parquet", tmp_path / "current.parquet"
    frame.to_parquet(reference)
    frame.to_parquet(current)
    return reference, current


def _err_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("alignment-drift ")]
    assert len(lines) == 1, err
    return lines[0]


def test_a_full_disk_is_one_line_and_exit_3(tables: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    reference, current = tables
    assert main(["drift", str(reference), str(current), "--output", "/dev/full"]) == 3
    line = _err_line(capsys.readouterr().err)
    assert "/dev/full" in line and "No space left on device" in line and "Fix: free space" in line


@pytest.fixture
def immutable_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder even root may not write in (``chattr +i``); skipped where the file system has no such flag."""
    folder = tmp_path / "locked"
    folder.mkdir()
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield folder
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


def test_a_folder_that_refuses_writes_is_one_line_and_exit_3(
    tables: tuple[Path, Path], immutable_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, current = tables
    out = immutable_dir / "drift.json"
    assert main(["drift", str(reference), str(current), "--format", "json", "--output", str(out)]) == 3
    line = _err_line(capsys.readouterr().err)
    assert str(out) in line and "Operation not permitted" in line and "Fix: give the user" in line


@pytest.fixture
def unreachable_mlflow(monkeypatch: pytest.MonkeyPatch) -> str:
    """MLflow at an address nothing listens on, with a password in it, and no retries."""
    uri = f"http://alice:s3cr3t-pw@127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("ALIGNMENT_DRIFT_MLFLOW_TRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    return uri


def test_an_unreachable_tracking_server_is_exit_4_without_its_password(
    unreachable_mlflow: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", "content_safety"]) == 4
    captured = capsys.readouterr()
    line = _err_line(captured.err)
    assert "cannot be reached" in line and "MLFLOW_TRACKING_URI" in line
    assert "s3cr3t-pw" not in captured.err + captured.out and "***@127.0.0.1" in line


def test_debug_shows_the_traceback_and_then_the_line(
    unreachable_mlflow: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--debug", "compare", "content_safety"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last)") and "MlflowException" in err
    assert err.splitlines()[-1].startswith("alignment-drift compare: the MLflow tracking store cannot be reached")


def _importing_numpy(process: subprocess.Popen, *, timeout: float) -> bool:
    """Wait until ``process`` has loaded numpy's extension (so it runs Python code); False if it ended first.

    A fixed wait was not enough on a loaded machine: an interrupt that lands before the interpreter has set
    its own handler kills the process without a word (the test sets the default action), and the test failed.
    """
    maps, deadline = Path(f"/proc/{process.pid}/maps"), time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if "numpy" in maps.read_text(errors="replace"):
                return True
        except OSError:  # the process ended between the poll and the read
            return False
        time.sleep(0.02)
    return process.poll() is None


def test_ctrl_c_exits_130_with_one_line(root: Path) -> None:
    spec = root / "specs" / "content_safety.yaml"
    done = subprocess.Popen(
        [sys.executable, "-m", "alignment_drift.cli", "check", str(spec), "--date", "2026-01-01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background runner may ignore it
    )
    if _importing_numpy(done, timeout=60.0):  # Python runs the command, its handlers set; seconds of imports remain
        done.send_signal(signal.SIGINT)
    out, err = done.communicate(timeout=60)
    # 130, or killed by SIGINT (which a shell shows as 130): CPython re-raises the signal at exit when a
    # C extension's import was interrupted, after the message is printed
    assert done.returncode in (130, -signal.SIGINT), (done.returncode, err[-2000:])
    assert _err_line(err) == "alignment-drift check: interrupted; nothing more was done (a rerun of the night is safe)."
    assert out == ""


_SWALLOWED = """
import gc, signal, sys, time, weakref
from alignment_drift.cli import _ctrl_c_is_heard

class Thing:
    pass

def interrupted_in_a_callback(_ref):  # as an import's module-lock callback can be
    signal.raise_signal(signal.SIGINT)

def night():
    thing = Thing()
    keep = weakref.ref(thing, interrupted_in_a_callback)
    del thing
    gc.collect()
    for _ in range(50):  # five seconds of "work" after the swallowed Ctrl-C
        time.sleep(0.1)
    return keep

if sys.argv[1] == "heard":
    with _ctrl_c_is_heard() as heard:
        try:
            night()
            print("finished")
        except KeyboardInterrupt:
            heard.set()
            print("stopped")
else:
    try:
        night()
        print("finished")
    except KeyboardInterrupt:
        print("stopped")
"""


@pytest.mark.parametrize(("mode", "expected"), [("heard", "stopped"), ("plain", "finished")])
def test_a_ctrl_c_python_swallows_is_delivered_again(mode: str, expected: str) -> None:
    """CPython ignores a KeyboardInterrupt raised in a weakref callback; the command hears it anyway.

    ``plain`` is Python's own behaviour, shown so the test can fail: the work finishes after Ctrl-C.
    """
    done = subprocess.run(
        [sys.executable, "-c", _SWALLOWED, mode],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background runner may ignore it
        check=False,
    )
    if mode == "plain":
        assert "Exception ignored" in done.stderr and "KeyboardInterrupt" in done.stderr, done.stderr[-2000:]
    else:  # heard, and nothing printed of the swallowed one: no traceback reaches the user
        assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stdout.strip() == expected, (done.stdout, done.stderr[-2000:])


def _real(make: object) -> BaseException:
    try:
        make()  # type: ignore[operator]
    except BaseException as error:  # the library's own exception is the point
        return error
    raise AssertionError("expected an exception")


def _arrow_garbage() -> None:
    import pyarrow.parquet as pq

    pq.read_table(io.BytesIO(b"not parquet at all"))


def _csv_garbage() -> None:
    pd.read_csv(io.StringIO('a,b\n1,2\n"unterminated\n'))


def _postgres_refused() -> None:
    import sqlalchemy as sa

    sa.create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{_closed_port()}/test").connect()


def _http_refused() -> None:
    import requests

    requests.get(f"http://127.0.0.1:{_closed_port()}/", timeout=5)


def _mlflow(code: str, message: str) -> BaseException:
    from mlflow.exceptions import MlflowException
    from mlflow.protos import databricks_pb2

    return MlflowException(message, error_code=databricks_pb2.ErrorCode.Value(code))


def _source_unreachable() -> BaseException:
    from alignment_drift.integrations.sources import SourceError

    try:
        try:
            _postgres_refused()
        except Exception as error:
            raise SourceError("the database cannot be reached") from error
    except SourceError as error:
        return error
    raise AssertionError("expected an exception")


def _gx_error() -> BaseException:
    from great_expectations.exceptions import GreatExpectationsError

    return GreatExpectationsError("the suite could not be run")


CASES = [
    pytest.param(lambda: PermissionError(errno.EACCES, "Permission denied", "/d"), 3, "Permission denied", id="eacces"),
    pytest.param(lambda: OSError(errno.ENOSPC, "No space left on device", "/q"), 3, "free space", id="enospc"),
    pytest.param(lambda: _real(_arrow_garbage), 3, "could not be read", id="pyarrow"),
    pytest.param(lambda: _real(_csv_garbage), 3, "ParserError", id="pandas-parser"),
    pytest.param(_gx_error, 3, "GreatExpectationsError", id="gx"),
    pytest.param(lambda: _real(_postgres_refused), 4, "OperationalError", id="database-down"),
    pytest.param(lambda: _real(_http_refused), 4, "ConnectionError", id="http-refused"),
    pytest.param(_source_unreachable, 4, "the database cannot be reached", id="source-wraps-database-down"),
    pytest.param(lambda: _mlflow("PERMISSION_DENIED", "no"), 4, "refused access", id="mlflow-permission"),
    pytest.param(lambda: _mlflow("UNAUTHENTICATED", "who"), 4, "credentials", id="mlflow-unauthenticated"),
    pytest.param(lambda: _mlflow("INVALID_PARAMETER_VALUE", "bad version"), 2, "bad version", id="mlflow-bad-param"),
    pytest.param(lambda: _mlflow("TEMPORARILY_UNAVAILABLE", "503"), 4, "cannot be reached", id="mlflow-503"),
    pytest.param(lambda: KeyboardInterrupt(), 130, "interrupted", id="ctrl-c"),
    pytest.param(lambda: KeyError("column"), 70, "This is a bug", id="a-bug"),
]


@pytest.mark.parametrize(("make", "code", "words"), CASES)
def test_every_failure_has_a_documented_code_and_one_line(make: object, code: int, words: str) -> None:
    failure = classify(make())  # type: ignore[operator]
    assert failure.code == code and words in failure.message
    assert "\n" not in failure.message and failure.code in dict(EXIT_CODES)


def test_the_exit_codes_are_in_help_and_readme(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    readme = (root / "README.md").read_text()
    for code, meaning in EXIT_CODES:
        assert f"  {code:<4} {meaning}" in help_text
        assert f"| {code} |" in readme
    assert "--debug" in help_text and "`--debug`" in readme
