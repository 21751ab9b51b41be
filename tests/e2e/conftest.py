"""Real-browser tests: the app served by `streamlit run` on a free local port, driven by Playwright
with Debian's Chromium (/usr/bin/chromium; Playwright's own browser downloads are never used).

Run them alone with `pytest -m e2e`; without Chromium or Playwright they are skipped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Screenshots land in output/screenshots/ (not tracked); UPDATE_SCREENSHOTS=1 refreshes the
# README's copies in docs/screenshots/ instead.
SCREENSHOTS = ROOT / ("docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else "output") / "screenshots"
START_TIMEOUT = 90  # seconds for the server to answer its health check


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: drives the running app in a real browser (slow; needs Chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    log: Path
    started: float  # time.monotonic() when the process was started

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """`python -m streamlit run streamlit_app.py` on a free port, as a user starts it."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests")
    pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            # the tests' temp folders are the server folders visitors may name (app.server_paths)
            env={**os.environ, "BAMVIZ_SERVER_PATHS": str(tmp_path_factory.getbasetemp())})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.3)
        yield Server(url, log, started)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def page(server):
    """One browser tab (one app session) shared by the tests of a module, in order."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
        tab = context.new_page()
        tab.set_default_timeout(180_000)
        yield tab
        context.close()
        browser.close()
