"""The sizes a config may ask for: what a visitor's config can make the server allocate.

A few numbers in a config set how much memory a model takes: 100,000 classes make the mask head
ask for 28 GB; an input size of 4800 px turns a 64 x 64 image into 8 GB of feature maps. Each key
below has a maximum far above what detectron2's own configs use (its largest: LVIS's 1,203
classes, 1,333 px inputs); a config above one is refused with a sentence naming the key, before
any model is built. The test input size is not refused but bounded: a config asking for more
than MAX_INPUT_SIDE is analysed at that size, with a note.

An operator who needs more sets BAMVIZ_CONFIG_LIMITS, e.g.
`BAMVIZ_CONFIG_LIMITS="MODEL.ROI_HEADS.NUM_CLASSES=5000,TEST.DETECTIONS_PER_IMAGE=2000"`.
"""

from __future__ import annotations

import os

from models.errors import ConfigError

MAX_INPUT_SIDE = 1333  # detectron2's MAX_SIZE_TEST of its R-50 configs; every front end's image bound

# key -> maximum, with what the key sets (in words, for the refusal).
CONFIG_LIMITS: dict[str, tuple[int, str]] = {
    "MODEL.ROI_HEADS.NUM_CLASSES": (2000, "classes"),
    "TEST.DETECTIONS_PER_IMAGE": (1000, "detections per image"),
    "MODEL.RPN.PRE_NMS_TOPK_TEST": (12000, "proposals before NMS"),
    "MODEL.RPN.POST_NMS_TOPK_TEST": (6000, "proposals after NMS"),
    "MODEL.RPN.PRE_NMS_TOPK_TRAIN": (12000, "training proposals before NMS"),
    "MODEL.RPN.POST_NMS_TOPK_TRAIN": (6000, "training proposals after NMS"),
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE": (4096, "regions sampled per training image"),
    "MODEL.FPN.OUT_CHANNELS": (1024, "FPN channels"),
    "MODEL.RESNETS.RES2_OUT_CHANNELS": (1024, "ResNet res2 channels"),
    "MODEL.RESNETS.STEM_OUT_CHANNELS": (512, "ResNet stem channels"),
    "MODEL.RESNETS.NUM_GROUPS": (128, "ResNeXt groups"),
    "MODEL.RESNETS.WIDTH_PER_GROUP": (512, "ResNeXt width per group"),
    "MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION": (28, "box head pooled size"),
    "MODEL.ROI_BOX_HEAD.NUM_FC": (8, "box head layers"),
    "MODEL.ROI_BOX_HEAD.FC_DIM": (8192, "box head width"),
    "MODEL.ROI_BOX_HEAD.NUM_CONV": (8, "box head convolutions"),
    "MODEL.ROI_BOX_HEAD.CONV_DIM": (1024, "box head channels"),
    "MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION": (56, "mask head pooled size"),
    "MODEL.ROI_MASK_HEAD.NUM_CONV": (16, "mask head convolutions"),
    "MODEL.ROI_MASK_HEAD.CONV_DIM": (1024, "mask head channels"),
    "MODEL.ATTENTION.REDUCTION": (1024, "attention reduction ratio"),
    "SOLVER.IMS_PER_BATCH": (1024, "images per training batch"),
}
ENV = "BAMVIZ_CONFIG_LIMITS"


def _overrides() -> dict[str, int]:
    """KEY=VALUE pairs of the operator's environment variable; a malformed one is a ConfigError."""
    found = {}
    for item in filter(None, (part.strip() for part in os.environ.get(ENV, "").split(","))):
        key, _, value = item.partition("=")
        if key not in CONFIG_LIMITS or not value.strip().isdigit():
            raise ConfigError(f"{ENV}: {item!r} is not KEY=NUMBER for a key of models/limits.py.")
        found[key] = int(value)
    return found


def _get(cfg, key: str):
    node = cfg
    for part in key.split("."):
        node = getattr(node, part, None)
        if node is None:
            return None
    return node


def check_limits(cfg, name: str) -> None:
    """ConfigError (naming the file `name`, each key over its limit) if the config asks for sizes
    beyond CONFIG_LIMITS (and the operator's overrides)."""
    limits = {key: maximum for key, (maximum, _) in CONFIG_LIMITS.items()}
    limits.update(_overrides())
    over = []
    for key, maximum in limits.items():
        value = _get(cfg, key)
        if isinstance(value, int) and not isinstance(value, bool) and value > maximum:
            over.append(f"{key} {value} (at most {maximum:,} {CONFIG_LIMITS[key][1]})")
    if over:
        raise ConfigError(f"{name}: refused: it asks for more than this server allows: {'; '.join(over)}. "
                          f"The limits are in the README's Security section.")


def bound_input_size(cfg) -> str | None:
    """Bound INPUT.MIN_SIZE_TEST and INPUT.MAX_SIZE_TEST (of a defrosted config) by the longest
    side the app analyses; the note saying so, or None when the config asked for no more."""
    side = MAX_INPUT_SIDE
    asked = max(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)
    if asked <= side:
        return None
    cfg.INPUT.MIN_SIZE_TEST = min(cfg.INPUT.MIN_SIZE_TEST, side)
    cfg.INPUT.MAX_SIZE_TEST = min(cfg.INPUT.MAX_SIZE_TEST, side)
    return (f"the config asks for test inputs of up to {asked} px; they are bounded at {side} px on the longest "
            f"side, as every image here is")
