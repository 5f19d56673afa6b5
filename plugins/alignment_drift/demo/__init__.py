"""The demo: the seed's content platform, simulated, run through the real DAGs.

:mod:`~alignment_drift.demo.simulate` holds the deployment simulators (also used by
the tests and the benchmarks); :mod:`~alignment_drift.demo.run` runs the nights.
"""
