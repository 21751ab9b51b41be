"""AppTest helpers: open the real app (real engine, the small R-18 demo models) on a page.

Streamlit's caches live in the process, so the models and analyses built by the first test are
reused by the others: only the first page pays for loading torch and analysing the image.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "streamlit_app.py"
TIMEOUT = 300  # seconds per script run: the first one imports torch and analyses the image


def open_app(page: str | None = None) -> AppTest:
    """A fresh session of the app, run once, on `page` (a module of app/pages/, e.g. "attention")."""
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run()
    assert_clean(at)
    if page:
        at.switch_page(f"app/pages/{page}.py").run()
        assert_clean(at)
    return at


def upload_model(at: AppTest, config: tuple[str, bytes], weights: tuple[str, bytes] | None = None,
                 role: str = "with") -> AppTest:
    """Upload a (name, bytes) config and optionally weights for one side in the sidebar; run."""
    at.radio(key=f"{role}_source").set_value("Upload").run()
    at.file_uploader(key=f"{role}_config_file").set_value((*config, "application/x-yaml"))
    if weights:
        at.file_uploader(key=f"{role}_weights_file").set_value((*weights, "application/octet-stream"))
    return at.run()


SERVER_DATASET = "A COCO dataset on the server"


def choose_server_dataset(at: AppTest, json_path, image_dir) -> AppTest:
    """On Evaluate or "Attention, measured": a COCO set named by server path; run."""
    at.radio(key="dataset_source").set_value(SERVER_DATASET).run()
    at.text_input(key="dataset_json").set_value(str(json_path))
    return at.text_input(key="dataset_images").set_value(str(image_dir)).run()


def assert_clean(at: AppTest) -> None:
    """No exception escaped, and none was caught by app/guard.py's last line of defence."""
    assert not at.exception, [e.value for e in at.exception]
    assert not [m for m in errors(at) if "could not be drawn for this input" in m], errors(at)


def errors(at: AppTest) -> list[str]:
    """The error boxes' text as a person reads it (the Markdown escapes of app.text.literal removed)."""
    return [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]


def main_images(at: AppTest) -> int:
    """The pictures in the main area, colour bars not counted."""
    return len(at.main.image) - len(colorbars(at))


def colorbars(at: AppTest) -> list[str]:
    """The scale of each colour bar in the main area, in order ("absolute [0, 1]", ...)."""
    from app.widgets import COLORBAR_CAPTION

    return [c.removeprefix(COLORBAR_CAPTION) for image in at.main.image for c in image.captions
            if c.startswith(COLORBAR_CAPTION)]


class CallCounter:
    """Counts the calls of a function it replaces (monkeypatch), still calling it."""

    def __init__(self, monkeypatch, owner, name: str):
        self.calls = 0
        original = getattr(owner, name)

        @functools.wraps(original)
        def counted(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)


@pytest.fixture
def server_folder(tmp_path, monkeypatch):
    """tmp_path, made a folder visitors may name files in (app.server_paths)."""
    from app.server_paths import ENV

    monkeypatch.setenv(ENV, str(tmp_path))
    return tmp_path


@pytest.fixture
def count_calls(monkeypatch):
    """count_calls(module, "function") -> a CallCounter whose .calls grows with each call."""
    return lambda owner, name: CallCounter(monkeypatch, owner, name)


@pytest.fixture(autouse=True)
def evaluation_cache(tmp_path_factory, monkeypatch):
    """Evaluations kept on disk go to a fresh folder per test (app.evaluation.CACHE_ROOT), not output/;
    so do the attention measures, the reports and the uploaded datasets."""
    from app import attention_measured, dataset_choice, evaluation, report_block

    folder = tmp_path_factory.mktemp("evaluations")
    monkeypatch.setattr(evaluation, "CACHE_ROOT", folder)
    monkeypatch.setattr(attention_measured, "CACHE_ROOT", tmp_path_factory.mktemp("attention"))
    monkeypatch.setattr(report_block, "REPORTS_ROOT", tmp_path_factory.mktemp("reports"))
    monkeypatch.setattr(dataset_choice, "UPLOADS_ROOT", tmp_path_factory.mktemp("datasets"))
    return folder
