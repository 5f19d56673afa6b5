"""The policy model served by ``mlflow models serve --env-manager local`` on loopback, and posted to over HTTP.

Two real servers (the binary content-safety model and the diabetes regression)
run as subprocesses of this test session, started together, waited for on
``/ping`` (bounded) and killed with their process group afterwards. They run
without this tree on ``PYTHONPATH``: the wrapper imports the copy of
``alignment_drift.core`` shipped in the model.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.integrations.mlflow.conftest import DIABETES_NUMERIC, Owner

pytestmark = pytest.mark.slow

BASE = {
    "toxicity": 0.30,
    "sensationalism": 0.30,
    "report_rate": 0.05,
    "author_reputation": 0.65,
    "text_length": 250,
    "category": "news",
    "source_type": "verified",
}
SAFE_ITEM = {**BASE, "toxicity": 0.10, "sensationalism": 0.10, "report_rate": 0.01, "author_reputation": 0.90}
START_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # uvicorn of this venv
    return env


class Server:
    """One ``mlflow models serve`` process group on loopback."""

    def __init__(self, model_uri: str, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", model_uri]
        command += ["--env-manager", "local", "--host", "127.0.0.1", "--port", str(self.port)]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=_environment(), start_new_session=True
            )

    def wait(self, deadline: float) -> None:
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited with {self.process.returncode}:\n{self._tail()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"mlflow models serve did not answer /ping within {START_TIMEOUT_S} s:\n{self._tail()}"
                )
            time.sleep(0.25)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)  # the group this test started: mlflow and its uvicorn
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def post(self, payload: dict[str, Any]) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{self.url}/invocations",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="module")
def servers(content_policy: Any, diabetes_policy: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    logs = tmp_path_factory.mktemp("serve")
    started = {
        "binary": Server(content_policy.model_uri, logs / "binary.log"),
        "regression": Server(diabetes_policy.model_uri, logs / "regression.log"),
    }
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        for server in started.values():
            server.wait(deadline)
        yield started
    finally:
        for server in started.values():
            server.stop()


def _rows(response: Any) -> list[dict[str, Any]]:
    return [{**row, "policy_reasons": json.loads(row["policy_reasons"])} for row in response["predictions"]]


def _abstain_row(owner: Owner) -> dict[str, Any]:
    """A held-out row the owner's model scores within 0.02 of the threshold, typical in every feature."""
    ref = owner.reference
    numeric = owner.spec.columns.numeric
    typical = np.ones(len(ref), dtype=bool)
    for name in numeric:
        low, high = ref[name].quantile([0.05, 0.95])
        typical &= ref[name].between(low, high).to_numpy()
    typical &= ~((ref["source_type"] == "new_account") & (ref["category"] == "politics")).to_numpy()
    near = typical & (np.abs(ref["score"].to_numpy() - 0.5) < 0.02)
    assert near.any(), "the held-out rows hold a typical item near the threshold"
    row = ref.loc[np.flatnonzero(near)[0], owner.spec.columns.feature_names].to_dict()
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}


def test_served_binary_policy(servers: dict, content_owner: Owner) -> None:
    abstain = _abstain_row(content_owner)
    no_sensationalism = {k: v for k, v in BASE.items() if k != "sensationalism"}
    cases = [
        ("in policy", BASE, "allow", []),
        ("a probe item, decided as expected", SAFE_ITEM, "allow", []),
        ("in the abstain band", abstain, "review", ["abstain_band"]),
        ("far outside the reference", {**BASE, "author_reputation": 3.0}, "review", ["out_of_range:author_reputation"]),
        ("an unseen category", {**BASE, "category": "memes"}, "review", ["unseen_category:category"]),
        (
            "a hard rule",
            {**BASE, "source_type": "new_account", "category": "politics"},
            "block",
            ["rule:political posts from new accounts wait for a moderator"],
        ),
        ("a required value is null", {**BASE, "toxicity": None}, "block", ["missing:toxicity"]),
        ("a required key is absent", no_sensationalism, "block", ["missing:sensationalism"]),
        ("text in a numeric feature", {**BASE, "toxicity": "high"}, "block", ["wrong_type:toxicity"]),
    ]
    status, body = servers["binary"].post({"dataframe_records": [row for _, row, _, _ in cases]})
    assert status == 200, body
    rows = _rows(body)
    assert len(rows) == len(cases)
    for (name, _, action, reasons), got in zip(cases, rows, strict=True):
        assert set(got) == {"prediction", "score", "policy_action", "policy_reasons"}, name
        assert (got["policy_action"], got["policy_reasons"]) == (action, reasons), name
    scored = [
        r for r, (_, _, _, why) in zip(rows, cases, strict=True) if not any("missing" in w or "wrong" in w for w in why)
    ]
    assert all(r["prediction"] in (0, 1) and 0.0 <= r["score"] <= 1.0 for r in scored)
    assert all(r["prediction"] is None and r["score"] is None for r in rows[-3:])  # not scored
    expected = content_owner.estimator.predict_proba(pd.DataFrame([BASE, abstain]))[:, 1]
    assert np.allclose([rows[0]["score"], rows[2]["score"]], expected)


def test_served_request_without_a_required_column(servers: dict) -> None:
    columns = [c for c in BASE if c != "toxicity"]
    payload = {"dataframe_split": {"columns": columns, "data": [[BASE[c] for c in columns]] * 2}}
    status, body = servers["binary"].post(payload)
    assert status == 200, body
    assert [(r["policy_action"], r["policy_reasons"], r["prediction"]) for r in _rows(body)] == [
        ("block", ["missing:toxicity"], None)
    ] * 2


def test_served_malformed_request_is_a_clear_4xx(servers: dict) -> None:
    status, body = servers["binary"].post({"rows": [BASE]})
    assert status == 400 and "dataframe_split" in body["message"]


def test_served_regression_policy(servers: dict, diabetes_owner: Owner) -> None:
    typical = diabetes_owner.reference[DIABETES_NUMERIC].median().to_dict()
    typical = {**typical, "s5": 0.0, "sex": "f"}
    cases = [
        ("in policy", typical, "allow", []),
        ("far outside the reference", {**typical, "bmi": -0.5}, "review", ["out_of_range:bmi"]),
        (
            "a rule on the prediction",
            {**typical, "bmi": 0.12, "s5": 0.08, "bp": 0.08},
            "review",
            ["rule:high progression"],
        ),
        ("an unseen category", {**typical, "sex": "x"}, "review", ["unseen_category:sex"]),
        ("a hard rule", {**typical, "s5": 0.11}, "block", ["rule:s5 above 0.1 needs a clinician"]),
        ("a required value is null", {**typical, "bmi": None}, "block", ["missing:bmi"]),
    ]
    status, body = servers["regression"].post({"dataframe_records": [row for _, row, _, _ in cases]})
    assert status == 200, body
    rows = _rows(body)
    for (name, _, action, reasons), got in zip(cases, rows, strict=True):
        assert set(got) == {"prediction", "policy_action", "policy_reasons"}, name  # no score for regression
        assert (got["policy_action"], got["policy_reasons"]) == (action, reasons), name
    expected = diabetes_owner.estimator.predict(pd.DataFrame([typical]))[0]
    assert rows[0]["prediction"] == pytest.approx(expected)
    assert rows[2]["prediction"] > 280 and rows[-1]["prediction"] is None


def test_the_served_code_is_the_models_own_and_imports_nothing_else(content_policy: Any, tmp_path: Path) -> None:
    """Loaded in a fresh interpreter, the wrapper imports alignment_drift from the model's code/ folder (code_paths
    win over any installed copy), and no Airflow, Great Expectations or other alignment_drift layer."""
    from mlflow.artifacts import download_artifacts

    local = Path(download_artifacts(content_policy.model_uri, dst_path=str(tmp_path / "served")))
    shipped = sorted(p.relative_to(local / "code").as_posix() for p in (local / "code").rglob("*.py"))
    assert {p.split("/")[1] for p in shipped if p.count("/") > 1} == {"core", "integrations"}
    assert [p for p in shipped if p.startswith("alignment_drift/integrations/")] == [
        "alignment_drift/integrations/__init__.py",
        "alignment_drift/integrations/mlflow/__init__.py",
        "alignment_drift/integrations/mlflow/policy_model.py",
    ]
    script = f"""
import json, sys
import mlflow.pyfunc, pandas as pd
model = mlflow.pyfunc.load_model({str(local)!r})
out = model.predict(pd.DataFrame([{BASE!r}]))
import alignment_drift
mods = sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'great_expectations', 'alignment_drift'))
print(json.dumps({{"file": alignment_drift.__file__, "modules": mods, "action": out['policy_action'].tolist()}}))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(found["file"]).resolve().is_relative_to((local / "code").resolve())
    assert found["action"] == ["allow"]
    allowed = ("alignment_drift.core", "alignment_drift.integrations.mlflow.policy_model")
    outside = [m for m in found["modules"] if m != "alignment_drift" and not m.startswith(allowed)]
    assert outside in ([], ["alignment_drift.integrations", "alignment_drift.integrations.mlflow"]), outside
    shutil.rmtree(local)
