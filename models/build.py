"""Configs and models: from a YAML file (ours or a user's) to a ready detectron2 model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from models import detectron2_compat  # noqa: F401  (must precede detectron2)
from detectron2.config import CfgNode, get_cfg
from detectron2.modeling import build_model as d2_build_model
from torch import nn

import models.backbone  # noqa: F401  (registers our backbones with detectron2)
from models.bam import FUSIONS
from models.checkpoint import load_weights
from models.config import ATTENTION_TYPES, add_attention_config
from models.device import choose_device
from models.errors import ConfigError
from models.safe_load import check_config_file

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def default_config() -> CfgNode:
    """detectron2's defaults plus the MODEL.ATTENTION node."""
    return add_attention_config(get_cfg())


def read_config(config_file: str | Path, opts: list[str] | None = None, *, device: str = "auto",
                allowed_dirs: list[str | Path] | None = None) -> tuple[CfgNode, list[str]]:
    """Read a detectron2 YAML config (with `_BASE_` chains) safely: (frozen config, notes).

    opts: KEY VALUE overrides. device: "auto" | "cpu" | "cuda[:N]" (models.device.choose_device
    sets MODEL.DEVICE; a note says where the config's wish could not be met). allowed_dirs: the
    folders every file of the `_BASE_` chain must lie in (None: anywhere; see models.safe_load).
    Any problem (no such file, unsafe or bad YAML, an unknown key, an invalid value) is a
    ConfigError that says which file and what.
    """
    config_file = Path(config_file)
    named_device = check_config_file(config_file, allowed_dirs=allowed_dirs)
    cfg = default_config()
    try:
        cfg.merge_from_file(str(config_file), allow_unsafe=False)  # detectron2's default is True
        if opts:
            cfg.merge_from_list(list(opts))
    except yaml.YAMLError as e:
        raise ConfigError(f"{config_file.name}: not valid YAML ({_one_line(e)}).") from None
    except (KeyError, ValueError, TypeError, AssertionError, AttributeError) as e:
        raise ConfigError(f"{config_file.name}: not a detectron2 config we can use ({_one_line(e)}).") from None
    validate(cfg, config_file.name)
    wish = cfg.MODEL.DEVICE if named_device or "MODEL.DEVICE" in (opts or [])[::2] else ""
    cfg.MODEL.DEVICE, note = choose_device(device, wish)
    cfg.freeze()
    return cfg, [note] if note else []


def get_config(config_file: str | Path, opts: list[str] | None = None, *, device: str = "auto",
               allowed_dirs: list[str | Path] | None = None) -> CfgNode:
    """`read_config` without its notes."""
    return read_config(config_file, opts, device=device, allowed_dirs=allowed_dirs)[0]


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def validate(cfg: CfgNode, name: str) -> None:
    att = cfg.MODEL.ATTENTION
    if att.TYPE not in ATTENTION_TYPES:
        raise ConfigError(f"{name}: MODEL.ATTENTION.TYPE is {att.TYPE!r}; use one of {list(ATTENTION_TYPES)}.")
    if att.BAM.FUSION not in FUSIONS:
        raise ConfigError(f"{name}: MODEL.ATTENTION.BAM.FUSION is {att.BAM.FUSION!r}; use one of {list(FUSIONS)}.")
    if cfg.MODEL.META_ARCHITECTURE != "GeneralizedRCNN" or not cfg.MODEL.MASK_ON:
        raise ConfigError(f"{name}: this tool shows Mask R-CNN models (GeneralizedRCNN with MASK_ON).")


def build_model(cfg: CfgNode) -> nn.Module:
    """Build the detectron2 model a config describes (random weights), in eval mode."""
    try:
        model = d2_build_model(cfg)
    except (KeyError, ValueError, AssertionError) as e:
        raise ConfigError(f"the config does not build a model ({_one_line(e)}).") from None
    return model.eval()


@dataclass(frozen=True)
class OpenedModel:
    """A built model with its weights, its config, and what the user should be told about it."""

    model: nn.Module
    cfg: CfgNode
    notes: tuple[str, ...] = ()


def open_model(config_file: str | Path, weights: str | Path | None = None, opts: list[str] | None = None, *,
               device: str = "auto", allowed_dirs: list[str | Path] | None = None) -> OpenedModel:
    """Build a model from a config (read as `read_config` does) and load its weights strictly
    (every key must fit). Raises ModelLoadError with a message for the user."""
    cfg, notes = read_config(config_file, opts, device=device, allowed_dirs=allowed_dirs)
    model = build_model(cfg)
    if weights:
        load_weights(model, weights, stages=list(cfg.MODEL.ATTENTION.STAGES))
    return OpenedModel(model, cfg, tuple(notes))


def load_model(config_file: str | Path, weights: str | Path | None = None,
               opts: list[str] | None = None, *, device: str = "auto") -> tuple[nn.Module, CfgNode]:
    """`open_model` as (model, config)."""
    opened = open_model(config_file, weights, opts, device=device)
    return opened.model, opened.cfg


@dataclass(frozen=True)
class ModelSummary:
    """What a user needs to know about a loaded model, in words."""

    backbone: str
    attention: str
    stages: tuple[str, ...]
    fusion: str | None
    num_classes: int

    def __str__(self) -> str:
        if self.attention == "none":
            return f"{self.backbone}, no attention (baseline)"
        fusion = f", fusion {self.fusion} ({FUSIONS[self.fusion]})" if self.fusion else ""
        return f"{self.backbone}, {self.attention.upper()} after {', '.join(self.stages)}{fusion}"


def describe(cfg: CfgNode) -> ModelSummary:
    att = cfg.MODEL.ATTENTION
    fpn = "-FPN" if "fpn" in cfg.MODEL.BACKBONE.NAME else ""
    return ModelSummary(
        backbone=f"ResNet-{cfg.MODEL.RESNETS.DEPTH}{fpn}",
        attention=att.TYPE,
        stages=tuple(att.STAGES) if att.TYPE != "none" else (),
        fusion=att.BAM.FUSION if att.TYPE == "bam" else None,
        num_classes=cfg.MODEL.ROI_HEADS.NUM_CLASSES,
    )
