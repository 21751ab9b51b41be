"""Heavy work in the pages: the wait for a slot of the server-wide limit (app/heavy_jobs.py) shown,
a Cancel button, and a note when a job was stopped before it finished.

Cancelling is Streamlit's own: a click on any widget while the script runs stops the run at its
next st.* call (StopException / RerunException). The waits and progress bars make such calls
regularly, so a click ends the wait or the job there; the slot is released on the way out and
nothing half-done is kept (results are stored only once complete)."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import streamlit as st

from app import heavy_jobs
from app.text import literal

T = TypeVar("T")
_notes = itertools.count()  # a key per note: two waits of one run never share a button key


def waiting_text(running: int, waiting: int) -> str:
    """Returns:
        What a waiting visitor reads: "Waiting for 2 heavy jobs of other visitors to finish…".
    """
    others = f" ({waiting} more waiting)" if waiting else ""
    return f"Waiting for {running} heavy job{'s' if running != 1 else ''} of other visitors to finish{others}…"


class WaitNote:
    """The page's side of a wait: drawn at the first `on_wait` only (a free slot changes nothing),
    updated at each; `done()` turns it into a caption saying how long it took."""

    def __init__(self, what: str, *, cancel: bool = True):
        """Args:
            what: the job in words ("ScoreCAM at c4 for Mask R-CNN + BAM"), for the caption.
            cancel: a Cancel button beside the text (False where the page has one already).
        """
        self.what, self.cancel, self._key = what, cancel, f"heavy_wait_cancel_{next(_notes)}"
        self._holder = self._text = None
        self._since = 0.0

    def on_wait(self, running: int, waiting: int) -> None:
        """heavy_jobs' on_wait: shows the waiting text (an st.* call: where a click stops the run)."""
        if self._holder is None:
            self._holder = st.empty()
            with self._holder.container():
                self._text = st.empty()
                if self.cancel:  # any click stops the run; this one says so
                    st.button("Cancel", key=self._key, icon=":material/cancel:",
                              help="Stop waiting (nothing is computed).")
            self._since = time.monotonic()
        self._text.info(waiting_text(running, waiting), icon=":material/hourglass_top:")

    def done(self) -> None:
        """The wait is over: the note becomes a caption (nothing, where there was no wait)."""
        if self._holder is not None:
            seconds = time.monotonic() - self._since
            self._holder.caption(f"{literal(self.what)}: waited {seconds:.0f} s for heavy jobs of other visitors "
                                 "to finish.")
            self._holder = None


def cached(call: Callable[[contextlib.AbstractContextManager], T], what: str) -> T:
    """heavy_jobs.run_cached with the wait shown: a cache hit waits for nothing.

    Args:
        call: call(gate) -> the cached function's value; the function enters `gate` around its work.
        what: as in WaitNote.

    Returns:
        What `call` returns.
    """
    note = WaitNote(what)
    return heavy_jobs.run_cached(call, note.on_wait, waited=note.done)


def _running_flag(key: str) -> str:
    return f"_heavy_running_{key}"


@contextlib.contextmanager
def job(what: str, key: str) -> Iterator[None]:
    """A long job of the page: a Cancel button, then the job in a slot of the server-wide limit
    (the wait shown). A run stopped inside it (Cancel, or any other click) leaves a mark that
    `stopped_note` reports on the next run; a finished or failed job leaves none.

    Args:
        what: the job in words, capitalised ("The evaluation").
        key: unique on the page.
    """
    st.button("Cancel", key=f"{key}_cancel", icon=":material/cancel:",
              help=f"Stop: {what.lower()} ends at its next step and nothing of it is kept.")
    st.session_state[_running_flag(key)] = what
    note = WaitNote(what, cancel=False)
    try:
        with heavy_jobs.LIMITER.slot(note.on_wait):
            note.done()
            yield
    except Exception:
        st.session_state.pop(_running_flag(key), None)
        raise
    st.session_state.pop(_running_flag(key), None)


def stopped_note(key: str) -> None:
    """If the last run of `job(..., key)` was stopped before it finished, say so (once)."""
    what = st.session_state.pop(_running_flag(key), None)
    if what:
        st.info(f"{what} was stopped before it finished: nothing of it was kept.", icon=":material/cancel:")
