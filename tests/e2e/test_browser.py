"""The app in Chromium, as a person uses it: first launch on the demo, every view, an upload of
their own image, a corrupt upload, downloads. Screenshots go to output/screenshots/ (see conftest)."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from PIL import Image

from demo.statement import DEMO_STATEMENT
from tests.e2e.conftest import SCREENSHOTS

pytestmark = pytest.mark.e2e
PlaywrightTimeout = pytest.importorskip("playwright.sync_api",
                                        reason="playwright (Python) is not installed").TimeoutError

# (navigation label, page title, at least this many pictures in the main area, screenshot name)
VIEWS = [
    ("Hierarchical attention", "Hierarchical attention", 12, "attention"),
    ("Feature maps", "Feature maps", 2, "features"),
    ("Grad-CAM", "Grad-CAM", 2, "gradcam"),
    ("With vs without BAM", "With vs without BAM", 6, "compare"),
    ("Evaluate", "Evaluate", 0, "evaluate-start"),
]
MAIN = '[data-testid="stMain"]'


def wait_idle(page, timeout: float = 180) -> None:
    """Wait until the app has finished its run. Streamlit shows its running indicator about half a
    second into a run, so give it that long to appear, then wait for it (and any spinner or stale
    element) to go."""
    try:
        page.wait_for_selector('[data-testid="stStatusWidget"]', timeout=1500)
    except PlaywrightTimeout:
        pass  # a run that short shows no indicator
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')
                 && !document.querySelector('[data-testid="stSpinner"]')
                 && !document.querySelector('[data-stale="true"]')""", timeout=timeout * 1000)


def main_pictures(page) -> int:
    """Pictures in the main area that the browser has actually decoded (lazy ones are loaded)."""
    images = f"""[...document.querySelectorAll('{MAIN} [data-testid="stImage"] img')]"""
    page.evaluate(f"() => {images}.forEach(img => {{ img.loading = 'eager'; }})")
    page.wait_for_function(f"() => {images}.every(img => img.complete)", timeout=30_000)
    return page.evaluate(f"() => {images}.filter(img => img.naturalWidth > 0).length")


def assert_no_error_boxes(page, *, known: str | None = None) -> None:
    """No traceback and no error message on the page, but those that mention `known`."""
    for kind in ("stException", "stAlertContentError"):
        texts = page.locator(f'[data-testid="{kind}"]').all_inner_texts()
        assert not [t for t in texts if known is None or known not in t], texts


def screenshot(page, name: str, *, max_height: int = 2400) -> None:
    """The whole page (the viewport grown to the content, up to max_height), palette-compressed to
    keep the file modest."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    content = page.evaluate("""() => Math.max(...['stMain', 'stMainBlockContainer', 'stSidebarContent']
        .map(id => document.querySelector(`[data-testid="${id}"]`)).filter(Boolean).map(e => e.scrollHeight))""")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(content + 40, max_height))})
    page.mouse.move(0, 0)  # no hover tooltip in the picture
    page.wait_for_timeout(800)  # layout, charts and lazy images settle
    main_pictures(page)
    shot = Image.open(io.BytesIO(page.screenshot()))
    page.set_viewport_size(size)
    shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(SCREENSHOTS / f"{name}.png",
                                                                                  optimize=True)


def open_view(page, label: str) -> None:
    page.locator('[data-testid="stSidebarNavLink"]', has_text=label).first.click()
    wait_idle(page)


def upload(page, name: str, data: bytes) -> None:
    page.locator('[data-testid="stSidebar"] [data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(
        {"name": name, "mimeType": "image/png", "buffer": data})
    wait_idle(page)


def test_first_launch_shows_the_analysed_demo_image(page, server):
    page.goto(server.url)
    page.get_by_role("heading", name="Detections").wait_for()
    wait_idle(page)
    seconds = time.monotonic() - server.started
    print(f"\nfirst analysed demo image {seconds:.1f} s after `streamlit run` started")
    assert_no_error_boxes(page)
    main = page.locator(MAIN)
    assert main.get_by_text("Gallery:").count() == 1
    assert main_pictures(page) >= 10 + 3  # the gallery, the ground truth, both models' detections
    for label in ("Detections", "Kept", "Gained", "Lost"):
        value = main.locator('[data-testid="stMetric"]', has_text=label).first.locator('[data-testid="stMetricValue"]')
        assert value.inner_text().strip().isdigit(), label
    assert "BAM after res2, res3, res4" in page.locator('[data-testid="stSidebar"]').inner_text()
    # what the demo models are, with the model card's numbers, before anything else is read
    statement = " ".join(main.locator('[data-testid="stAlert"]').first.inner_text().split())
    assert statement.endswith(" ".join(DEMO_STATEMENT.split()))  # after the icon's name
    assert "Bottleneck Attention Module" in main.inner_text()
    screenshot(page, "detections")


@pytest.mark.parametrize("label, title, pictures, name", VIEWS, ids=[v[3] for v in VIEWS])
def test_every_view_renders(page, label, title, pictures, name):
    open_view(page, label)
    page.get_by_role("heading", name=title, exact=True).wait_for()
    assert_no_error_boxes(page)
    assert main_pictures(page) >= pictures
    screenshot(page, name)


def test_a_display_control_answers_quickly(page):
    open_view(page, "Hierarchical attention")
    sources = f"""() => [...document.querySelectorAll('{MAIN} [data-testid="stImage"] img')].map(i => i.src).join()"""
    before = page.evaluate(sources)
    page.locator(MAIN).locator('[data-testid="stSelectbox"]', has_text="Colormap").first.click()
    start = time.monotonic()
    page.get_by_role("option", name="viridis").click()
    page.wait_for_function(f"() => ({sources})() !== {json.dumps(before)}", timeout=30_000)
    seconds = time.monotonic() - start
    print(f"\ncolormap change: new maps in the browser after {seconds:.2f} s")
    wait_idle(page)
    assert_no_error_boxes(page)
    assert main_pictures(page) >= 12
    assert seconds < 3


def test_downloads_give_files(page):
    open_view(page, "Detections")
    with page.expect_download() as download:
        page.get_by_role("button", name="Analysis (JSON)").click()
    data = json.loads(open(download.value.path()).read())
    assert len(data["models"]) == 2 and "comparison" in data


def test_an_uploaded_image_goes_through_every_view(page):
    from demo.generator import make_sample

    picture = make_sample(np.random.default_rng(7), size=(240, 360)).image
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "PNG")
    upload(page, "my_part.png", buffer.getvalue())
    page.locator(MAIN).get_by_text("my_part.png (360 × 240)").wait_for()  # the upload is the analysed image
    for label, title, pictures, _ in VIEWS:
        open_view(page, label)
        page.get_by_role("heading", name=title, exact=True).wait_for()
        assert_no_error_boxes(page)
        assert main_pictures(page) >= pictures, label


def test_evaluate_a_small_labelled_set(page, tmp_path):
    from demo.generator import generate_dataset

    generate_dataset(tmp_path, n_train=0, n_val=0, n_test=4, size=(200, 200), seed=3)
    open_view(page, "Evaluate")
    page.get_by_text("A COCO dataset on the server").click()
    wait_idle(page)
    page.get_by_label("COCO annotations (JSON)").fill(str(tmp_path / "test" / "annotations.json"))
    page.get_by_label("Image folder").fill(str(tmp_path / "test" / "images"))
    page.get_by_label("Image folder").press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Run evaluation").click()
    page.get_by_role("heading", name="Results").wait_for(timeout=300_000)
    wait_idle(page)
    assert_no_error_boxes(page)
    table = page.locator(MAIN).locator('[data-testid="stDataFrame"]').first
    table.wait_for()
    assert page.locator(MAIN).get_by_text("Where they disagree").count() == 1
    screenshot(page, "evaluate")


def test_a_corrupt_upload_is_reported(page):
    open_view(page, "Detections")
    upload(page, "broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    message = page.locator('[data-testid="stAlertContentError"]', has_text="broken.png").first
    message.wait_for()
    assert "damaged or truncated" in message.inner_text() or "not an image" in message.inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0
    assert main_pictures(page) >= 3  # the last good image is still shown
    screenshot(page, "bad-upload")


def test_attention_measured_on_a_small_labelled_set(page, tmp_path):
    from demo.generator import generate_dataset

    generate_dataset(tmp_path, n_train=0, n_val=0, n_test=4, size=(200, 200), seed=3)
    open_view(page, "Attention, measured")
    page.get_by_text("A COCO dataset on the server").click()
    wait_idle(page)
    page.get_by_label("COCO annotations (JSON)").fill(str(tmp_path / "test" / "annotations.json"))
    page.get_by_label("Image folder").fill(str(tmp_path / "test" / "images"))
    page.get_by_label("Image folder").press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Measure", exact=True).click()
    page.get_by_role("heading", name="Best and worst images").wait_for(timeout=300_000)
    wait_idle(page)
    assert_no_error_boxes(page, known="broken.png")  # an earlier test's upload, still listed
    page.locator(MAIN).locator('[data-testid="stDataFrame"]').first.wait_for()
    assert main_pictures(page) >= 3  # the figure and at least one best and one worst image
    screenshot(page, "attention-measured")


def test_a_config_that_would_run_code_is_refused_in_the_page(page, tmp_path):
    from tests import hostile

    marker = tmp_path / "pwned"
    evil = hostile.yaml_running_code(tmp_path, marker)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Use your own models").click()
    sidebar.get_by_text("Upload", exact=True).first.click()  # the side with attention
    wait_idle(page)
    sidebar.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(1).set_input_files(
        {"name": "evil.yaml", "mimeType": "application/x-yaml", "buffer": evil.read_bytes()})
    wait_idle(page)
    message = page.locator('[data-testid="stAlertContentError"]', has_text="evil.yaml: refused").first
    message.wait_for()
    assert "it uses YAML tags that would create Python objects or run code" in message.inner_text()
    assert not marker.exists()
    assert page.locator('[data-testid="stException"]').count() == 0
    sidebar.get_by_text("Demo", exact=True).first.click()  # and the page works again
    wait_idle(page)
    assert page.locator('[data-testid="stAlertContentError"]', has_text="evil.yaml").count() == 0


def test_an_uploaded_dataset_is_evaluated_and_its_report_written_in_an_open_panel(page, tmp_path):
    """Issue 23: a labelled zip uploaded in the page, evaluated, and the report to hand out written
    in a panel that stays open, with its progress and then its downloads in sight; the dataset
    stays chosen on the next page and back."""
    import zipfile

    from demo.generator import generate_dataset

    generate_dataset(tmp_path, n_train=0, n_val=0, n_test=4, size=(200, 200), seed=5)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((tmp_path / "test").rglob("*")):
            if path.is_file():
                archive.write(path, "mine/" + path.relative_to(tmp_path / "test").as_posix())
    open_view(page, "Evaluate")
    page.locator(MAIN).get_by_text("Upload a dataset").click()
    wait_idle(page)
    page.locator(f'{MAIN} [data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        {"name": "mine.zip", "mimeType": "application/zip", "buffer": buffer.getvalue()})
    page.locator(MAIN).get_by_text("Using mine.zip (").wait_for()
    wait_idle(page)
    page.get_by_role("button", name="Run evaluation").click()
    page.get_by_role("heading", name="Results").wait_for(timeout=300_000)
    wait_idle(page)
    assert page.locator(MAIN).get_by_text("mine.zip (").count() >= 2  # the results name the upload

    panel = page.locator('[data-testid="stExpander"]', has_text="Report to hand out")
    panel.get_by_text("Report to hand out (PDF and HTML)").click()
    panel.get_by_role("button", name="Write the report").click()
    progress = panel.locator('[data-testid="stProgress"]')
    progress.wait_for(timeout=60_000)  # its progress, inside the panel, in sight
    assert progress.is_visible() and panel.locator("details").get_attribute("open") is not None
    panel.get_by_role("button", name="Report (PDF)").wait_for(timeout=300_000)
    wait_idle(page)
    assert panel.locator("details").get_attribute("open") is not None  # still open, downloads in sight
    assert panel.get_by_role("button", name="Report (HTML)").is_visible()
    assert page.locator('[data-testid="stExpander"]', has_text="Report to hand out").count() == 1  # no stale copy
    screenshot(page, "evaluate-upload-report")

    open_view(page, "Attention, measured")
    assert page.locator(MAIN).get_by_text("Using mine.zip (").count() == 1  # still the chosen dataset
    open_view(page, "Evaluate")
    page.get_by_role("heading", name="Results").wait_for()
    assert page.locator(MAIN).get_by_text("earlier run").count() == 0  # its own results, not another's


def test_the_server_log_has_no_traceback(server):
    log = server.log_text()
    assert "Traceback" not in log and "Exception" not in log, log[-3000:]
