"""Class names that travel with a model: `train` writes `metadata.json` beside its weights, and
every front end reads it, so detections say "crack" rather than "class 0".

The file holds detectron2's metadata field names: {"thing_classes": ["crack", ...]}. Where a
user states names (a CLI option, the sidebar field), those win.
"""

from __future__ import annotations

import json
from pathlib import Path

METADATA_FILE = "metadata.json"
MAX_METADATA_BYTES = 1 << 20


def write_metadata(folder: str | Path, class_names: list[str] | tuple[str, ...]) -> Path:
    """Write `folder`/metadata.json with the class names (in the model's class order); its path."""
    path = Path(folder) / METADATA_FILE
    path.write_text(json.dumps({"thing_classes": list(class_names)}, indent=2) + "\n")
    return path


def read_class_names(weights: str | Path | None, num_classes: int) -> tuple[str, ...] | None:
    """The class names saved beside `weights`, or None where there are none that fit (no file,
    not valid JSON, or a count other than the model's `num_classes`: a file from another run)."""
    if weights is None:
        return None
    path = Path(weights).parent / METADATA_FILE
    try:
        if not path.is_file() or path.stat().st_size > MAX_METADATA_BYTES:
            return None
        names = json.loads(path.read_text()).get("thing_classes")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(names, list) or len(names) != num_classes or not all(isinstance(n, str) for n in names):
        return None
    return tuple(names)


def class_names(given: tuple[str, ...], weights: str | Path | None, num_classes: int) -> tuple[str, ...]:
    """The `num_classes` names to show, in the model's class order: the user's (`given`), else
    those saved beside `weights`, else "class 0", "class 1", ... Given names are cut or completed
    with "class N" to the model's count (`count_problem` says so in words)."""
    if given:
        return tuple(given[:num_classes]) + tuple(f"class {i}" for i in range(len(given), num_classes))
    return read_class_names(weights, num_classes) or tuple(f"class {i}" for i in range(num_classes))


def count_problem(given: tuple[str, ...], num_classes: int) -> str | None:
    """Why the given names do not fit a model of `num_classes` classes, or None when they do."""
    if not given or len(given) == num_classes:
        return None
    return (f"{len(given)} class names given ({', '.join(given)}) for a model of {num_classes} "
            f"class{'es' if num_classes != 1 else ''}")
