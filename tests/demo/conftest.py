"""Fixtures of the demo's tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

QUIETED = ("airflow", "mlflow", "great_expectations", "alembic", "sqlalchemy", "py.warnings", "httpx", "")


@pytest.fixture
def restore_log_levels() -> Iterator[None]:
    """run_demo quiets these loggers for the whole process; put them back for the tests that follow."""
    levels = {name: logging.getLogger(name or None).level for name in QUIETED}
    yield
    for name, level in levels.items():
        logging.getLogger(name or None).setLevel(level)
