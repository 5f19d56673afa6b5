"""GX Data Docs of a night: the site GX renders from the night's checkpoint result, and its pages for MLflow.

Each night has its own local site under its evidence folder,
``<data>/_checks/<model>/<interval>/validation/data_docs/`` (see
:func:`~alignment_drift.integrations.evidence.evidence_dir`): GX's
``index.html``, the suite's page under ``expectations/`` and one page per
validation under ``validations/<suite>/<run name>/<run time>/``. The record
step logs the pages (:func:`site_pages`) to the night's check run under
``validation/data_docs/``, so the night's report, logged at the run's root,
links them with the same relative path as on disk.

GX's static images and fonts (about 4 MB) are not logged: the pages load their
styles from public CDNs and read well without them.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

__all__ = ["DATA_DOCS", "SITE_NAME", "build_site", "site_pages"]

log = logging.getLogger(__name__)

DATA_DOCS = "validation/data_docs"  # below the evidence folder and the check run's artifacts alike
SITE_NAME = "alignment_drift_night"
_LOGGED_SUFFIXES = (".html", ".css")
MAX_PAGE_BYTES = 5_000_000  # a page larger than this is not logged (GX's own pages are tens of kilobytes)


def build_site(ctx: Any, folder: Path, result_id: Any, suite_name: str) -> bool:
    """Add a validation result stored in ``ctx`` to the Data Docs site in ``folder``; True when built.

    The context's one site is pointed at ``folder`` (GX writes only below a site's base directory).
    A site that cannot be built is logged and left out, never raised: the validation stands.
    """
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    config = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder.resolve())},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    try:
        _store_escaped(ctx, result_id)
        if SITE_NAME in ctx.list_data_docs_sites():
            ctx.update_data_docs_site(SITE_NAME, config)
        else:
            ctx.add_data_docs_site(SITE_NAME, config)
        ctx.build_data_docs(
            site_names=[SITE_NAME], resource_identifiers=[result_id, ExpectationSuiteIdentifier(name=suite_name)]
        )
    except Exception as error:  # the Data Docs are a view of the result, not the result
        log.warning("The GX Data Docs in %s could not be built (%s: %s).", folder, type(error).__name__, error)
        return False
    return True


def _escaped(value: Any) -> Any:
    """``value`` with every string HTML-escaped, in nested dicts and lists (keys too)."""
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, dict):
        return {_escaped(k): _escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_escaped(v) for v in value)
    return value


def _store_escaped(ctx: Any, result_id: Any) -> None:
    """Put back the stored result with the batch's values escaped: GX's renderer writes them into HTML as they are.

    A prediction log's values (unexpected values, their counts, observed values, exception messages) are data,
    not markup: a category value ``<script>...`` must show as text in the page, never run. The result the
    summary and the JSON evidence come from is not changed (this is a copy in the context's store).
    """
    import copy

    stored = copy.deepcopy(ctx.validation_results_store.get(result_id))
    for er in stored.results:
        er.result = _escaped(er.result or {})
        if er.exception_info:
            er.exception_info = _escaped(er.exception_info)
    ctx.validation_results_store.set(result_id, stored)


def site_pages(folder: Path) -> dict[str, str]:
    """The site's pages and styles as ``{artifact path: text}``, artifact paths under :data:`DATA_DOCS`.

    Only regular files below ``folder`` are read (no symbolic link is followed out of it); an empty
    dict when there is no site.
    """
    root = folder.resolve()
    if not root.is_dir():
        return {}
    pages: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix not in _LOGGED_SUFFIXES or path.is_symlink() or not path.is_file():
            continue
        if not path.resolve().is_relative_to(root) or path.stat().st_size > MAX_PAGE_BYTES:
            continue
        pages[f"{DATA_DOCS}/{path.relative_to(root).as_posix()}"] = path.read_text(encoding="utf-8", errors="replace")
    return pages
