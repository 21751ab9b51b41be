"""Memory of the app after 20 analyses: `python -m benchmarks.server_memory`.

Runs the real app in-process with Streamlit's AppTest (the same script, caches and engine as a
server), opens each of the 10 gallery images on the Detections page (10 images x 2 models = 20
analyses), then the Hierarchical attention page, and prints the process's peak resident memory.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ENTRY = Path(__file__).resolve().parent.parent / "streamlit_app.py"


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    start = time.perf_counter()
    at = AppTest.from_file(str(ENTRY), default_timeout=300).run()
    print(f"first page with the first analysed image: {time.perf_counter() - start:.1f} s, RSS {rss_mib():.0f} MiB")
    images = at.sidebar.selectbox(key="image_choice").options
    for name in images:
        at.sidebar.selectbox(key="image_choice").set_value(name).run()
        assert not at.exception, at.exception
    print(f"after {2 * len(images)} analyses ({len(images)} images x 2 models): RSS {rss_mib():.0f} MiB, "
          f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
