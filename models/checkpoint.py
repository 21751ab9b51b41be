"""Reading weights files safely and fitting them to a model, with readable errors.

- Files are read by models.safe_load: tensors, numpy arrays and plain containers only, within a
  size budget derived from the model. A pickle that would run code is refused, never executed.
- Checkpoints written by the BAM authors' code name their modules `bam1`, `bam2`, `bam3` (after
  ResNet layer1..3, i.e. our stages res2..res4). Our BAM uses the same inner names
  (`channel_att.gate_c.gate_c_fc_0`, ...), so only the prefix is mapped:
  `bam{i}.` -> `backbone.bottom_up.{MODEL.ATTENTION.STAGES[i-1]}.attention.`
  (a DataParallel `module.` prefix is dropped first).
- Weights may be stored in float16 (the shipped demo models are); they are cast to the model's
  dtype on load.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from models.errors import CheckpointError
from models.safe_load import read_weights_file, weights_budget

ATTENTION_PREFIX = "backbone.bottom_up.{stage}.attention."
_OFFICIAL_BAM_KEY = re.compile(r"^(?:module\.)?bam(\d+)\.(.+)$")
_IGNORED_SUFFIXES = ("num_batches_tracked",)  # BatchNorm bookkeeping, absent in older files
_LISTED = 8  # how many keys an error message names


def read_state_dict(path: str | Path, *, max_bytes: int | None = None) -> dict[str, torch.Tensor]:
    """The tensors of a weights file: a plain state dict, detectron2's checkpointer file
    ({"model": ..., "optimizer": ..., "iteration": ...}), a {"state_dict": ...} file or a
    detectron2 model-zoo .pkl ({"model": numpy arrays}), read safely (models.safe_load). A
    DataParallel `module.` prefix on every key is dropped."""
    path = Path(path)
    data = read_weights_file(path, max_bytes=max_bytes)
    if isinstance(data, dict):
        for key in ("model", "state_dict"):
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    if not isinstance(data, dict) or not data or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{path.name}: holds no state dict of tensors.")
    if all(str(k).startswith("module.") for k in data):
        data = {k[len("module."):]: v for k, v in data.items()}
    return data


def map_official_bam_keys(state_dict: dict[str, torch.Tensor], stages: list[str]) -> dict[str, torch.Tensor]:
    """Rename the BAM authors' `bam1..bam3` keys to ours; other keys pass through unchanged."""
    mapped = {}
    for key, value in state_dict.items():
        match = _OFFICIAL_BAM_KEY.match(key)
        if match and 1 <= int(match.group(1)) <= len(stages):
            key = ATTENTION_PREFIX.format(stage=stages[int(match.group(1)) - 1]) + match.group(2)
        mapped[key] = value
    return mapped


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


def load_weights(model: nn.Module, path: str | Path, *, stages: list[str] | None = None,
                 strict: bool = True) -> tuple[list[str], list[str]]:
    """Load a weights file into `model`.

    strict: every model key must be in the file and every file key in the model, with the same
    shapes; otherwise a CheckpointError names the keys. With strict=False (starting from partial
    weights, e.g. a backbone), keys that fit are loaded and (missing, unexpected) is returned;
    wrong shapes are still an error.
    """
    state_dict = read_state_dict(path, max_bytes=weights_budget(model))
    if stages:
        state_dict = map_official_bam_keys(state_dict, list(stages))
    missing, unexpected, wrong_shape = check_fit(model, state_dict)
    problems = [_describe(label, keys) for label, keys in
                (("wrong shapes", wrong_shape), ("missing from the file", missing),
                 ("not in the model", unexpected)) if keys and (strict or label == "wrong shapes")]
    if problems:
        raise CheckpointError(f"{Path(path).name} does not fit this model (is it for another "
                              f"config?). " + "; ".join(problems))
    model.load_state_dict(state_dict, strict=False)
    return missing, unexpected


def save_weights(model: nn.Module, path: str | Path, *, half: bool = True) -> Path:
    """Write the model's weights as detectron2's checkpointer does ({"model": ...}), in float16
    by default: half the size, and loading casts back to the model's dtype."""
    state_dict = {k: (v.half() if half and v.is_floating_point() else v).cpu()
                  for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": state_dict}, path)
    return path
