"""Heavy work in the pages under the server-wide limit (app/heavy_jobs.py, app/heavy_ui.py): two
sessions at once, a wait and a job stopped as Streamlit stops them, the presentation's cap.

The limiter is the real one, sized 1; only the heavy functions themselves are held on an Event
(a real GradCAM stands in for ScoreCAM's minute) or run for real."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner_utils.script_run_context import SCRIPT_RUN_CONTEXT_ATTR_NAME, get_script_run_ctx
from streamlit.testing.v1 import app_test
from streamlit.testing.v1.util import patch_config_options

import viz.gradcam
from app import cache, heavy_jobs
from tests.app.conftest import assert_clean, choose_server_dataset, errors, open_app

WAIT = 120  # seconds: a bound on every wait, so a broken limit fails instead of hanging


@pytest.fixture
def one_slot(monkeypatch):
    """The server-wide limit, sized 1 for the test."""
    limiter = heavy_jobs.Limiter(1)
    monkeypatch.setattr(heavy_jobs, "LIMITER", limiter)
    return limiter


def _until(condition, timeout: float = WAIT) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def _in_thread(at) -> tuple[threading.Thread, list]:
    """at.run() in a thread (as a second visitor's request); the list gets its exception, if any."""
    failed = []

    def run():
        try:
            at.run(timeout=WAIT)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            failed.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, failed


def _holder(limiter) -> threading.Event:
    """Another visitor's heavy job: holds the only slot until the returned Event is set."""
    release = threading.Event()

    def hold():
        with limiter.slot():
            release.wait(WAIT)

    threading.Thread(target=hold, daemon=True).start()
    _until(lambda: limiter.running == 1)
    return release


def _stop_the_waiting_run() -> None:
    """What a click does to a run in progress: a request its script thread serves at its next st.* call."""
    (ctx,) = [getattr(t, SCRIPT_RUN_CONTEXT_ATTR_NAME) for t in threading.enumerate()
              if getattr(t, SCRIPT_RUN_CONTEXT_ATTR_NAME, None) is not None and t.is_alive()]
    ctx.script_requests.request_stop()


class _KeepRuntime(type):
    """AppTest clears Streamlit's Runtime at the end of each run, under the feet of a session still
    running in another thread: for two sessions at once, the last one set stays (until teardown)."""

    def __setattr__(cls, name, value):
        if not (name == "_instance" and value is None):
            setattr(Runtime, name, value)


class _SharedRuntime(Runtime, metaclass=_KeepRuntime):
    pass


def _gradcam_page():
    at = open_app()
    at.sidebar.slider(key="threshold").set_value(0.0).run()  # every detection: something to explain
    at.switch_page("app/pages/gradcam.py").run()
    at.toggle(key="cam_sanity").set_value(False).run()
    assert_clean(at)
    return at


def test_two_sessions_asking_for_scorecam_at_once_take_turns(one_slot, monkeypatch, count_calls):
    monkeypatch.setattr(Runtime, "_instance", None)  # restored at teardown
    monkeypatch.setattr(app_test, "Runtime", _SharedRuntime)
    first, second = _gradcam_page(), _gradcam_page()
    if any("detects nothing" in i.value for i in first.info):
        pytest.skip("these weights detect nothing: no CAM to compute")
    gates = {"ScoreCAM": threading.Event(), "AblationCAM": threading.Event()}
    real = viz.gradcam.instance_cam

    def held(model, model_input, request, **kwargs):  # the perturbation CAM's minute, held until the test says
        assert gates[request.method].wait(WAIT)
        return real(model, model_input, dataclasses.replace(request, method="GradCAM"), **kwargs)

    monkeypatch.setattr(viz.gradcam, "instance_cam", held)
    try:
        with patch_config_options({"global.appTest": True}):  # AppTest patches it per run: keep it for both
            first.selectbox(key="cam_method").set_value("ScoreCAM")
            a, a_failed = _in_thread(first)
            _until(lambda: one_slot.running == 1)  # the first session computes
            second.selectbox(key="cam_method").set_value("AblationCAM")
            b, b_failed = _in_thread(second)
            _until(lambda: one_slot.waiting == 1)  # the second waits for it
            time.sleep(1)  # several polls later, still waiting, still one job running
            assert (one_slot.running, one_slot.waiting) == (1, 1) and a.is_alive() and b.is_alive()
            for gate in gates.values():
                gate.set()
            a.join(WAIT)
            b.join(WAIT)
        assert not a_failed and not b_failed, a_failed + b_failed
        assert (one_slot.running, one_slot.waiting) == (0, 0)
        for at, method in ((first, "ScoreCAM"), (second, "AblationCAM")):
            assert_clean(at)
            shown = [c for image in at.main.image for c in image.captions if c.startswith(method)]
            assert len(shown) == 2, shown  # both models' CAMs
        waited = [c.value for c in second.caption if "heavy jobs of other visitors" in c.value]
        assert waited and waited[0].startswith("AblationCAM at c4 for ") and ": waited " in waited[0]

        # the same click again: the kept CAMs, neither computed nor waiting for the slot another job holds
        cams = count_calls(viz.gradcam, "instance_cam")
        release = _holder(one_slot)
        first.run(timeout=60)
        release.set()
        assert_clean(first)
        assert cams.calls == 0 and one_slot.waiting == 0
    finally:
        for gate in gates.values():
            gate.set()
        cache.cam.clear()  # its ScoreCAM / AblationCAM entries hold GradCAMs


def _evaluate_page(tmp_path):
    from demo.generator import generate_dataset

    generate_dataset(tmp_path, n_train=0, n_val=0, n_test=3, size=(160, 160))
    at = open_app("evaluate")
    choose_server_dataset(at, str(tmp_path / "test" / "annotations.json"), str(tmp_path / "test" / "images"))
    assert_clean(at)
    return at


def _stopped(at) -> bool:
    return any("The evaluation was stopped before it finished" in i.value for i in at.info)


def test_an_evaluation_waits_visibly_and_a_click_while_it_waits_stops_it(tmp_path, server_folder, one_slot,
                                                                         evaluation_cache, count_calls):
    import evaluation.evaluate

    at = _evaluate_page(tmp_path)
    evaluations = count_calls(evaluation.evaluate, "evaluate")
    release = _holder(one_slot)  # another visitor's job has the only slot
    try:
        at.button(key="eval_run").click()
        thread, failed = _in_thread(at)
        _until(lambda: one_slot.waiting == 1)
        _stop_the_waiting_run()
        thread.join(WAIT)
        assert not failed, failed
        assert (one_slot.running, one_slot.waiting) == (1, 0)  # the other job only: the wait left no slot taken
    finally:
        release.set()
    assert_clean(at)
    assert evaluations.calls == 0 and "evaluation" not in at.session_state
    assert not any(evaluation_cache.iterdir())
    assert not _stopped(at)
    at.run()
    assert_clean(at)
    assert _stopped(at)  # said on the next run, once
    at.run()
    assert not _stopped(at)


def test_an_evaluation_stopped_mid_way_keeps_nothing(tmp_path, server_folder, one_slot, evaluation_cache,
                                                     monkeypatch):
    import evaluation.evaluate

    at = _evaluate_page(tmp_path)
    real, progress = evaluation.evaluate.evaluate, []

    def clicked_after_one_image(*args, on_progress, **kwargs):
        def report(done, total):
            progress.append(done)
            get_script_run_ctx().script_requests.request_stop()  # a click arrives; the page's bar serves it
            on_progress(done, total)

        return real(*args, on_progress=report, **kwargs)

    monkeypatch.setattr(evaluation.evaluate, "evaluate", clicked_after_one_image)
    at.button(key="eval_run").click().run()
    assert_clean(at)
    assert progress == [1]  # stopped at the first image's progress
    assert one_slot.running == 0 and "evaluation" not in at.session_state
    assert not any(evaluation_cache.iterdir())  # no half-written results kept
    at.run()
    assert _stopped(at) and not errors(at)


def test_the_presentation_export_has_a_stated_cap(monkeypatch):
    monkeypatch.setenv(heavy_jobs.MAX_IMAGES_ENV, "2")
    at = open_app("compare")
    chooser = at.multiselect(key="deck_images")
    assert chooser.label == "Images (at most 2)"
    assert len(chooser.options) >= 3
    chooser.set_value(chooser.options[:3]).run()
    assert_clean(at)
    (warning,) = [w.value for w in at.warning if "presentation holds at most 2" in w.value]
    assert warning.startswith("3 images chosen")
    assert at.button(key="deck_build").disabled
    assert "deck" not in at.session_state



def test_two_sessions_asking_for_the_same_evaluation_share_one_computation(tmp_path, server_folder, monkeypatch):
    import evaluation.evaluate
    from app import evaluation as app_evaluation
    from app.shared_work import SHARED

    monkeypatch.setattr(Runtime, "_instance", None)  # restored at teardown
    monkeypatch.setattr(app_test, "Runtime", _SharedRuntime)
    first, second = _evaluate_page(tmp_path), _evaluate_page(tmp_path)
    gate, calls, real = threading.Event(), [], evaluation.evaluate.evaluate

    def held(*args, **kwargs):  # the evaluation's minutes, held until the second session has asked too
        calls.append(1)
        assert gate.wait(WAIT)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation.evaluate, "evaluate", held)
    json_path = tmp_path / "test" / "annotations.json"
    pair, threshold = first.session_state["_selection"].pair, first.session_state["_selection"].threshold
    work = ("evaluation", str(app_evaluation.cache_folder(pair, json_path, tmp_path / "test" / "images", threshold,
                                                          label=str(json_path))))
    try:
        with patch_config_options({"global.appTest": True}):  # AppTest patches it per run: keep it for both
            first.button(key="eval_run").click()
            a, a_failed = _in_thread(first)
            _until(lambda: calls)  # the first session computes
            second.button(key="eval_run").click()
            b, b_failed = _in_thread(second)
            _until(lambda: SHARED.waiting(work) == 1)  # the second waits for the first's result
            time.sleep(1)  # several polls later, still one computation
            assert len(calls) == 1 and a.is_alive() and b.is_alive()
            gate.set()
            a.join(WAIT)
            b.join(WAIT)
    finally:
        gate.set()
    assert not a_failed and not b_failed, a_failed + b_failed
    assert len(calls) == 1  # one computation
    runs = [at.session_state["evaluation"] for at in (first, second)]
    assert runs[0].out_dir == runs[1].out_dir and runs[1].results.dataset.num_images == 3  # both got its result
    for at in (first, second):
        assert_clean(at)
        assert "Results" in [h.value for h in at.subheader]
        # the job is over: its Cancel button is gone with it (it stayed beside the results before)
        assert not [b for b in at.button if b.label == "Cancel"]
