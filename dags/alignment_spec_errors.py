"""alignment-drift: the specs in ``specs/`` that do not load, as this file's Airflow DAG import error.

Defines no DAG. When every spec loads it parses cleanly; otherwise Airflow
lists this file under its DAG import errors with one entry per broken spec
file, while ``alignment_dags.py`` keeps the DAGs of every other model.
"""

from pathlib import Path

from alignment_drift.airflow.factory import raise_spec_failures

raise_spec_failures(Path(__file__).resolve().parents[1])
