"""With and without attention: which detections were kept, gained or lost, and how the maps differ.

Two separately trained models have unrelated channels, so feature maps are compared through a
per-pixel summary (mean absolute activation), each normalised to [0, 1] on its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pycocotools.mask as mask_util

from models import detectron2_compat  # noqa: F401  (must precede detectron2)
from detectron2.structures import Instances

from viz.render import activation_energy, normalize, resize_to


@dataclass(frozen=True)
class Match:
    index_with: int
    index_without: int
    iou: float
    score_with: float
    score_without: float

    @property
    def score_change(self) -> float:
        return self.score_with - self.score_without


@dataclass(frozen=True)
class DetectionDiff:
    """Instances of the model with attention against the one without, matched by mask IoU.
    Frozen (tuples): a comparison is shared between sessions."""

    kept: tuple[Match, ...] = ()
    gained: tuple[int, ...] = ()  # found only with attention (indices into "with")
    lost: tuple[int, ...] = ()  # found only without (indices into "without")

    def to_dict(self) -> dict:
        return {"kept": [asdict(m) | {"score_change": m.score_change} for m in self.kept],
                "gained": list(self.gained), "lost": list(self.lost)}


def _rles(instances: Instances) -> list:
    masks = instances.pred_masks.numpy().astype(np.uint8)
    return mask_util.encode(np.asfortranarray(masks.transpose(1, 2, 0))) if len(masks) else []


def mask_iou(a: Instances, b: Instances) -> np.ndarray:
    """(len(a), len(b)) mask IoU."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), np.float32)
    return np.asarray(mask_util.iou(_rles(a), _rles(b), [0] * len(b)), np.float32).reshape(len(a), len(b))


def match_instances(with_att: Instances, without_att: Instances, *, score_threshold: float = 0.5,
                    iou_threshold: float = 0.5) -> DetectionDiff:
    """Greedy one-to-one matching of same-class detections above the score threshold, best IoU first."""
    idx_with = np.flatnonzero(with_att.scores.numpy() >= score_threshold)
    idx_without = np.flatnonzero(without_att.scores.numpy() >= score_threshold)
    a, b = with_att[idx_with.tolist()], without_att[idx_without.tolist()]
    iou = mask_iou(a, b)
    same_class = a.pred_classes.numpy()[:, None] == b.pred_classes.numpy()[None, :]
    iou = np.where(same_class, iou, 0.0)
    kept, used_a, used_b = [], set(), set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        i, j = np.unravel_index(flat, iou.shape)
        if iou[i, j] < iou_threshold:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        kept.append(Match(int(idx_with[i]), int(idx_without[j]), float(iou[i, j]),
                               float(a.scores[i]), float(b.scores[j])))
    return DetectionDiff(tuple(kept), tuple(int(idx_with[i]) for i in range(len(a)) if i not in used_a),
                         tuple(int(idx_without[j]) for j in range(len(b)) if j not in used_b))


def feature_difference(features_with: np.ndarray, features_without: np.ndarray) -> np.ndarray:
    """(h, w) in [-1, 1]: normalised activation energy with attention minus without."""
    a = normalize(activation_energy(features_with), high_pct=99.0)
    b = normalize(activation_energy(features_without), high_pct=99.0)
    if b.shape != a.shape:
        b = resize_to(b, *a.shape)
    return a - b


def cam_difference(cam_with: np.ndarray, cam_without: np.ndarray) -> np.ndarray:
    """(H, W) in [-1, 1]: the CAM with attention minus the CAM without, for one matched instance."""
    return cam_with.astype(np.float32) - cam_without.astype(np.float32)
