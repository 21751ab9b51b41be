"""Files on the server that a visitor may name by path (models in the sidebar, datasets on the
Evaluate and "Attention, measured" pages): only inside the folders the operator lists in
$BAMVIZ_SERVER_PATHS (os.pathsep-separated). Unset, the app offers no path inputs at all.
Plain Python (no Streamlit)."""

from __future__ import annotations

import os
from pathlib import Path

from models.safe_load import inside

ENV = "BAMVIZ_SERVER_PATHS"


class ServerPathError(ValueError):
    """A path a visitor may not use; the message says why, without the server's layout."""


def folders() -> tuple[Path, ...]:
    """The folders visitors may read ($BAMVIZ_SERVER_PATHS, resolved); () when unset."""
    return tuple(Path(p).expanduser().resolve() for p in os.environ.get(ENV, "").split(os.pathsep) if p.strip())


def check(path: str | Path, what: str, allowed: tuple[Path, ...] | None = None) -> Path:
    """`path` if a visitor may read it (inside `allowed`, default: `folders()`), else ServerPathError."""
    path = Path(str(path).strip())
    if not inside(path, folders() if allowed is None else allowed):
        raise ServerPathError(f"{path.name or path}: refused: the {what} is outside the folders this server "
                              f"lets visitors read.")
    return path
