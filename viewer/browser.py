"""Headless Chromium through Playwright, using the system's browser (Debian package ``chromium``):
nothing is downloaded. Used by the tests and by ``docs/pictures.py`` for the README screenshot."""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

from indexer import Code, VidatlasError

# quiet start on a machine without network: no background fetches, updates or sync
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    """``$VIDATLAS_CHROMIUM``, else the first of chromium / chromium-browser / google-chrome on PATH."""
    for candidate in (os.environ.get("VIDATLAS_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        path = candidate and shutil.which(candidate)
        if path:
            return path
    raise VidatlasError("no Chromium found: install the Debian package 'chromium' or set VIDATLAS_CHROMIUM",
                        Code.FAILED_PRECONDITION)


@contextmanager
def browser():
    """A headless Chromium browser (Playwright's sync API)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise VidatlasError("the viewer's browser tools need the 'playwright' package (pip install playwright)",
                            Code.FAILED_PRECONDITION) from None
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), args=FLAGS)
        try:
            yield b
        finally:
            b.close()


def open_viewer(b, url: str, width: int = 1400, height: int = 850):
    """A page showing the viewer at ``url``, waited for until its frames are drawn; page errors
    are collected in ``page.errors``."""
    page = b.new_page(viewport={"width": width, "height": height})
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("window.vidatlas && window.vidatlas.ready", timeout=30_000)
    return page
