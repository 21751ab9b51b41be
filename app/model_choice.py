"""Which model each side of the comparison is, and loading it for the app. Plain Python (no
Streamlit). The types are models.loaded's: a `ModelSpec` names files, `load` gives a `LoadedModel`;
a spec's `key` changes when a file's content may have changed, so a cache keyed by it never
serves a stale model.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from pathlib import Path

import models
from models import zoo
from models.loaded import ModelSpec

logger = logging.getLogger(__name__)

ROLES = ("with", "without")

ROLE_TITLES = {"with": "With attention", "without": "Without attention"}


def demo_choice(name: str) -> ModelSpec:
    """A named model of models.zoo; where its weights are missing, random weights and a note."""
    return zoo.resolve(name, random_if_missing=True)


def path_choice(config: str | Path, weights: str | Path | None, *, label: str | None = None,
                class_names: tuple[str, ...] = (), allowed_dirs: tuple[Path, ...] | None = None) -> ModelSpec:
    """A user's files on the server (models.zoo.from_files: raises ModelLoadError when a file is
    not there or lies outside `allowed_dirs`; the config's `_BASE_` chain may also read the
    shipped configs)."""
    return zoo.from_files(config, weights, label=label, class_names=class_names, allowed_dirs=allowed_dirs)


def parse_class_names(text: str) -> tuple[str, ...]:
    """'crack, scratch' -> ("crack", "scratch")."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def save_upload(folder: Path, name: str, data: bytes, *, bases: Path | None = models.CONFIG_DIR) -> Path:
    """Write an uploaded file into `folder` under a content-addressed subfolder; return its path.

    A config may name a `_BASE_` file next to it: the shipped configs (`bases`) are copied beside
    an uploaded YAML, so a config derived from one of ours loads as it does in configs/.
    """
    safe = _UNSAFE.sub("_", Path(name).name).strip("._") or "upload"
    target_dir = folder / hashlib.sha256(data).hexdigest()[:16]
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / safe
    if not target.exists():
        target.write_bytes(data)
    if bases is not None and target.suffix.lower() in (".yaml", ".yml"):
        for base in bases.glob("*.yaml"):
            if not (target_dir / base.name).exists():
                shutil.copyfile(base, target_dir / base.name)
    return target


def load(spec: ModelSpec) -> models.LoadedModel:
    """`models.load`, for the server: raises models.ModelLoadError with a message for the user,
    also for failures nobody foresaw (the traceback goes to the server's log, not to the visitor)."""
    try:
        return models.load(spec)
    except models.ModelLoadError:
        raise
    except Exception as e:  # noqa: BLE001
        logger.exception("loading %s failed", spec.label)
        raise models.ModelLoadError(f"{spec.label}: could not be built from these files "
                                    f"({type(e).__name__}; details in the server log).") from None
