"""alignment-drift: the monitor and retrain DAGs of every alignment spec in ``specs/``.

Kept thin on purpose: the factory reads the small spec files and builds the
DAGs; every heavy import and all I/O happen inside the tasks.
"""

from pathlib import Path

from alignment_drift.airflow.factory import build_dags

globals().update(build_dags(Path(__file__).resolve().parents[1]))
