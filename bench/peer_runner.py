"""Run one drift tool on the benchmark's parquet files and print the outcome as JSON on stdout.

Run by ``bench/speed.py`` and ``bench/power.py`` with the interpreter of the tool's
environment (``bench/.venvs/<peer>/bin/python`` for a peer, ours for ``ours``):

    <python> bench/peer_runner.py JOB.json

This file imports nothing from the benchmark or from alignment_drift at module
level, so it runs unchanged in every environment (pandas 2 or 3, numpy 1 or 2).

Tools (each with its defaults; the same columns, declared numeric/categorical):

* ``ours``: ``DriftDetector(reference, numeric=..., categorical=...)`` (alpha 0.05,
  BH, effect floors 0.1/0.1/0.02) then ``.test(current)``; ``reference`` is the
  saved profile (speed job with ``profile``) or the raw reference frame.
* ``evidently``: ``Report([DataDriftPreset()]).run(current, reference)`` on
  ``Dataset.from_pandas`` with a ``DataDefinition`` naming the column kinds.
  Dataset drift = ``DriftedColumnsCount.share >= 0.5``; a column drifts when its
  ``ValueDrift`` score crosses the method's threshold (p-value below it, or
  distance at or above it).
* ``nannyml``: ``UnivariateDriftCalculator(column_names, treat_as_categorical,
  chunker=...)`` with default methods (Jensen–Shannon) and thresholds
  (mean + 3 sd of the reference chunks); ``fit(reference)`` splits the
  reference with NannyML's ``DefaultChunker`` (10 chunks) and
  ``calculate(current)`` sees the current batch as ONE chunk. Dataset drift =
  any column alerted.
* ``nannyml_sized`` (not a default; power only): the same, but the reference is
  split into chunks of the current batch's size when that gives at least 6
  chunks (NannyML warns below 6), so the threshold is calibrated for the batch
  size; otherwise as ``nannyml``.
* ``alibi-detect``: ``TabularDrift(x_ref, p_val=0.05, categories_per_feature=
  {i: None for categorical i})`` (KS / chi-square, Bonferroni) then
  ``.predict(x)``; categorical columns are integer codes of the reference's
  categories (unseen ones get new codes), numeric columns float64 as they are
  (NaN kept: that is what the tool receives). Dataset drift = ``is_drift``;
  a column drifts when its p-value is below the corrected threshold.

What is timed (speed jobs): only the statistics, i.e. fit + compute as each
tool needs them (ours from a profile: building the detector on the loaded
profile + ``test``; ours raw: profiling the reference + ``test``; Evidently:
wrapping both frames in ``Dataset`` + ``Report.run``; NannyML: ``fit`` +
``calculate``; alibi-detect: ``TabularDrift(...)`` + ``predict``). Excluded:
interpreter start, imports, reading parquet, loading our saved profile (reported
separately as ``load_s``), alibi-detect's encoding of the frames into arrays
(reported as ``prep_s``), reading the results out, and one warm-up call on 500
rows per side made before the timed call (it pays one-off lazy imports and
caches; every tool gets it).

Memory (speed jobs): ``rss_*`` from /proc/self/status. The peak of the timed
call is VmHWM after resetting it (``/proc/self/clear_refs`` = 5) just before
the call; ``ru_maxrss`` (peak of the whole child process, loading included) is
reported too, and ``cpu_s``, the CPU time of the timed call (all threads:
``time.process_time``), which background load does not inflate; with ``"tracemalloc": true`` the timed call runs under
tracemalloc (then its time is not reported) and its Python-heap peak is given.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
import traceback
import warnings

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently telemetry off
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # NannyML usage logging off
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

KB = 1024


def _status() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) * KB
    return out


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------- tools


class Ours:
    name = "ours"

    def __init__(self, numeric, categorical):
        from alignment_drift.core.drift.detector import DriftDetector

        self.cls = DriftDetector
        self.numeric, self.categorical = list(numeric), list(categorical)

    def fit(self, reference, n_current=None):  # reference: DataFrame or ReferenceProfile
        return self.cls(reference, numeric=self.numeric, categorical=self.categorical)

    def test(self, fitted, current):
        return fitted.test(current)

    def read(self, result):
        effects = {
            c.name: [round(float(c.effect), 5), round(abs(c.missing_rate_current - c.missing_rate_reference), 5)]
            for c in result.columns
        }
        return {
            "drift": bool(result.drift),
            "flagged": result.drifted_columns(),
            "share": result.drift_share,
            "effects": effects,
        }


class Evidently:
    name = "evidently"

    def __init__(self, numeric, categorical):
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        self.Dataset, self.Report, self.Preset = Dataset, Report, DataDriftPreset
        self.definition = DataDefinition(numerical_columns=list(numeric), categorical_columns=list(categorical))
        self.columns = list(numeric) + list(categorical)

    def fit(self, reference, n_current=None):
        # Evidently has no reusable reference state: the reference is only wrapped
        return self.Dataset.from_pandas(reference[self.columns], data_definition=self.definition)

    def test(self, fitted, current):
        current = self.Dataset.from_pandas(current[self.columns], data_definition=self.definition)
        return self.Report([self.Preset()]).run(current_data=current, reference_data=fitted)

    def read(self, snapshot):
        flagged, share, count = [], None, None
        for metric in snapshot.dict()["metrics"]:
            config = metric["config"]
            if config["type"].endswith("DriftedColumnsCount"):
                share, count = metric["value"]["share"], metric["value"]["count"]
            elif config["type"].endswith("ValueDrift"):
                value, threshold, method = metric["value"], config["threshold"], config["method"]
                if value is None or (isinstance(value, float) and np.isnan(value)):
                    continue
                if "p_value" in method:  # KS uses <=, chi-square and Z use <
                    hit = value <= threshold if method.startswith("K-S") else value < threshold
                else:
                    hit = value >= threshold
                if hit:
                    flagged.append(config["column"])
        return {"drift": bool(share is not None and share >= 0.5), "flagged": flagged, "share": share, "count": count}


class EvidentlyStats(Evidently):
    """Evidently's per-column default statistics without ``Report.run``'s widgets.

    ``Report([DataDriftPreset()]).run`` builds plotly widgets for every column
    and computes each column's test three times (DriftedColumnsCount,
    ValueDrift, the preset's render). This variant does what one of those
    computations does, with Evidently's own code: per column, drop NaN/inf
    (``get_one_column_drift``), pick the default stat test
    (``stattests.registry.get_stattest(ref, cur, type, None)``), run it with its
    default threshold; dataset drift = share of drifted columns >= 0.5. Same
    decisions as the Report (checked by ``power.py``), a lower bound on its time.
    """

    name = "evidently_stats"

    def __init__(self, numeric, categorical):
        from evidently.legacy.calculations.stattests.registry import get_stattest
        from evidently.legacy.core import ColumnType

        self.get_stattest = get_stattest
        self.kinds = [(c, ColumnType.Numerical) for c in numeric] + [(c, ColumnType.Categorical) for c in categorical]

    def fit(self, reference, n_current=None):
        return reference

    def test(self, fitted, current):
        flagged, scores = [], {}
        for column, kind in self.kinds:
            ref = fitted[column].replace([-np.inf, np.inf], np.nan).dropna()
            cur = current[column].replace([-np.inf, np.inf], np.nan).dropna()
            stattest = self.get_stattest(ref, cur, kind, None)
            result = stattest(ref, cur, kind, None)
            scores[column] = [stattest.name, float(result.drift_score)]
            if result.drifted:
                flagged.append(column)
        return flagged, scores

    def read(self, result):
        flagged, _scores = result
        share = len(flagged) / len(self.kinds)
        return {"drift": share >= 0.5, "flagged": flagged, "share": share}


class NannyML:
    name = "nannyml"
    sized = False

    def __init__(self, numeric, categorical):
        import nannyml
        from nannyml.chunk import Chunk, Chunker, DefaultChunker, SizeBasedChunker

        class ReferenceChunksCurrentWhole(Chunker):
            """Reference: the given chunker; current (after ``whole = True``): one chunk."""

            def __init__(self, reference_chunker):
                super().__init__(None)
                self.reference_chunker = reference_chunker
                self.whole = False

            def _split(self, data):
                if self.whole:
                    return [Chunk(key=f"[0:{len(data) - 1}]", data=data, start_index=0, end_index=len(data) - 1)]
                return self.reference_chunker._split(data)

        self.nml = nannyml
        self.Chunker, self.Default, self.Sized = ReferenceChunksCurrentWhole, DefaultChunker, SizeBasedChunker
        self.numeric, self.categorical = list(numeric), list(categorical)

    def _reference_chunker(self, n_reference, n_current):
        if self.sized and n_current and n_reference // n_current >= 6:
            return self.Sized(chunk_size=int(n_current), incomplete="drop")
        return self.Default()

    def fit_key(self, n_reference, n_current):
        chunker = self._reference_chunker(n_reference, n_current)
        return getattr(chunker, "chunk_size", "default")

    def fit(self, reference, n_current=None):
        chunker = self.Chunker(self._reference_chunker(len(reference), n_current))
        calc = self.nml.UnivariateDriftCalculator(
            column_names=self.numeric + self.categorical,
            treat_as_numerical=self.numeric,
            treat_as_categorical=self.categorical,
            chunker=chunker,
        )
        calc.fit(reference[self.numeric + self.categorical])
        chunker.whole = True
        return calc

    def test(self, fitted, current):
        return fitted.calculate(current[self.numeric + self.categorical])

    def read(self, result):
        frame = result.filter(period="analysis").to_df()
        flagged = []
        for column in self.numeric + self.categorical:
            alerts = [frame[key] for key in frame.columns if key[0] == column and key[-1] == "alert"]
            if any(bool(series.iloc[-1]) for series in alerts):
                flagged.append(column)
        return {"drift": bool(flagged), "flagged": flagged}


class NannyMLSized(NannyML):
    name = "nannyml_sized"
    sized = True


class Alibi:
    name = "alibi-detect"

    def __init__(self, numeric, categorical):
        from alibi_detect.cd import TabularDrift

        self.TabularDrift = TabularDrift
        self.numeric, self.categorical = list(numeric), list(categorical)
        self.columns = self.numeric + self.categorical
        self.categories = None

    def encode(self, frame, reference=False):
        """float64 array: numeric as is (NaN kept), categorical as codes of the reference's categories."""
        if reference:
            self.categories = {c: sorted(frame[c].dropna().astype(str).unique()) for c in self.categorical}
        out = np.empty((len(frame), len(self.columns)), dtype=np.float64)
        for i, c in enumerate(self.numeric):
            out[:, i] = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
        for j, c in enumerate(self.categorical):
            known = self.categories[c]
            values = frame[c].astype(object).where(frame[c].notna(), None)
            codes = pd.Categorical(values.map(lambda v: None if v is None else str(v)), categories=known).codes
            codes = codes.astype(np.float64)
            unseen = codes < 0
            if unseen.any():  # a new category (or missing) gets its own code
                labels = values[unseen].map(lambda v: "__missing__" if v is None else str(v))
                extra = {name: len(known) + k for k, name in enumerate(sorted(labels.unique()))}
                codes[unseen] = labels.map(extra).to_numpy(dtype=np.float64)
            out[:, len(self.numeric) + j] = codes
        return out

    def fit(self, reference, n_current=None):  # reference: encoded array
        cats = {len(self.numeric) + j: None for j in range(len(self.categorical))}
        return self.TabularDrift(reference, p_val=0.05, categories_per_feature=cats)

    def test(self, fitted, current):  # current: encoded array
        return fitted.predict(current)

    def read(self, result):
        data = result["data"]
        p = np.asarray(data["p_val"], dtype=float)
        flagged = [c for c, pv in zip(self.columns, p, strict=True) if pv < data["threshold"]]
        nan = [c for c, pv in zip(self.columns, p, strict=True) if np.isnan(pv)]
        return {"drift": bool(data["is_drift"]), "flagged": flagged, "nan_p_values": nan}


TOOLS = {cls.name: cls for cls in (Ours, Evidently, EvidentlyStats, NannyML, NannyMLSized, Alibi)}


# --------------------------------------------------------------------------- jobs


def _read(path, columns=None):
    return pd.read_parquet(path, columns=columns)


def speed(job):
    tool = TOOLS[job["tool"]](job["numeric"], job["categorical"])
    columns = job["numeric"] + job["categorical"]
    after_import = _status()["VmRSS"]
    out = {"tool": job["tool"], "variant": job.get("variant", job["tool"])}

    current = _read(job["current"], columns)
    load_s = None
    if job.get("profile"):
        from alignment_drift.core.drift.profile import ReferenceProfile

        t = time.perf_counter()
        reference = ReferenceProfile.load(job["profile"])
        load_s = time.perf_counter() - t
    else:
        reference = _read(job["reference"], columns)
    out["load_s"] = load_s
    out["n_current"] = len(current)
    out["batch_bytes"] = int(current.memory_usage(deep=True).sum())

    prep_s = None
    if isinstance(tool, Alibi):
        t = time.perf_counter()
        ref_in, cur_in = tool.encode(reference, reference=True), tool.encode(current)
        prep_s = time.perf_counter() - t
        warm_ref, warm_cur = ref_in[:500], cur_in[:500]
        del reference, current
    else:
        ref_in, cur_in = reference, current
        warm_ref = reference if job.get("profile") else reference.iloc[:500]
        warm_cur = current.iloc[:500]
    out["prep_s"] = prep_s

    # warm-up: one small call, same code path
    tool.read(tool.test(tool.fit(warm_ref, len(warm_cur)), warm_cur))
    del warm_ref, warm_cur
    gc.collect()

    before = _status()["VmRSS"]
    peak_ok = _reset_peak()
    use_tm = bool(job.get("tracemalloc"))
    if use_tm:
        import tracemalloc

        tracemalloc.start()
    c0, t0 = time.process_time(), time.perf_counter()
    result = tool.test(tool.fit(ref_in, len(cur_in)), cur_in)
    seconds, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    if use_tm:
        _, tm_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["tracemalloc_peak"] = int(tm_peak)
    status = _status()
    out.update(
        seconds=None if use_tm else seconds,
        cpu_s=None if use_tm else cpu_s,
        rss_after_import=after_import,
        rss_before=before,
        peak_during=status["VmHWM"] if peak_ok else None,
        ru_maxrss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * KB,
    )
    out.update(tool.read(result))
    return out


def power(job):
    """For each run: read its reference, fit, then for each shift and size test the pool's first n rows."""
    tool = TOOLS[job["tool"]](job["numeric"], job["categorical"])
    columns = job["numeric"] + job["categorical"]
    data_dir, records = job["data_dir"], []
    t_start = time.perf_counter()
    for run in job["runs"]:
        reference = _read(os.path.join(data_dir, f"ref_{run}.parquet"), columns)
        if isinstance(tool, Alibi):
            ref_in = tool.encode(reference, reference=True)
        else:
            ref_in = reference
        fits = {}
        for shift in job["shifts"]:
            pool = _read(os.path.join(data_dir, f"cur_{shift}_{run}.parquet"), columns)
            for n in job["sizes"]:
                current = pool.iloc[:n].reset_index(drop=True)
                key = tool.fit_key(len(reference), n) if hasattr(tool, "fit_key") else None
                record = {"run": run, "shift": shift, "n": n}
                try:
                    if key not in fits:
                        fits[key] = tool.fit(ref_in, n)
                    cur_in = tool.encode(current) if isinstance(tool, Alibi) else current
                    record.update(tool.read(tool.test(fits[key], cur_in)))
                except Exception as error:  # record, do not stop the batch
                    record.update(drift=None, error=f"{type(error).__name__}: {error}")
                records.append(record)
    return {"tool": job["tool"], "records": records, "seconds": time.perf_counter() - t_start}


def main(argv):
    with open(argv[1]) as fh:
        job = json.load(fh)
    try:
        out = speed(job) if job["mode"] == "speed" else power(job)
        out["ok"] = True
    except Exception as error:
        out = {
            "ok": False,
            "tool": job.get("tool"),
            "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(),
        }
    out["python"] = sys.executable
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
