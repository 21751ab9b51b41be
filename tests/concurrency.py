"""Two callers at once, in a set order, for the tests of work that two sessions may start together."""

from __future__ import annotations

import threading
from collections.abc import Callable


def twice_at_once(monkeypatch, owner, name: str, call: Callable[[], object], in_use: Callable[[object], None],
                  timeout: float = 60) -> list:
    """`call()` in two threads at once: both reach `owner.name` (a step inside the work) before
    either goes on, and the second goes on only once the first's result is in use (`in_use(result)`
    has marked it, as a page reading it would).

    Returns:
        Both results, the first to finish first. Fails the test where a call raised.
    """
    second_there, first_in_use, calls = threading.Event(), threading.Event(), []
    real = getattr(owner, name)

    def in_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            assert second_there.wait(timeout)
        else:
            second_there.set()
            assert first_in_use.wait(timeout)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, in_step)
    found, failed = [], []

    def run():
        try:
            found.append(call())
            if not first_in_use.is_set():
                in_use(found[0])
                first_in_use.set()
        except BaseException as e:  # noqa: BLE001 - reported below
            failed.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not failed, failed
    assert len(found) == 2
    return found
