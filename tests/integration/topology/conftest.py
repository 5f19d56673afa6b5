"""Fixtures of the native production topology: one topology and one scenario per module.

Everything is stopped and the databases dropped when the module ends, also when
a start or a test fails, and when pytest itself is sent SIGTERM. Service logs
stay under pytest's temporary folder (``.../topology0/logs``, task logs under
``.../topology0/airflow/logs``); set ``ALIGNMENT_DRIFT_TOPOLOGY_LOGS=<folder>``
to also copy them there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from tests.integration.topology.scenario import NIGHTS, Scenario, write_specs
from tests.integration.topology.services import Topology

ROOT = Path(__file__).resolve().parents[3]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}: stopping the topology")


@pytest.fixture(scope="module")
def start_date() -> dt.date:
    """Night 1 of the catch-up: NIGHTS days before today (UTC), so the scheduler runs exactly those nights."""
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=NIGHTS)


def _report(request: pytest.FixtureRequest, line: str) -> None:
    """A line in pytest's terminal summary (shown without ``-s``)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        reporter.write_line(line)


@pytest.fixture(scope="module")
def topology(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, start_date: dt.date
) -> Iterator[Topology]:
    missing = [m for m in ("airflow.providers.celery", "redis", "boto3") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"The production extras are not installed ({missing}). Fix: run `make test-integration`.")
    work = tmp_path_factory.mktemp("topology")
    specs = write_specs(ROOT / "specs", work / "specs", start_date=start_date)
    topo = Topology(ROOT, work, specs_dir=specs, data_dir=work / "data")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        topo.start()
        yield topo
    finally:
        problems = topo.stop()
        signal.signal(signal.SIGTERM, previous)
        if os.environ.get("ALIGNMENT_DRIFT_TOPOLOGY_LOGS"):
            topo.keep_logs(Path(os.environ["ALIGNMENT_DRIFT_TOPOLOGY_LOGS"]))
        _report(request, f"\ntopology start-up seconds: { {k: round(v, 1) for k, v in topo.timings.items()} }")
        _report(request, f"topology logs: {topo.logs} (tasks: {topo.home / 'logs'})")
        assert not problems, f"The topology did not stop cleanly: {problems}"


@pytest.fixture(scope="module")
def scenario(request: pytest.FixtureRequest, topology: Topology, start_date: dt.date) -> Scenario:
    """The first champion, the nights' prediction logs, and the scheduler's catch-up with the faults injected."""
    world = Scenario(topology, start_date=start_date)
    world.wait_for_dags()
    world.seed_champion()
    world.write_nights()
    world.run()
    faults = world.faults
    killed = sorted(f"{t.task_id}@{t.run_id[11:21]}" for _, t in faults.killed)
    _report(request, f"\nscenario seconds: { {k: round(v, 1) for k, v in world.seconds.items()} }")
    _report(
        request,
        f"faults: scheduler restarted ({faults.scheduler_restart_s:.0f} s to healthy); worker killed "
        f"({faults.kill_mode}, running then: {', '.join(killed)}; run half-written: {faults.partial_run}); "
        f"tracking server down {faults.outage_s:.0f} s during night {faults.outage_night}'s record "
        f"({faults.outage_mode}; spooled {faults.spooled})",
    )
    return world
