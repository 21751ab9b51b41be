"""Text that must reach the page as it is: Streamlit renders st.error, st.info and st.markdown
bodies as Markdown, so a file name or message holding _ * [ ] ( ) $ or :name: would be styled,
linked or turned into an icon (detectron2's `_BASE_` read as italic "BASE")."""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_\[\]$:~|<>#])")  # what styles, links or makes icons mid-text


def literal(text: object) -> str:
    """`text` (str() of it) with every Markdown-significant character backslash-escaped."""
    return _MARKDOWN.sub(r"\\\1", str(text))
