"""Launch to first analysed demo image: `python -m benchmarks.startup [--against REF]`.

Starts `python -m streamlit run streamlit_app.py` on a free port, as a user does, opens it in
Debian's Chromium (Playwright) and notes, in seconds after the start of the process:
- health: the server answers its health check;
- shell: the page shell is drawn (the sidebar's page menu is visible);
- progress: the first progress message (a spinner, or a notice saying "Loading…") is visible;
- picture: the first analysed demo image (a detections picture of the Detections page) is
  decoded by the browser;
- cpu: the CPU time the server process had used by then (user + system): the work the app did,
  which, unlike the waits above, moves little when other programs load the machine.
The page notes the times itself (a MutationObserver plus a 20 ms poll), so a spinner that shows
for a moment is not missed. Every launch is a fresh server and a fresh browser session; one
launch first, not counted, warms the disk cache as a user's second launch would find it.

`--against REF` also launches the app of a git ref (exported with `git archive` into a temp
folder), the two launched in turn (ABAB...), so that load from elsewhere falls on both alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT = 180  # seconds a launch may take to show its first picture
MILESTONES = {"health": "server answers its health check",
              "shell": "page shell (sidebar page menu) visible",
              "progress": "first progress message (a spinner or a \"Loading…\" notice) visible",
              "picture": "first analysed demo image (detections picture) shown",
              "cpu": "the server's CPU seconds by then (moves little with load)"}

# Runs in the page before the app's own scripts: window.__marks[name] = Date.now() when first seen.
OBSERVER = """
window.__marks = {};
const seen = {
  shell: () => document.querySelector('[data-testid="stSidebarNav"]'),
  progress: () => document.querySelector('[data-testid="stSpinner"]') || [...document.querySelectorAll(
      '[data-testid="stAlert"]')].some(el => /Loading/.test(el.innerText)),
  picture: () => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"]')].some(
      el => /detections with score/.test(el.innerText) && [...el.querySelectorAll('img')].some(
          img => img.complete && img.naturalWidth > 0)),
};
const check = () => {
  for (const [name, test] of Object.entries(seen)) {
    if (!(name in window.__marks) && test()) window.__marks[name] = Date.now();
  }
};
new MutationObserver(check).observe(document, {childList: true, subtree: true, attributes: true});
document.addEventListener('load', check, true);
setInterval(check, 20);
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process `pid` has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def launch(root: Path, browser) -> dict[str, float]:
    """One launch of the app in `root`: {milestone: seconds after the process started}."""
    port, url = _free_port(), None
    with tempfile.TemporaryFile("w+") as log:
        started = time.time()
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=root, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                        if reply.status == 200:
                            break
                except OSError:
                    pass
                if process.poll() is not None or time.time() - started > TIMEOUT:
                    log.seek(0)
                    raise RuntimeError(f"the app did not start:\n{log.read()}")
                time.sleep(0.05)
            marks = {"health": time.time() - started}
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            try:
                page = context.new_page()
                page.add_init_script(OBSERVER)
                page.goto(url)
                page.wait_for_function("() => 'picture' in window.__marks", timeout=TIMEOUT * 1000, polling=100)
                marks["cpu"] = _cpu_seconds(process.pid)
                marks.update({name: at / 1000 - started for name, at in page.evaluate("window.__marks").items()})
            finally:
                context.close()
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    return marks


def export(ref: str) -> Path:
    """The tree of git ref `ref` in a new temp folder (tracked files only, demo weights included)."""
    folder = Path(tempfile.mkdtemp(prefix="bamviz-startup-"))
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def measure(trees: dict[str, Path], repetitions: int) -> dict[str, list[dict[str, float]]]:
    """{tree name: one milestones dict per launch}; the trees launched in turn, the first of each
    round rotating, after one uncounted launch each."""
    from playwright.sync_api import sync_playwright

    names = list(trees)
    runs = {name: [] for name in names}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for name in names:
                launch(trees[name], browser)
            for rep in range(repetitions):
                for name in names[rep % len(names):] + names[:rep % len(names)]:
                    runs[name].append(launch(trees[name], browser))
        finally:
            browser.close()
    return runs


def _cell(values: list[float]) -> str:
    """'median (min-max)' seconds."""
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})" if values else "–"


def table(runs: dict[str, list[dict[str, float]]]) -> list[str]:
    """Markdown lines: one row per milestone, one column per tree."""
    names = list(runs)
    lines = ["| seconds after `streamlit run` (CPU seconds in the last row) | " + " | ".join(names) + " |",
             "| --- |" + " ---: |" * len(names)]
    for key, what in MILESTONES.items():
        lines.append(f"| {what} | " + " | ".join(_cell([r[key] for r in runs[n] if key in r]) for n in names) + " |")
    return lines


def report(repetitions: int, against: str | None = None) -> list[str]:
    """The startup benchmark as Markdown lines (the working tree, and `against` when given)."""
    if not CHROMIUM.exists():
        return [f"Launch to first analysed demo image: not measured ({CHROMIUM} is missing)."]
    trees = {"this tree": ROOT}
    if against:
        trees = {against: export(against), **trees}
    load = f"{os.getloadavg()[0]:.1f}"
    try:
        runs = measure(trees, repetitions)
    finally:
        if against:
            shutil.rmtree(trees[against], ignore_errors=True)
    title = (f"Launch to first analysed demo image: `python -m streamlit run streamlit_app.py` opened in Chromium, "
             f"{repetitions} launches{' each, in turn' if against else ''} after one uncounted; "
             f"median (min-max) seconds; load average (1 min) {load} before, {os.getloadavg()[0]:.1f} after")
    return [title, "", *table(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--against", metavar="REF", help="also launch this git ref's app, in turn (e.g. main)")
    args = parser.parse_args()
    print("\n".join(report(args.repetitions, args.against)))


if __name__ == "__main__":
    main()
