"""Which model each side of the comparison is, and loading it. Plain Python (no Streamlit).

A `ModelChoice` names files (a config and its weights); `load` builds it with models.load_model.
Its `key` changes when a file's content may have changed, so a cache keyed by it never serves a
stale model.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

import models
from models import metadata, zoo
from models.zoo import ModelSpec

from app.assets import RANDOM_WEIGHTS_SEED

logger = logging.getLogger(__name__)

ROLES = ("with", "without")

ROLE_TITLES = {"with": "With attention", "without": "Without attention"}


@dataclass(frozen=True)
class ModelChoice:
    label: str
    config: Path
    weights: Path | None  # None: random weights, seeded (RANDOM_WEIGHTS_SEED)
    class_names: tuple[str, ...] = ()
    note: str | None = None  # something the user should know, e.g. that weights are random
    device: str = "auto"  # models.device.choose_device
    allowed_dirs: tuple[Path, ...] | None = None  # where the config's _BASE_ chain may read; None: anywhere

    @property
    def key(self) -> str:
        """Identifies what `load` would build: paths plus each file's size and modification time."""
        return ("|".join(f"{p}@{_stamp(p)}" for p in (self.config, self.weights))
                + f"|{self.label}|{self.device}|{','.join(self.class_names)}")


def _stamp(path: Path | None) -> str:
    if path is None:
        return "random"
    try:
        stat = path.stat()
    except OSError:
        return "missing"
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def choice_of(spec: ModelSpec, *, allowed_dirs: tuple[Path, ...] | None = None) -> ModelChoice:
    """The ModelChoice of a resolved model (models.zoo). Its config's `_BASE_` chain is held to
    `allowed_dirs` plus the shipped configs (None: anywhere)."""
    bases = None if allowed_dirs is None else tuple(allowed_dirs) + (models.CONFIG_DIR,)
    return ModelChoice(spec.label, spec.config, spec.weights, spec.class_names, spec.note, allowed_dirs=bases)


def demo_choice(name: str) -> ModelChoice:
    """A named model of models.zoo; where its weights are missing, random weights and a note."""
    return choice_of(zoo.resolve(name, random_if_missing=True))


def path_choice(config: str | Path, weights: str | Path | None, *, label: str | None = None,
                class_names: tuple[str, ...] = (), allowed_dirs: tuple[Path, ...] | None = None) -> ModelChoice:
    """A user's files on the server (models.zoo.from_files: raises ModelLoadError when a file is
    not there or lies outside `allowed_dirs`)."""
    spec = zoo.from_files(config, weights, label=label, class_names=class_names, allowed_dirs=allowed_dirs)
    return choice_of(spec, allowed_dirs=allowed_dirs)


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


@dataclass(frozen=True)
class LoadedModel:
    """A built model, shared by every session (app/cache.py): frozen; its network is only run."""

    choice: ModelChoice
    model: nn.Module
    cfg: models.build.CfgNode
    summary: models.ModelSummary
    notes: tuple[str, ...] = ()  # e.g. the device the config asked for is not here
    # one per class, in the model's order: the user's, else metadata.json beside the weights, else "class N"
    class_names: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.choice.key

    @property
    def label(self) -> str:
        return self.choice.label

    @property
    def has_attention(self) -> bool:
        return self.summary.attention != "none"

    @property
    def device(self) -> str:
        return str(self.cfg.MODEL.DEVICE)


def load(choice: ModelChoice) -> LoadedModel:
    """Build and load a model; raises models.ModelLoadError with a message for the user (also
    for failures nobody foresaw: the traceback goes to the server's log, not to the visitor)."""
    def opened() -> models.OpenedModel:
        return models.open_model(choice.config, choice.weights, device=choice.device,
                                 allowed_dirs=list(choice.allowed_dirs) if choice.allowed_dirs is not None else None)

    try:
        if choice.weights is None:
            with torch.random.fork_rng():  # the same random model every time, global RNG untouched
                torch.manual_seed(RANDOM_WEIGHTS_SEED)
                result = opened()
        else:
            result = opened()
    except models.ModelLoadError:
        raise
    except Exception as e:  # noqa: BLE001
        logger.exception("loading %s failed", choice.label)
        raise models.ModelLoadError(f"{choice.label}: could not be built from these files "
                                    f"({type(e).__name__}; details in the server log).") from None
    num_classes = result.cfg.MODEL.ROI_HEADS.NUM_CLASSES
    problem = metadata.count_problem(choice.class_names, num_classes)
    notes = result.notes + ((f"{problem}: names cut or completed with 'class N'",) if problem else ())
    return LoadedModel(choice, result.model, result.cfg, models.describe(result.cfg), notes,
                       metadata.class_names(choice.class_names, choice.weights, num_classes))
