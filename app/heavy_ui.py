"""Heavy work in the pages: the wait for a slot of the server-wide limit (app/heavy_jobs.py) shown;
for long jobs a Cancel button, and a note when one was stopped before it finished.

Cancelling is Streamlit's own: a click on any widget while the script runs stops the run at its
next st.* call (StopException / RerunException). The waits and progress bars make such calls
regularly, so a click ends the wait or the job there; the slot is released on the way out and
nothing half-done is kept (results are stored only once complete)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import streamlit as st

from app import heavy_jobs
from app.text import literal

T = TypeVar("T")


def waiting_text(running: int, waiting: int) -> str:
    """Returns:
        What a waiting visitor reads: "Waiting for 2 heavy jobs of other visitors to finish…".
    """
    others = f" ({waiting} more waiting)" if waiting else ""
    return f"Waiting for {running} heavy job{'s' if running != 1 else ''} of other visitors to finish{others}…"


class WaitNote:
    """The page's side of a wait: drawn at the first `on_wait` only (a free slot changes nothing),
    updated at each; `done()` turns it into a caption saying how long it took."""

    def __init__(self, what: str, *, hint: str = ""):
        """Args:
            what: the job in words ("ScoreCAM at c4 for Mask R-CNN + BAM"), for the caption.
            hint: said after the waiting text (how to stop waiting).
        """
        self.what, self.hint = what, hint
        self._note = None
        self._since = 0.0

    def on_wait(self, running: int, waiting: int) -> None:
        """heavy_jobs' on_wait: shows the waiting text (an st.* call: where a click stops the run)."""
        if self._note is None:
            self._note, self._since = st.empty(), time.monotonic()
        self._note.info(f"{waiting_text(running, waiting)} {self.hint}".strip(), icon=":material/hourglass_top:")

    def done(self) -> None:
        """The wait is over: the note becomes a caption (nothing, where there was no wait)."""
        if self._note is not None:
            seconds = time.monotonic() - self._since
            self._note.caption(f"{literal(self.what)}: waited {seconds:.0f} s for heavy jobs of other visitors "
                               "to finish.")
            self._note = None


def cached(call: Callable[[contextlib.AbstractContextManager], T], what: str, *, hint: str = "") -> T:
    """heavy_jobs.run_cached with the wait shown: a cache hit waits for nothing.

    Args:
        call: call(gate) -> the cached function's value; the function enters `gate` around its work.
        what, hint: as in WaitNote.

    Returns:
        What `call` returns.
    """
    note = WaitNote(what, hint=hint)
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
    cancel = st.empty()  # the button is there while the job runs, and gone once it has ended
    cancel.button("Cancel", key=f"{key}_cancel", icon=":material/cancel:",
                  help=f"Stop: {what.lower()} ends at its next step and nothing of it is kept.")
    st.session_state[_running_flag(key)] = what
    note = WaitNote(what, hint="Cancel stops waiting.")
    try:
        with heavy_jobs.LIMITER.slot(note.on_wait):
            note.done()
            yield
    except Exception:
        st.session_state.pop(_running_flag(key), None)
        cancel.empty()
        raise
    st.session_state.pop(_running_flag(key), None)
    cancel.empty()


def stopped_note(key: str) -> None:
    """If the last run of `job(..., key)` was stopped before it finished, say so (once)."""
    what = st.session_state.pop(_running_flag(key), None)
    if what:
        st.info(f"{what} was stopped before it finished: nothing of it was kept.", icon=":material/cancel:")
