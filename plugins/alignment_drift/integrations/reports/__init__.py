"""The alignment report: one self-contained HTML page per check (issue #7).

What it shows, top to bottom: the verdict and its attribution in one
sentence; the safety benchmarks (value, confidence interval, threshold,
baseline, delta, status) with every failing probe; the input-drift table
sorted by effect with a chart per column (reference vs batch: histogram and
ECDF for numeric columns, bars for categorical ones, missing rates); the
model's output scores and decisions; trend charts of the key signals over the
last nights with their thresholds; the data-validation summary; links to the
MLflow run and the Airflow run.

Self-contained: inline CSS, charts as base64 SVG images, no script, and a
Content-Security-Policy that forbids any fetch, so it opens from MLflow's
artifact view, a mail attachment or a file share with no network. Every value
from the data is escaped (Jinja2 autoescape; chart text is XML-escaped inside
each chart's own image document, where a browser runs nothing).

Size budget: at most 2 MB (:data:`REPORT_BUDGET_BYTES`), whatever the batch
size: charts are drawn from the profiles' bins (never rows), each at a fixed
pixel size, and at most 24 column charts are drawn (the table lists every
column).

Modules: :mod:`.distributions` (bins from profiles), :mod:`.charts`
(the charts) on :mod:`.svg` (SVG drawing), :mod:`.history` (MLflow nights and links),
:mod:`.sections` (what each section shows), :mod:`.render` (Jinja2) and
:mod:`.publish` (a recorded check's report: build, log, write).
"""

from alignment_drift.integrations.reports.distributions import DISTRIBUTIONS_SCHEMA, batch_profile, distributions
from alignment_drift.integrations.reports.render import REPORT_BUDGET_BYTES, render_drift_report, render_report

__all__ = [
    "DISTRIBUTIONS_SCHEMA",
    "REPORT_BUDGET_BYTES",
    "batch_profile",
    "distributions",
    "render_drift_report",
    "render_report",
]
