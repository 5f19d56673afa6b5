"""The steps of one check, one module per monitor task, in the order a night flows through them.

    pull ─► validate ─┬─► profile (per group) ─► drift ─┐
                      └─► benchmarks ───────────────────┴─► trend ─► verdict ─► record ─► retrain request

Each step takes the spec, the settings and the typed results of the steps
before it (:mod:`alignment_drift.pipeline.night`) and returns its own. None
imports Airflow: the monitor DAG runs each as a task, and
:func:`alignment_drift.pipeline.check.run_check` runs them all in one process.
"""
