"""One server-wide limit on heavy work, so that one visitor cannot take every core: ScoreCAM and
AblationCAM, CAM smoothing, the presentation export, evaluations, attention reports and the
handout report each run inside a slot of `LIMITER`. Plain Python (no Streamlit): the pages show
the wait through `on_wait` (app/heavy_ui.py).

The operator sets the number of slots with BAMVIZ_HEAVY_JOBS (default: one per CPU core) and the
presentation export's image cap with BAMVIZ_MAX_PRESENTATION_IMAGES (default 12).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

JOBS_ENV = "BAMVIZ_HEAVY_JOBS"
MAX_IMAGES_ENV = "BAMVIZ_MAX_PRESENTATION_IMAGES"
DEFAULT_MAX_IMAGES = 12
POLL_SECONDS = 0.5  # how often a waiting job reports (and, in the app, can be cancelled)

logger = logging.getLogger("bamviz")
T = TypeVar("T")
OnWait = Callable[[int, int], None]


class Busy(Exception):
    """No slot is free and the caller asked not to wait (see `run_cached`)."""


def _env_count(name: str, default: int) -> int:
    """A positive whole number from the environment; `default` when unset or not one (logged)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        logger.warning("%s=%r is not a positive whole number: using %d", name, text, default)
        return default
    return value


def slots_from_env() -> int:
    """Returns:
        BAMVIZ_HEAVY_JOBS, else the number of CPU cores (at least 1).
    """
    return _env_count(JOBS_ENV, os.cpu_count() or 1)


def max_presentation_images() -> int:
    """Returns:
        BAMVIZ_MAX_PRESENTATION_IMAGES, else DEFAULT_MAX_IMAGES (read on each call: no restart needed).
    """
    return _env_count(MAX_IMAGES_ENV, DEFAULT_MAX_IMAGES)


class Limiter:
    """At most `size` heavy jobs at once in this process; the others wait for a slot.

    A thread that already holds a slot does not wait for a second one: heavy work nested in
    heavy work (a CAM inside the presentation export) runs in the slot it has, never deadlocks.
    `running` and `waiting` are the jobs holding a slot and those waiting for one.
    """

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"a limit of heavy jobs must be at least 1, not {size}")
        self.size = size
        self.running = 0
        self.waiting = 0
        self._free = threading.Semaphore(size)
        self._counts = threading.Lock()
        self._held = threading.local()

    @contextlib.contextmanager
    def slot(self, on_wait: OnWait | None = None, *, wait: bool = True,
             poll: float = POLL_SECONDS) -> Iterator[None]:
        """Hold a slot for the `with` block; it is released however the block ends.

        Args:
            on_wait: called as on_wait(running, waiting) when no slot is free, then every `poll`
                seconds until one is: `running` jobs hold the slots, `waiting` others wait too.
                It may raise (Streamlit stops a cancelled run inside it): the wait ends, no slot taken.
            wait: False: raise Busy at once instead of waiting.
            poll: seconds between two on_wait calls.
        """
        if getattr(self._held, "depth", 0):  # nested in this thread's own slot
            self._held.depth += 1
            try:
                yield
            finally:
                self._held.depth -= 1
            return
        if not self._free.acquire(blocking=False):
            if not wait:
                raise Busy(f"all {self.size} heavy-job slots are taken")
            self._wait(on_wait, poll)
        with self._counts:
            self.running += 1
        self._held.depth = 1
        try:
            yield
        finally:
            self._held.depth = 0
            with self._counts:
                self.running -= 1
            self._free.release()

    def _wait(self, on_wait: OnWait | None, poll: float) -> None:
        """Block until this thread has taken a slot, reporting through on_wait."""
        with self._counts:
            self.waiting += 1
        try:
            while True:
                if on_wait is not None:
                    on_wait(self.running, self.waiting - 1)
                if self._free.acquire(timeout=poll):
                    return
        finally:
            with self._counts:
                self.waiting -= 1


def run_cached(call: Callable[[contextlib.AbstractContextManager], T], on_wait: OnWait | None = None, *,
               waited: Callable[[], None] | None = None, limiter: Limiter | None = None) -> T:
    """Run a cached heavy function so that only its computation takes a slot.

    `call(gate)` calls the cached function, which enters `gate` around its work: on a cache hit
    the gate is never entered and nothing waits. On a miss the gate takes a free slot, or raises
    Busy (inside the cached function, nothing may wait visibly: Streamlit would record and replay
    the page's waiting note); then the wait happens here, with on_wait, and `call` runs again in
    the slot taken.

    Args:
        call: call(gate) -> the cached function's value.
        on_wait: as in Limiter.slot.
        waited: called once a slot is taken after waiting, before the work (to clear a note).
        limiter: default LIMITER.

    Returns:
        What `call` returns.
    """
    limiter = limiter or LIMITER
    try:
        return call(limiter.slot(wait=False))
    except Busy:
        pass
    with limiter.slot(on_wait):
        if waited is not None:
            waited()
        return call(contextlib.nullcontext())


LIMITER = Limiter(slots_from_env())  # one per server process; tests put a smaller one in its place
