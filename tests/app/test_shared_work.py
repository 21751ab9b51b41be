"""app.shared_work: concurrent requests for the same work share one computation (issue 23)."""

from __future__ import annotations

import threading

import pytest

from app.shared_work import SharedWork, run_shared


def _started_together(work: SharedWork, key: str, compute, joined: threading.Event):
    results = {}

    def leader():
        try:
            results["first"] = run_shared(work, key, compute)
        except BaseException:  # noqa: BLE001  (a stopped page: the test looks at the follower)
            pass

    def follower():
        results["second"] = run_shared(work, key, compute, on_join=joined.set, poll=0.01)

    a = threading.Thread(target=leader)
    a.start()
    while not work.in_flight(key):
        pass
    b = threading.Thread(target=follower)
    b.start()
    return a, b, results


def test_the_same_request_runs_once_and_both_get_the_result():
    work, release, joined, calls = SharedWork(), threading.Event(), threading.Event(), []

    def compute():
        calls.append(1)
        release.wait(10)
        return {"accuracy": 0.9}

    a, b, results = _started_together(work, "eval-A", compute, joined)
    assert joined.wait(10)  # the second caller is waiting on the first's computation
    release.set()
    a.join(10), b.join(10)
    assert len(calls) == 1 and results["first"] is results["second"] == {"accuracy": 0.9}
    assert not work.in_flight("eval-A")


def test_different_requests_run_side_by_side():
    work, both_running, calls = SharedWork(), threading.Barrier(2, timeout=10), []

    def compute(name):
        calls.append(name)
        both_running.wait()  # only passes when the two run at the same time
        return name

    threads = [threading.Thread(target=run_shared, args=(work, k, lambda k=k: compute(k))) for k in ("a", "b")]
    [t.start() for t in threads]
    [t.join(10) for t in threads]
    assert sorted(calls) == ["a", "b"]


def test_an_error_reaches_everyone_who_waited_and_is_not_kept():
    work, release, joined = SharedWork(), threading.Event(), threading.Event()

    def failing():
        release.wait(10)
        raise ValueError("the dataset has 3 problems")

    errors = []
    a = threading.Thread(target=lambda: errors.append(_catch(lambda: run_shared(work, "k", failing))))
    a.start()
    while not work.in_flight("k"):
        pass
    b = threading.Thread(target=lambda: errors.append(_catch(lambda: run_shared(work, "k", failing, on_join=joined.set,
                                                                                poll=0.01))))
    b.start()
    assert joined.wait(10)
    release.set()
    a.join(10), b.join(10)
    assert errors == ["the dataset has 3 problems"] * 2
    assert run_shared(work, "k", lambda: "fixed") == "fixed"  # a later request computes afresh


def test_a_stopped_leader_leaves_the_work_to_the_one_waiting():
    class Stopped(BaseException):  # how Streamlit stops a page's script
        pass

    work, release, joined, calls = SharedWork(), threading.Event(), threading.Event(), []

    def compute():
        calls.append(1)
        if len(calls) == 1:
            release.wait(10)
            raise Stopped()
        return "done by the second"

    a, b, results = _started_together(work, "k", compute, joined)
    assert joined.wait(10)
    release.set()
    a.join(10), b.join(10)
    assert results == {"second": "done by the second"} and len(calls) == 2


def _catch(call):
    try:
        call()
    except ValueError as e:
        return str(e)
    pytest.fail("no error")


def test_a_shared_bar_shows_the_computing_sessions_progress_to_the_one_that_joined():
    from app.shared_work import SHARED, images_done, shared_bar

    class Bar:  # what st.progress gives a page: progress(value, text=...)
        def __init__(self):
            self.shown = []

        def progress(self, value, text=""):
            self.shown.append((value, text))

    mine, theirs = Bar(), Bar()
    report, _ = shared_bar(("test", "bar"), mine, "")
    _, joined = shared_bar(("test", "bar"), theirs, "Another visitor is doing this:")
    gate, reported = threading.Event(), threading.Event()

    def compute():
        images_done(report)(3, 12)
        reported.set()
        assert gate.wait(10)
        return "done"

    leader = threading.Thread(target=lambda: SHARED.run(("test", "bar"), compute))
    leader.start()
    assert reported.wait(10)
    joined()
    gate.set()
    leader.join(10)
    assert mine.shown == [(0.25, "3 of 12 images")]
    assert theirs.shown == [(0.25, "Another visitor is doing this: 3 of 12 images")]
