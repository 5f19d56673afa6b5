"""Browser fixtures: Debian's chromium (``/usr/bin/chromium``) driven by Playwright, never a downloaded browser.

Every test here is marked ``browser`` (``make test`` leaves them out; ``.ci/run``
runs ``pytest -m browser``). Fixtures:

- ``browser``: one headless chromium for the session (a ``playwright.sync_api.Browser``),
  on a fresh temporary profile that is removed afterwards;
- ``console_errors``: the list that ``page`` fills with console errors and uncaught page errors;
- ``page``: a fresh context and page per test (1280 x 900), closed after it;
- ``save_screenshot``: ``save_screenshot(page, folder, name, **options) -> Path``, a PNG in ``folder``.

A missing chromium or Playwright fails the tests with the fix; it never skips them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    """``/usr/bin/chromium``, or a failure that says how to install it."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Debian's chromium is not installed at {CHROMIUM}, and the browser tests need it. Fix: "
            "apt-get update && apt-get install -y --no-install-recommends chromium "
            "(the tests never download a browser: do not run `playwright install`).",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_executable: Path) -> Iterator[Any]:
    """A headless chromium for the session, on a fresh temporary profile (removed at the end)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "The playwright package is not installed. Fix: .venv/bin/pip install -e '.[dev]' "
            "(it is in the dev extra); never run `playwright install`, the tests use /usr/bin/chromium.",
            pytrace=False,
        )
    scratch = Path(tempfile.mkdtemp(prefix="alignment-drift-chromium-"))
    # Playwright's driver makes the browser's fresh profile folder in its TMPDIR: keep it in ours
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(scratch)
    try:
        playwright = sync_playwright().start()
    finally:
        if saved is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(chromium_executable), headless=True, args=CHROMIUM_ARGS
        )
    except Exception:
        playwright.stop()
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors and uncaught page errors of the test's ``page`` (empty when the page is clean)."""
    return []


@pytest.fixture
def page(browser: Any, console_errors: list[str]) -> Iterator[Any]:
    """A page in a fresh browser context; its console errors and page errors go to ``console_errors``."""
    context = browser.new_context(viewport=VIEWPORT)
    new_page = context.new_page()
    new_page.on(
        "console",
        lambda message: (
            console_errors.append(f"console.{message.type}: {message.text}") if message.type == "error" else None
        ),
    )
    new_page.on("pageerror", lambda error: console_errors.append(f"page error: {error}"))
    try:
        yield new_page
    finally:
        context.close()


@pytest.fixture
def save_screenshot() -> Callable[..., Path]:
    """``save_screenshot(page, folder, name, **options)``: a PNG of the page in ``folder`` (created), its path.

    ``options`` go to Playwright's ``page.screenshot`` (default ``full_page=True``).
    """

    def save(page: Any, folder: Path | str, name: str, **options: Any) -> Path:
        target = Path(folder) / (name if name.endswith(".png") else f"{name}.png")
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), **{"full_page": True, **options})
        return target

    return save
