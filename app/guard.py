"""The last line of defence: a failure nobody foresaw shows one sentence in the page, never a
traceback (which would show server paths); the traceback goes to the server's log. st.stop()
and reruns pass through (they are BaseExceptions), and the app keeps serving."""

from __future__ import annotations

import contextlib
import logging

import streamlit as st

logger = logging.getLogger("bamviz")


@contextlib.contextmanager
def one_sentence_errors():
    try:
        yield
    except Exception as e:  # noqa: BLE001
        logger.exception("a page failed")
        st.error(f"This view could not be drawn for this input ({type(e).__name__}). The details are in the "
                 f"server's log; the other pages and your other choices still work.", icon=":material/error:")
