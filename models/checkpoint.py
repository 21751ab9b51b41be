"""Reading weights files safely and fitting them to a model, with readable errors.

- Files are read by models.safe_load: tensors, numpy arrays and plain containers only, within a
  size budget derived from the model. A pickle that would run code is refused, never executed.
- Attention modules are found wherever they sit in a state dict, by their inner key names (each
  type's `channels_key` in models.attention.ATTENTION_REGISTRY): ours
  (`backbone.bottom_up.res3.attention.`), the BAM authors' `bam1.` / `module.bam1.`, an edited
  detectron2 resnet.py's `backbone.bottom_up.bam1.`, any other prefix. A module found outside our
  layout is given the ResNet stage whose output channels equal its own, and its keys are renamed
  to ours: `<prefix>` -> `backbone.bottom_up.{stage}.attention.` (inner names other code spells
  differently, as the CBAM authors' `ChannelGate.mlp.1.`, through the type's `key_aliases`).
- Weights may be stored in float16 (the shipped demo models are); they are cast to the model's
  dtype on load.
- Model-zoo .pkl files are read as detectron2's DetectionCheckpointer reads them: a file with
  `model` and `__author__` is detectron2's (its names matched to the model's by suffix where it
  says `matching_heuristics`); any other .pkl is a Caffe2 Detectron one (`blobs`, names such as
  `res2_0_branch2a_w`), renamed by detectron2's own `convert_c2_detectron_names` and matched by
  `align_and_update_state_dicts` (detectron2.checkpoint.c2_model_loading).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from models import detectron2_compat  # noqa: F401  (must precede detectron2)
from models.attention import ATTENTION_REGISTRY, AttentionType
from models.errors import CheckpointError
from models.safe_load import read_weights_file, weights_budget

from detectron2.checkpoint.c2_model_loading import align_and_update_state_dicts
from detectron2.layers import FrozenBatchNorm2d

# Our own layouts: after a stage ("stage" placement) or in a block's last conv ("block").
_OUR_STAGE_PREFIX = re.compile(r"(?:^|\.)(res\d)\.attention\.$")
_OUR_BLOCK_PREFIX = re.compile(r"(?:^|\.)(res\d)\.\d+\.conv\d\.activation\.$")
_IGNORED_SUFFIXES = ("num_batches_tracked",)  # BatchNorm bookkeeping, absent in older files
_LISTED = 8  # how many keys an error message names


@dataclass(frozen=True)
class Checkpoint:
    """The tensors of a weights file, and how their names are matched to a model's."""

    state_dict: dict[str, torch.Tensor]
    # names to be matched to the model's by suffix (detectron2's align_and_update_state_dicts):
    # backbone files in short names ("res2.0.conv1.weight") and Caffe2 files
    matching_heuristics: bool = False
    caffe2: bool = False  # Caffe2 Detectron names ("res2_0_branch2a_w"), renamed by detectron2 first
    author: str | None = None  # the file's `__author__`, where it names one


def read_checkpoint(path: str | Path, *, max_bytes: int | None = None) -> Checkpoint:
    """Read a weights file (safely: models.safe_load) the way detectron2's DetectionCheckpointer
    does: a plain state dict, detectron2's checkpointer file ({"model": ..., "optimizer": ...,
    "scheduler": ..., "iteration": ...}), a {"state_dict": ...} file, a detectron2 model-zoo .pkl
    ({"model": numpy arrays, "__author__": ..., maybe "matching_heuristics"}), or a Caffe2
    Detectron .pkl (any other .pkl: {"blobs": ...} or the arrays themselves; `*_momentum` blobs
    dropped). A DataParallel `module.` prefix on every key is dropped."""
    path = Path(path)
    # the checks run inside read_weights_file, so a refused file is remembered whichever refused it
    return read_weights_file(path, max_bytes=max_bytes, then=lambda data: _as_checkpoint(path, data))


def _as_checkpoint(path: Path, data: object) -> Checkpoint:
    """What read_weights_file read, as a Checkpoint; CheckpointError where it holds no usable
    state dict or NaN / infinite values."""
    if not isinstance(data, dict):
        raise CheckpointError(f"{path.name}: holds no state dict of tensors.")
    author = data.get("__author__")
    heuristics, caffe2 = bool(data.get("matching_heuristics", False)), author == "Caffe2"
    if path.suffix.lower() == ".pkl" and not ("model" in data and author is not None):
        # DetectionCheckpointer._load_file: "assume file is from Caffe2 / Detectron1 model zoo"
        blobs = data["blobs"] if isinstance(data.get("blobs"), dict) else data
        data = {k: v for k, v in blobs.items() if not str(k).endswith("_momentum")}
        author, heuristics, caffe2 = "Caffe2", True, True
    else:
        for key in ("model", "state_dict"):
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    if not data or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{path.name}: holds no state dict of tensors.")
    if all(str(k).startswith("module.") for k in data):
        data = {k[len("module."):]: v for k, v in data.items()}
    broken = [k for k, v in data.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if broken:
        raise CheckpointError(f"{path.name}: {len(broken)} of its tensors hold NaN or infinite values (e.g. "
                              f"{broken[0]}): the training that wrote it diverged, and every score would be NaN.")
    return Checkpoint(data, heuristics, caffe2, str(author) if author is not None else None)


def read_state_dict(path: str | Path, *, max_bytes: int | None = None) -> dict[str, torch.Tensor]:
    """The tensors of a weights file, under the names the file gives them (see `read_checkpoint`)."""
    return read_checkpoint(path, max_bytes=max_bytes).state_dict


def model_names(model: nn.Module, checkpoint: Checkpoint) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors under the model's names: where the file asks for detectron2's
    matching heuristics (Caffe2 names converted first), detectron2's align_and_update_state_dicts
    renames them; names it cannot match pass through unchanged."""
    if not checkpoint.matching_heuristics:
        return dict(checkpoint.state_dict)
    try:
        return align_and_update_state_dicts(model.state_dict(), dict(checkpoint.state_dict),
                                            c2_conversion=checkpoint.caffe2)
    except (ValueError, AssertionError) as e:  # detectron2: a key matching two, or names colliding
        raise CheckpointError(f"its names cannot be matched to this model's ({e or 'names collide'}).") from None


def _frozen_norm_statistics(model: nn.Module) -> set[str]:
    """The running statistics of FrozenBatchNorm2d layers, which Caffe2 files do not hold (their
    AffineChannel scale and bias include them): detectron2's FrozenBatchNorm2d fills them in."""
    return {f"{name}.running_{stat}" for name, module in model.named_modules()
            if isinstance(module, FrozenBatchNorm2d) for stat in ("mean", "var")}


@dataclass(frozen=True)
class FoundAttention:
    """One attention module found in a state dict."""

    prefix: str  # its keys' prefix in the file, e.g. "module.bam1." (with the trailing dot)
    spec: AttentionType
    channels: int
    stage: str | None  # the ResNet stage it refines ("res3"), None where it cannot be told
    placement: str  # "stage" or "block"
    ours: bool  # whether the prefix is already our layout (nothing to rename)

    def __str__(self) -> str:
        where = self.stage or "no stage"
        return f"{self.spec.title} at {self.prefix.rstrip('.') or '(top level)'} ({self.channels} channels: {where})"


def _channel_key_forms(spec: AttentionType) -> list[str]:
    """The inner key that gives a module's channels, in our names and in the aliased ones."""
    forms = [spec.channels_key]
    forms += [theirs + spec.channels_key[len(ours):] for theirs, ours in spec.key_aliases.items()
              if spec.channels_key.startswith(ours)]
    return forms


def find_attention(state_dict: dict[str, torch.Tensor], stage_channels: dict[str, int]) -> list[FoundAttention]:
    """Every attention module in a state dict, in key order.

    stage_channels: the ResNet's output channels by stage ({"res2": 64, ...}); a module outside
    our layout gets the stage whose channels equal its own (none if no stage or several match).
    """
    found = []
    for key, value in state_dict.items():
        for _, spec in ATTENTION_REGISTRY:
            form = next((f for f in _channel_key_forms(spec) if key == f or key.endswith("." + f)), None)
            if form is None:
                continue
            prefix, channels = key[: len(key) - len(form)], int(value.shape[0])
            ours = _OUR_STAGE_PREFIX.search(prefix) or _OUR_BLOCK_PREFIX.search(prefix)
            if ours:
                stage = ours.group(1)
            else:
                matching = [name for name, c in stage_channels.items() if c == channels]
                stage = matching[0] if len(matching) == 1 else None
            placement = "block" if _OUR_BLOCK_PREFIX.search(prefix) else "stage"
            found.append(FoundAttention(prefix, spec, channels, stage, placement, bool(ours)))
    return found


def attention_problem(found: list[FoundAttention], stage_channels: dict[str, int]) -> str | None:
    """Why the found modules do not tell one attention configuration, or None when they do."""
    if not found:
        return None
    types = {f.spec.name for f in found}
    foreign_stages = [f.stage for f in found if not f.ours]
    if len(types) > 1:
        why = "they are of several types"
    elif any(stage is None for stage in foreign_stages):
        why = ("their channel counts do not tell which ResNet stage each refines (this ResNet's stages: "
               + ", ".join(f"{name} {c}" for name, c in stage_channels.items()) + "; is MODEL.RESNETS.DEPTH right?)")
    elif len(set(foreign_stages)) < len(foreign_stages):
        why = "several refine the same stage, which only our own layout of attention in every block can say"
    elif len({f.placement for f in found}) > 1:
        why = "some sit after a stage and some inside blocks"
    else:
        return None
    return f"Attention modules found in the weights: {'; '.join(map(str, found))}. But {why}."


def how_to_state(spec_name: str = "bam", stages: list[str] | None = None) -> str:
    """The YAML keys that name attention in a config."""
    stages = stages or ["res2", "res3", "res4"]
    return (f'State it in the config: MODEL.BACKBONE.NAME: "build_resnet_attention_fpn_backbone", '
            f'MODEL.ATTENTION.TYPE: "{spec_name}", MODEL.ATTENTION.STAGES: {stages!r}, '
            f'MODEL.ATTENTION.PLACEMENT: "stage" (or "block"), with weights whose keys read '
            f'backbone.bottom_up.<stage>.attention.<inner names>.')


def map_attention_keys(state_dict: dict[str, torch.Tensor], stage_channels: dict[str, int], *,
                       resnet_prefix: str = "backbone.bottom_up.") -> dict[str, torch.Tensor]:
    """Rename the keys of attention modules found outside our layout to ours
    (`{resnet_prefix}{stage}.attention.<our inner name>`); other keys pass through unchanged.
    Raises CheckpointError when the modules found do not tell where they belong."""
    found = find_attention(state_dict, stage_channels)
    foreign = [f for f in found if not f.ours]
    if not foreign:
        return dict(state_dict)
    problem = attention_problem(found, stage_channels)
    if problem:
        raise CheckpointError(f"{problem} {how_to_state(found[0].spec.name)}")
    renamed = {}
    for key, value in state_dict.items():
        owner = next((f for f in foreign if key.startswith(f.prefix)), None)
        if owner is not None:
            key = f"{resnet_prefix}{owner.stage}.attention." + owner.spec.inner_key(key[len(owner.prefix):])
        renamed[key] = value
    return renamed


def model_stage_channels(model: nn.Module) -> tuple[dict[str, int], str]:
    """(output channels by ResNet stage, the ResNet's key prefix) of a detectron2 model."""
    backbone = getattr(model, "backbone", None)
    if hasattr(backbone, "bottom_up"):
        resnet, prefix = backbone.bottom_up, "backbone.bottom_up."
    else:
        resnet, prefix = backbone, "backbone."
    if not hasattr(resnet, "stage_names"):
        return {}, prefix
    return {name: resnet._out_feature_channels[name] for name in resnet.stage_names}, prefix


def check_fit(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> tuple[list[str], list[str], list[str]]:
    """(missing, unexpected, wrong-shape) keys of `state_dict` against `model`."""
    expected = {k: v for k, v in model.state_dict().items() if not k.endswith(_IGNORED_SUFFIXES)}
    given = {k: v for k, v in state_dict.items() if not k.endswith(_IGNORED_SUFFIXES)}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong_shape = sorted(
        f"{k}: file {tuple(given[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(expected) & set(given) if given[k].shape != expected[k].shape
    )
    return missing, unexpected, wrong_shape


def _describe(label: str, keys: list[str]) -> str:
    more = f" … and {len(keys) - _LISTED} more" if len(keys) > _LISTED else ""
    return f"{len(keys)} {label}: " + ", ".join(keys[:_LISTED]) + more


_PREDICTORS = ("roi_heads.box_predictor.", "roi_heads.mask_head.predictor.")


def likely_cause(missing: list[str], unexpected: list[str], wrong_shape: list[str]) -> str | None:
    """In words, what a weights file that does not fit most likely is, from the keys `check_fit`
    found: trained for another number of classes, with or without the config's attention, or
    for another backbone. None when the keys say nothing that clear."""
    shaped = {entry.split(":", 1)[0]: entry for entry in wrong_shape}
    if shaped and not missing and not unexpected and all(k.startswith(_PREDICTORS) for k in shaped):
        scores = shaped.get("roi_heads.box_predictor.cls_score.weight", "")
        classes = re.search(r": file \((\d+),", scores)  # one row per class and one for the background
        told = f" ({int(classes.group(1)) - 1})" if classes else ""
        return f"its heads were trained for another number of classes{told}: set MODEL.ROI_HEADS.NUM_CLASSES to it"
    if missing and not unexpected and not shaped and all(".attention." in k for k in missing):
        return "the config has attention modules and the weights have none: they are of a model without attention"
    if unexpected and not missing and not shaped and all(".attention." in k for k in unexpected):
        return ("the weights hold attention modules the config lacks: give the config with that attention "
                "(MODEL.ATTENTION.TYPE)")
    if any(k.startswith("backbone.") and ".attention." not in k for k in (*shaped, *missing)):
        return "its backbone differs (another depth or width, e.g. R-50 and R-18): give the config it was trained with"
    return None


@dataclass(frozen=True)
class Fit:
    """What loading a weights file into a model left out. Unpacks as (missing, unexpected)."""

    missing: list[str]  # model keys not in the file: left as the model had them
    unexpected: list[str]  # file keys not in the model: ignored
    skipped: list[str]  # keys whose shapes differ ("key: file (81, 256) vs model (2, 256)"): not loaded

    def __iter__(self):
        return iter((self.missing, self.unexpected))


def load_weights(model: nn.Module, path: str | Path, *, stages: list[str] | None = None,
                 strict: bool = True, skip_mismatched: bool = False) -> Fit:
    """Load a weights file into `model`; see `fit_weights`. `stages`: the ResNet stages attention
    modules found outside our layout may belong to (default: every stage)."""
    checkpoint = read_checkpoint(path, max_bytes=weights_budget(model))
    return fit_weights(model, checkpoint, Path(path).name, stages=stages, strict=strict,
                       skip_mismatched=skip_mismatched)


def fit_weights(model: nn.Module, weights: Checkpoint | dict[str, torch.Tensor], name: str, *,
                stages: list[str] | None = None, strict: bool = True, skip_mismatched: bool = False) -> Fit:
    """Load weights (a Checkpoint or a state dict, read from the file `name`) into `model`: names
    matched as detectron2 does (`model_names`), attention keys in any layout renamed to ours
    (`map_attention_keys`).

    strict: every model key must be in the file and every file key in the model, with the same
    shapes; otherwise a CheckpointError names the keys. With strict=False (starting from partial
    weights, e.g. a backbone), keys that fit are loaded and the rest reported in the Fit.
    skip_mismatched (only with strict=False; fine-tuning a model trained for other classes):
    tensors whose shapes differ from the model's are left out and reported (Fit.skipped) instead
    of being an error.
    """
    if skip_mismatched and strict:
        raise ValueError("skip_mismatched needs strict=False.")
    checkpoint = weights if isinstance(weights, Checkpoint) else Checkpoint(dict(weights))
    channels, prefix = model_stage_channels(model)
    if stages:
        channels = {k: v for k, v in channels.items() if k in stages}
    try:
        state_dict = map_attention_keys(model_names(model, checkpoint), channels, resnet_prefix=prefix)
    except CheckpointError as e:
        raise CheckpointError(f"{name}: {e}") from None
    missing, unexpected, wrong_shape = check_fit(model, state_dict)
    if checkpoint.caffe2:
        filled = _frozen_norm_statistics(model)
        missing = [k for k in missing if k not in filled]
    skipped = wrong_shape if skip_mismatched else []
    problems = [_describe(label, keys) for label, keys in
                (("wrong shapes", wrong_shape), ("missing from the file", missing),
                 ("not in the model", unexpected))
                if keys and (strict or (label == "wrong shapes" and not skip_mismatched))]
    if problems:
        cause = likely_cause(missing, unexpected, wrong_shape) or "is it for another config?"
        raise CheckpointError(f"{name} does not fit this model ({cause}).", "; ".join(problems) + ".")
    if skipped:
        left_out = {entry.split(":", 1)[0] for entry in skipped}
        state_dict = {k: v for k, v in state_dict.items() if k not in left_out}
    model.load_state_dict(state_dict, strict=False)
    return Fit(missing, unexpected, skipped)


def save_weights(model: nn.Module, path: str | Path, *, half: bool = True) -> Path:
    """Write the model's weights as detectron2's checkpointer does ({"model": ...}), in float16
    by default: half the size, and loading casts back to the model's dtype."""
    state_dict = {k: (v.half() if half and v.is_floating_point() else v).cpu()
                  for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": state_dict}, path)
    return path
