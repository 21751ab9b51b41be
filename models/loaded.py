"""A model as everything else sees it: what names it (`ModelSpec`) and what loading it gives
(`LoadedModel`). The app, every command and every dataset runner pass these, never tuples.

- `ModelSpec`: a label, a config file and its weights (None: random weights, drawn from
  RANDOM_WEIGHTS_SEED, so the same every time), the class names the user gave, a note for the
  user, the device, the folders the config's `_BASE_` chain may read, and config overrides.
  The named models (`models.zoo.NAMED`) are specs; `models.zoo.resolve` and `from_files` make one.
- `load(spec)`: the network built and its weights loaded (`models.build.build_from_files`), as a
  `LoadedModel`: the spec, the network, its frozen config, a summary in words, notes for the user
  and one class name per class (the user's, else metadata.json beside the weights, else "class N").
- `load_model(config, weights)`: the same for scripts; it unpacks as (model, cfg).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from models import metadata
from models.attention import NO_ATTENTION
from models.build import ModelSummary, build_from_files, describe

from detectron2.config import CfgNode

RANDOM_WEIGHTS_SEED = 0  # a model without weights is built from this seed: the same every run


@dataclass(frozen=True)
class ModelSpec:
    """What to load: a config and its weights, with what the user said about them."""

    label: str
    config: Path
    weights: Path | None = None  # None: random weights, seeded (RANDOM_WEIGHTS_SEED)
    class_names: tuple[str, ...] = ()  # the user's (or a named model's); () reads metadata.json
    note: str | None = None  # what the user should know, e.g. that the weights are random
    device: str = "auto"  # models.device.choose_device's rule
    allowed_dirs: tuple[Path, ...] | None = None  # where the config's _BASE_ chain may read; None: anywhere
    opts: tuple[str, ...] = ()  # detectron2 KEY VALUE overrides

    @property
    def key(self) -> str:
        """Identifies what `load` would build: paths plus each file's size and modification time,
        so a cache keyed by it never serves a model whose files changed."""
        return ("|".join(f"{p}@{_stamp(p)}" for p in (self.config, self.weights))
                + f"|{self.label}|{self.device}|{','.join(self.class_names)}"
                + (f"|{' '.join(self.opts)}" if self.opts else ""))

    @property
    def weights_text(self) -> str:
        """The weights as the reports name them: the file's path, or the seed of random weights."""
        return str(self.weights) if self.weights else f"none (random weights, seed {RANDOM_WEIGHTS_SEED})"


def _stamp(path: Path | None) -> str:
    if path is None:
        return "random"
    try:
        stat = path.stat()
    except OSError:
        return "missing"
    return f"{stat.st_size}-{stat.st_mtime_ns}"


@dataclass(frozen=True)
class LoadedModel:
    """A built model with its weights, shared as is (the app caches one per spec for every
    session): frozen, and its network is only ever run, never changed."""

    spec: ModelSpec
    model: nn.Module
    cfg: CfgNode
    summary: ModelSummary
    notes: tuple[str, ...] = ()  # e.g. the device the config asked for is not here
    class_names: tuple[str, ...] = field(default=())  # one per class, in the model's order

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def has_attention(self) -> bool:
        return self.summary.attention != NO_ATTENTION

    @property
    def device(self) -> str:
        return str(self.cfg.MODEL.DEVICE)

    def __iter__(self):
        """Unpacks as (model, cfg), as `load_model` always returned."""
        return iter((self.model, self.cfg))


def load(spec: ModelSpec) -> LoadedModel:
    """Build the model a spec names and load its weights strictly.

    Args:
        spec: the files and options; without weights, random weights drawn from
            RANDOM_WEIGHTS_SEED (the global random state is left as it was).

    Returns:
        The LoadedModel. Its notes say what the user should know: the device or attention built
        other than the config says, given class names that do not fit the model. The spec's own
        `note` is not among them: its caller shows it (the sidebar apart, the commands beside them).

    Raises:
        models.ModelLoadError: with a sentence for the user (a ConfigError or CheckpointError).
    """
    def build():
        return build_from_files(spec.config, spec.weights, list(spec.opts), device=spec.device,
                                allowed_dirs=list(spec.allowed_dirs) if spec.allowed_dirs is not None else None)

    if spec.weights is None:
        with torch.random.fork_rng(devices=[]):  # the same random model every time, global RNG untouched
            torch.manual_seed(RANDOM_WEIGHTS_SEED)
            model, cfg, notes = build()
    else:
        model, cfg, notes = build()
    num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    problem = metadata.count_problem(spec.class_names, num_classes)
    if problem:
        notes += (f"{problem}: names cut or completed with 'class N'",)
    return LoadedModel(spec, model, cfg, describe(cfg), notes,
                       metadata.class_names(spec.class_names, spec.weights, num_classes))


def load_model(config_file: str | Path, weights: str | Path | None = None, opts: list[str] | None = None, *,
               device: str = "auto") -> LoadedModel:
    """`load` for scripts and tests: a config and its weights, labelled by the weights' file name.

    Args:
        config_file: a detectron2 YAML config (ours or a user's; `_BASE_` chains anywhere).
        weights: a weights file in any layout models.checkpoint reads; None: random weights.
        opts: detectron2 KEY VALUE overrides.
        device: "auto" (CUDA when there, else the CPU), "cpu" or "cuda[:N]".

    Returns:
        The LoadedModel; it unpacks as (model, cfg).
    """
    config_file = Path(config_file)
    weights = Path(weights) if weights else None
    label = (weights or config_file).stem
    return load(ModelSpec(label, config_file, weights, device=device, opts=tuple(opts or ())))
