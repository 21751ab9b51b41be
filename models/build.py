"""Configs and models: from a YAML file (ours or a user's) to a ready detectron2 model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from torch import nn

from models import detectron2_compat  # noqa: F401  (must precede detectron2)
from models.attention import ATTENTION_REGISTRY, NO_ATTENTION
from models.backbone import WITH_ATTENTION  # importing it registers our backbones with detectron2
from models.checkpoint import attention_problem, find_attention, fit_weights, how_to_state, read_checkpoint
from models.config import PLACEMENTS, add_attention_config
from models.device import choose_device
from models.errors import CheckpointError, ConfigError
from models.limits import bound_input_size, check_limits
from models.safe_load import check_config_file, weights_budget

from detectron2.config import CfgNode, get_cfg
from detectron2.modeling import build_model as d2_build_model

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
    check_limits(cfg, config_file.name)
    notes = [note] if (note := bound_input_size(cfg)) else []
    wish = cfg.MODEL.DEVICE if named_device or "MODEL.DEVICE" in (opts or [])[::2] else ""
    cfg.MODEL.DEVICE, note = choose_device(device, wish)
    cfg.freeze()
    return cfg, notes + ([note] if note else [])


def get_config(config_file: str | Path, opts: list[str] | None = None, *, device: str = "auto",
               allowed_dirs: list[str | Path] | None = None) -> CfgNode:
    """`read_config` without its notes."""
    return read_config(config_file, opts, device=device, allowed_dirs=allowed_dirs)[0]


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def validate(cfg: CfgNode, name: str) -> None:
    """ConfigError (naming the file `name`) unless `cfg` is a Mask R-CNN whose attention keys are valid."""
    att = cfg.MODEL.ATTENTION
    if att.TYPE not in ATTENTION_REGISTRY.names():
        raise ConfigError(f"{name}: MODEL.ATTENTION.TYPE is {att.TYPE!r}; use one of {ATTENTION_REGISTRY.names()}.")
    if att.PLACEMENT not in PLACEMENTS:
        raise ConfigError(f"{name}: MODEL.ATTENTION.PLACEMENT is {att.PLACEMENT!r}; use one of {list(PLACEMENTS)}.")
    spec = ATTENTION_REGISTRY.get(att.TYPE) if att.TYPE != NO_ATTENTION else None
    if spec is not None and spec.fusions and spec.fusion(cfg) not in spec.fusions:
        raise ConfigError(f"{name}: {spec.fusion_key} is {spec.fusion(cfg)!r}; use one of {list(spec.fusions)}.")
    if cfg.MODEL.META_ARCHITECTURE != "GeneralizedRCNN" or not cfg.MODEL.MASK_ON:
        raise ConfigError(f"{name}: this tool shows Mask R-CNN models (GeneralizedRCNN with MASK_ON).")


def build_model(cfg: CfgNode) -> nn.Module:
    """Build the detectron2 model a config describes (random weights), in eval mode."""
    try:
        model = d2_build_model(cfg)
    except (KeyError, ValueError, AssertionError) as e:
        raise ConfigError(f"the config does not build a model ({_one_line(e)}).") from None
    return model.eval()


def build_from_files(config_file: str | Path, weights: str | Path | None = None, opts: list[str] | None = None,
                     *, device: str = "auto", allowed_dirs: list[str | Path] | None = None
                     ) -> tuple[nn.Module, CfgNode, tuple[str, ...]]:
    """Build a model from a config and load its weights strictly (every key must fit).

    Where the config names no attention but the weights hold attention modules (in any layout),
    the model is built with them and a note says so. `models.load` is the way in for a named
    model (`models.loaded.ModelSpec`); this is the step it takes.

    Args:
        config_file: a detectron2 YAML config, read as `read_config` reads it.
        weights: a weights file in any layout models.checkpoint reads; None: the builder's
            random weights (the caller seeds them).
        opts: detectron2 KEY VALUE overrides.
        device: "auto", "cpu" or "cuda[:N]" (models.device.choose_device).
        allowed_dirs: the folders every file of the `_BASE_` chain must lie in (None: anywhere).

    Returns:
        (the model in eval mode, its frozen config, notes for the user).

    Raises:
        models.ModelLoadError: with a message for the user (ConfigError, CheckpointError).
    """
    cfg, notes = read_config(config_file, opts, device=device, allowed_dirs=allowed_dirs)
    model = build_model(cfg)
    if weights:
        name = Path(weights).name
        checkpoint = read_checkpoint(weights, max_bytes=weights_budget(model))
        found_cfg, note = attention_from_weights(cfg, checkpoint.state_dict, name)
        if note:
            cfg, model = found_cfg, build_model(found_cfg)
            notes.append(note)
        fit_weights(model, checkpoint, name)
    return model, cfg, tuple(notes)


def resnet_stage_channels(cfg: CfgNode) -> dict[str, int]:
    """Output channels of res2..res5 of the ResNet a config describes (each stage doubles them)."""
    res2 = cfg.MODEL.RESNETS.RES2_OUT_CHANNELS
    return {f"res{i}": res2 * 2 ** (i - 2) for i in range(2, 6)}


def attention_from_weights(cfg: CfgNode, state_dict: dict, name: str) -> tuple[CfgNode, str | None]:
    """(the config to build, a note) for weights that may hold attention modules.

    A config that names attention is kept as it is (fitting the weights then maps their keys, or
    names what does not fit). A config that names none (MODEL.ATTENTION.TYPE "none", or detectron2's
    stock backbone) gets the attention found in the weights, with a note saying so; where what was
    found does not tell one configuration, a CheckpointError lists it and says how to state it.
    """
    channels = resnet_stage_channels(cfg)
    found = find_attention(state_dict, channels)
    names_attention = cfg.MODEL.ATTENTION.TYPE != NO_ATTENTION and cfg.MODEL.BACKBONE.NAME not in WITH_ATTENTION
    if not found or names_attention:
        return cfg, None
    problem = attention_problem(found, channels)
    if problem:
        raise CheckpointError(f"{name}: {problem} {how_to_state(found[0].spec.name)}")
    backbone = WITH_ATTENTION.get(cfg.MODEL.BACKBONE.NAME, cfg.MODEL.BACKBONE.NAME)
    if backbone not in WITH_ATTENTION.values():
        raise CheckpointError(f"{name}: attention modules found in the weights "
                              f"({'; '.join(map(str, found))}), but the config's backbone "
                              f"{cfg.MODEL.BACKBONE.NAME} cannot take them. {how_to_state(found[0].spec.name)}")
    stages = sorted({f.stage for f in found}, key=lambda s: int(s[3:]))
    spec = found[0].spec
    cfg = cfg.clone()
    cfg.defrost()
    cfg.MODEL.BACKBONE.NAME = backbone
    cfg.MODEL.ATTENTION.TYPE = spec.name
    cfg.MODEL.ATTENTION.STAGES = stages
    cfg.MODEL.ATTENTION.PLACEMENT = found[0].placement
    cfg.freeze()
    where = "after" if found[0].placement == "stage" else "in every block of"
    return cfg, f"{spec.title} found in the weights {where} {', '.join(stages)}; the config names none: built with it"


@dataclass(frozen=True)
class ModelSummary:
    """What a user needs to know about a loaded model, in words."""

    backbone: str
    attention: str
    stages: tuple[str, ...]
    fusion: str | None
    num_classes: int
    placement: str = "stage"  # "stage": after each stage; "block": in every residual block

    @property
    def title(self) -> str:
        """The attention's name for people ("BAM"), or "none"."""
        return ATTENTION_REGISTRY.get(self.attention).title if self.attention != NO_ATTENTION else "none"

    @property
    def where(self) -> str:
        """ "after res2, res3" or "in every block of res2, res3"."""
        return ("after " if self.placement == "stage" else "in every block of ") + ", ".join(self.stages)

    def __str__(self) -> str:
        if self.attention == NO_ATTENTION:
            return f"{self.backbone}, no attention (baseline)"
        fusion = ""
        if self.fusion:  # the variant, in the type's own words (ATTENTION_REGISTRY)
            words = ATTENTION_REGISTRY.get(self.attention).fusions.get(self.fusion)
            fusion = f", fusion {self.fusion}" + (f" ({words})" if words else "")
        return f"{self.backbone}, {self.title} {self.where}{fusion}"


def describe(cfg: CfgNode) -> ModelSummary:
    """The model a config describes, in words (backbone, attention type, stages, fusion, classes)."""
    att = cfg.MODEL.ATTENTION
    fpn = "-FPN" if "fpn" in cfg.MODEL.BACKBONE.NAME else ""
    with_attention = att.TYPE != NO_ATTENTION
    return ModelSummary(
        backbone=f"ResNet-{cfg.MODEL.RESNETS.DEPTH}{fpn}",
        attention=att.TYPE,
        stages=tuple(att.STAGES) if with_attention else (),
        fusion=ATTENTION_REGISTRY.get(att.TYPE).fusion(cfg) if with_attention else None,
        num_classes=cfg.MODEL.ROI_HEADS.NUM_CLASSES,
        placement=att.PLACEMENT,
    )
