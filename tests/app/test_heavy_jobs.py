"""The server-wide limit on heavy work (app/heavy_jobs.py): real threads, the real limiter."""

from __future__ import annotations

import os
import threading
import time

import pytest

from app import heavy_jobs
from app.heavy_jobs import Busy, Limiter

WAIT = 10  # seconds: a bound for every wait here, so a broken limiter fails instead of hanging


def _until(condition, timeout: float = WAIT) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


def _holder(limiter: Limiter, release: threading.Event) -> threading.Thread:
    """A thread that takes a slot and keeps it until `release` is set (another visitor's job)."""
    def hold():
        with limiter.slot():
            release.wait(WAIT)

    thread = threading.Thread(target=hold)
    thread.start()
    _until(lambda: limiter.running == 1)
    return thread


def test_the_second_job_waits_for_the_first_and_hears_how_many_are_ahead():
    limiter = Limiter(1)
    release, order, seen = threading.Event(), [], []
    first = _holder(limiter, release)

    def second():
        with limiter.slot(on_wait=lambda running, waiting: seen.append((running, waiting)), poll=0.01):
            order.append("second ran")

    thread = threading.Thread(target=second)
    thread.start()
    _until(lambda: len(seen) >= 3)  # still blocked after several polls
    assert limiter.waiting == 1 and limiter.running == 1 and not order
    assert set(seen) == {(1, 0)}  # one job running, nobody else waiting
    release.set()
    first.join(WAIT)
    thread.join(WAIT)
    assert order == ["second ran"] and not thread.is_alive()
    assert (limiter.running, limiter.waiting) == (0, 0)


def test_other_waiters_are_counted():
    limiter = Limiter(1)
    release, seen = threading.Event(), {}
    first = _holder(limiter, release)

    def waiter(name):
        with limiter.slot(on_wait=lambda running, waiting: seen.__setitem__(name, (running, waiting)), poll=0.01):
            pass

    threads = [threading.Thread(target=waiter, args=(n,)) for n in ("b", "c")]
    for t in threads:
        t.start()
    _until(lambda: limiter.waiting == 2)
    _until(lambda: seen == {"b": (1, 1), "c": (1, 1)})  # at their next polls, each sees the other
    release.set()
    for t in (first, *threads):
        t.join(WAIT)
    assert (limiter.running, limiter.waiting) == (0, 0)


def test_a_free_slot_is_taken_without_waiting():
    limiter = Limiter(2)
    calls = []
    with limiter.slot(on_wait=lambda *a: calls.append(a)), limiter.slot(on_wait=lambda *a: calls.append(a)):
        pass
    assert calls == []


def test_the_slot_is_released_when_the_job_fails():
    limiter = Limiter(1)
    with pytest.raises(RuntimeError), limiter.slot():
        raise RuntimeError("the job failed")
    assert limiter.running == 0
    with limiter.slot(wait=False):  # free again
        assert limiter.running == 1


def test_a_wait_stopped_by_its_callback_takes_no_slot():
    """Streamlit stops a cancelled run inside on_wait (it touches the page): no slot is left held."""
    limiter = Limiter(1)
    release = threading.Event()
    first = _holder(limiter, release)

    def cancel(running, waiting):
        raise KeyboardInterrupt  # a BaseException, as Streamlit's StopException

    with pytest.raises(KeyboardInterrupt), limiter.slot(on_wait=cancel):
        pytest.fail("ran without a slot")
    assert (limiter.running, limiter.waiting) == (1, 0)
    release.set()
    first.join(WAIT)
    with limiter.slot(wait=False):
        assert limiter.running == 1


def test_no_wait_raises_busy_and_nested_work_runs_in_its_own_slot():
    limiter = Limiter(1)
    release = threading.Event()
    other = _holder(limiter, release)
    with pytest.raises(Busy), limiter.slot(wait=False):
        pass
    release.set()
    other.join(WAIT)
    with limiter.slot(), limiter.slot(wait=False), limiter.slot():  # nested: no deadlock, one slot
        assert limiter.running == 1
    assert limiter.running == 0


def test_run_cached_waits_only_to_compute():
    """A hit of a cached heavy function returns while every slot is taken; a miss waits, then runs in a slot."""
    limiter = Limiter(1)
    memo, computed = {}, []

    def cached(key, gate):  # the shape of app.cache.cam: the work inside the gate, a hit before it
        if key in memo:
            return memo[key]
        with gate:
            computed.append((key, limiter.running))
            memo[key] = key * 2
        return memo[key]

    assert heavy_jobs.run_cached(lambda gate: cached(1, gate), limiter=limiter) == 2
    release, waits, cleared = threading.Event(), [], []
    other = _holder(limiter, release)
    assert heavy_jobs.run_cached(lambda gate: cached(1, gate), on_wait=lambda *a: waits.append(a),
                                 limiter=limiter) == 2
    assert waits == [] and computed == [(1, 1)]  # the hit neither waited nor computed

    result = []
    thread = threading.Thread(target=lambda: result.append(heavy_jobs.run_cached(
        lambda gate: cached(5, gate), on_wait=lambda *a: waits.append(a), waited=lambda: cleared.append(1),
        limiter=limiter)))
    thread.start()
    _until(lambda: waits)
    assert not result and waits[0] == (1, 0)
    release.set()
    other.join(WAIT)
    thread.join(WAIT)
    assert result == [10] and computed[-1] == (5, 1) and cleared == [1]
    assert limiter.running == 0


def test_the_operator_sets_the_limits(monkeypatch):
    monkeypatch.delenv(heavy_jobs.JOBS_ENV, raising=False)
    monkeypatch.delenv(heavy_jobs.MAX_IMAGES_ENV, raising=False)
    assert heavy_jobs.slots_from_env() == (os.cpu_count() or 1)
    assert heavy_jobs.max_presentation_images() == heavy_jobs.DEFAULT_MAX_IMAGES == 12
    monkeypatch.setenv(heavy_jobs.JOBS_ENV, "3")
    monkeypatch.setenv(heavy_jobs.MAX_IMAGES_ENV, "40")
    assert heavy_jobs.slots_from_env() == 3 and heavy_jobs.max_presentation_images() == 40
    for bad in ("0", "-2", "many"):  # a typo keeps the default rather than lifting the limit
        monkeypatch.setenv(heavy_jobs.JOBS_ENV, bad)
        assert heavy_jobs.slots_from_env() == (os.cpu_count() or 1)
    with pytest.raises(ValueError):
        Limiter(0)

