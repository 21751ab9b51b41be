"""The first view of a fresh server loads only what it shows: the Detections page needs torch and
detectron2, not the grad-cam library and the scikit-learn and scipy it pulls (seconds of start-up;
issue 14.3). Run in a fresh interpreter, as `streamlit run` starts one."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.app.conftest import ENTRY, ROOT, TIMEOUT

NOT_ON_FIRST_VIEW = ("pytorch_grad_cam", "sklearn", "scipy")

CHILD = f"""
import json, sys
from streamlit.testing.v1 import AppTest

at = AppTest.from_file({str(ENTRY)!r}, default_timeout={TIMEOUT}).run()
print(json.dumps({{
    "titles": [t.value for t in at.title],
    "exceptions": [str(e.value) for e in at.exception],
    "metrics": [m.label for m in at.metric],
    "loaded": [name for name in {NOT_ON_FIRST_VIEW!r} if name in sys.modules],
}}))
"""


def test_first_run_of_the_detections_page_imports_no_cam_library():
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT,
                         check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    # the page was drawn with both models' detections, so the imports below are those of a real first view
    assert report["titles"] == ["Detections"] and not report["exceptions"], report
    assert {"Detections", "Kept", "Gained", "Lost"} <= set(report["metrics"]), report
    assert report["loaded"] == [], f"the first view imported {report['loaded']}"
