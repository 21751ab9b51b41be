"""One computation for the same request, however many sessions ask at once. Plain Python (no
Streamlit).

Two visitors asking for the same evaluation (the same models, dataset and threshold) at the same
time should not both run it: the first runs it, the second waits for its result, and different
requests still run side by side. Results themselves are kept elsewhere (on disk, in Streamlit's
caches); this only joins requests that are in flight together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    result: object = None
    error: BaseException | None = None
    waiting: int = 0
    progress: object = None  # the last `report`ed by the computation, for those waiting on it


class SharedWork:
    """Joins concurrent calls with the same key into one (the "single flight" pattern)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight] = {}

    def run(self, key: Hashable, compute: Callable[[], T], *,
            on_join: Callable[[], None] | None = None, poll: float = 0.5) -> T:
        """`compute()`, unless a call with the same key is running: then its result (or its error).

        Args:
            key: what identifies the request (hashable).
            compute: the work; runs in the first caller's thread.
            on_join: called, in a joining caller's thread, before it waits and every `poll`
                seconds while it does (a page's "waiting for the same evaluation" note; it may
                raise to stop waiting, as a Streamlit rerun does).

        Returns:
            What `compute` returned, for the first caller and every caller that joined it.
        """
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
            else:
                flight.waiting += 1
        if not leader:
            try:
                while not flight.done.is_set():
                    if on_join is not None:
                        on_join()
                    flight.done.wait(poll)
            finally:
                with self._lock:
                    flight.waiting -= 1
            if flight.error is not None:
                raise flight.error
            return flight.result  # type: ignore[return-value]
        try:
            flight.result = compute()
            return flight.result  # type: ignore[return-value]
        except BaseException as e:
            # A joiner gets the error too, except a stop of the leader's own page (a Streamlit
            # rerun or cancel is a BaseException, not an Exception): then joiners compute again.
            flight.error = e if isinstance(e, Exception) else _Abandoned()
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()

    def in_flight(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._flights

    def waiting(self, key: Hashable) -> int:
        """How many callers wait for the computation of `key` (0 where none runs)."""
        with self._lock:
            flight = self._flights.get(key)
            return flight.waiting if flight else 0

    def report(self, key: Hashable, progress: object) -> None:
        """Called by a computation: how far it is (e.g. (done, total)), for those waiting on it."""
        with self._lock:
            if key in self._flights:
                self._flights[key].progress = progress

    def progress(self, key: Hashable) -> object:
        """The computation of `key`'s last report (None where none runs or none was made)."""
        with self._lock:
            flight = self._flights.get(key)
            return flight.progress if flight else None


class _Abandoned(Exception):
    """The first caller was stopped before it finished; nothing to share."""


def run_shared(work: SharedWork, key: Hashable, compute: Callable[[], T], **kwargs) -> T:
    """`work.run`, computing afresh when the call joined was stopped before it finished."""
    while True:
        try:
            return work.run(key, compute, **kwargs)
        except _Abandoned:
            continue


SHARED = SharedWork()  # one per server process


def shared_bar(key: Hashable, bar, others: str) -> tuple[Callable[[float, str], None], Callable[[], None]]:
    """A progress bar of a computation SHARED under `key`.

    Args:
        key: the computation's key; bar: the page's progress element (st.progress's).
        others: what a session that joined it reads before the progress ("Another visitor is ...").

    Returns:
        (report, joined): report(fraction, text) shows the progress and shares it; joined() (the
        run's on_join) shows the progress of the session that computes.
    """
    def report(fraction: float, text: str) -> None:
        SHARED.report(key, (fraction, text))
        bar.progress(min(fraction, 1.0), text=text)

    def joined() -> None:
        fraction, text = SHARED.progress(key) or (0.0, "starting…")
        bar.progress(min(fraction, 1.0), text=f"{others} {text}")

    return report, joined


def images_done(report: Callable[[float, str], None]) -> Callable[[int, int], None]:
    """A shared_bar report for work counted in images: on_progress(done, total)."""
    return lambda done, total: report(done / max(total, 1), f"{done} of {total} images")
