"""One call per image and model: predictions, every captured map, CAMs, and a JSON summary;
and the with/without comparison of two such analyses."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from torch import nn

from models import detectron2_compat  # noqa: F401  (must precede detectron2)
from detectron2.config import CfgNode

from viz.capture import Capture, capture
from viz.compare import DetectionDiff, cam_difference, feature_difference, match_instances
from viz.catalogue import DEFAULT_LAYERS

STAGES = ("c2", "c3", "c4", "c5")


@dataclass
class ModelAnalysis:
    label: str
    capture: Capture
    class_names: tuple[str, ...]
    score_threshold: float
    cams: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)  # (instance, layer) -> (H, W)
    cam_method: str = "GradCAM"
    cam_target: str = "score"

    @property
    def detections(self) -> list[int]:
        """Indices of the instances at or above the score threshold, best first."""
        scores = self.capture.instances.scores.numpy()
        return [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= self.score_threshold]

    def class_name(self, class_id: int) -> str:
        return self.class_names[class_id] if class_id < len(self.class_names) else f"class {class_id}"


def instance_box_and_class(analysis: ModelAnalysis, index: int) -> tuple[np.ndarray, int]:
    inst = analysis.capture.instances
    return inst.pred_boxes.tensor[index].numpy(), int(inst.pred_classes[index])


def add_cam(analysis: ModelAnalysis, model: nn.Module, index: int, layer: str) -> np.ndarray:
    # Imported here, not above: the grad-cam library pulls scikit-learn and scipy, which pages
    # without CAMs (the first one, Detections) should not wait for.
    from viz.gradcam import instance_cam

    key = (index, layer)
    if key not in analysis.cams:
        box, class_id = instance_box_and_class(analysis, index)
        analysis.cams[key] = instance_cam(model, analysis.capture.model_input, box, class_id,
                                          method=analysis.cam_method, layer=layer, target=analysis.cam_target)
    return analysis.cams[key]


def analyze(model: nn.Module, cfg: CfgNode, image: np.ndarray, *, label: str, class_names: tuple[str, ...] = (),
            score_threshold: float = 0.5, cam_method: str = "GradCAM", cam_target: str = "score",
            cam_layers: tuple[str, ...] = DEFAULT_LAYERS, cam_instances: int = 1, fpn: bool = False) -> ModelAnalysis:
    """Predictions and maps, plus CAMs of the `cam_instances` best detections at `cam_layers`."""
    result = ModelAnalysis(label, capture(model, cfg, image, fpn=fpn), tuple(class_names), score_threshold,
                           cam_method=cam_method, cam_target=cam_target)
    for index in result.detections[:cam_instances]:
        for layer in cam_layers:
            add_cam(result, model, index, layer)
    return result


def attention_statistics(cap: Capture) -> dict[str, dict]:
    """Per attention stage: how peaked the channel attention is and where the spatial one looks."""
    stats = {}
    for stage, maps in cap.attention.items():
        spatial = maps.spatial
        peak_row, peak_col = np.unravel_index(int(np.argmax(spatial)), spatial.shape)
        stride = cap.strides[stage]
        stats[stage] = {
            "kind": maps.kind,
            "channels": int(maps.channel.size),
            "channel_mean": float(maps.channel.mean()), "channel_std": float(maps.channel.std()),
            "channel_min": float(maps.channel.min()), "channel_max": float(maps.channel.max()),
            "top_channels": [int(c) for c in np.argsort(-maps.channel, kind="stable")[:5]],
            "spatial_mean": float(spatial.mean()), "spatial_std": float(spatial.std()),
            "spatial_max": float(spatial.max()),
            "spatial_area_above_half": float((spatial > 0.5).mean()),
            "spatial_peak_xy": [float((peak_col + 0.5) * stride * cap.model_input.width / cap.model_input.input_size[1]),
                                float((peak_row + 0.5) * stride * cap.model_input.height / cap.model_input.input_size[0])],
            "combined_mean": float(maps.combined.mean()),
        }
    return stats


def instances_summary(analysis: ModelAnalysis) -> list[dict]:
    inst = analysis.capture.instances
    return [{"index": i, "class": analysis.class_name(int(inst.pred_classes[i])), "score": float(inst.scores[i]),
             "box_xyxy": [round(float(v), 1) for v in inst.pred_boxes.tensor[i]],
             "mask_area": int(inst.pred_masks[i].sum())} for i in analysis.detections]


@dataclass
class Comparison:
    detections: DetectionDiff
    feature_diffs: dict[str, np.ndarray]  # stage -> (h, w) in [-1, 1], at the "with" model's resolution
    cam_diffs: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)  # (kept match, layer) -> (H, W)


def compare(with_att: ModelAnalysis, without_att: ModelAnalysis, models: tuple[nn.Module, nn.Module] | None = None,
            *, cam_layers: tuple[str, ...] = (), cam_matches: int = 1) -> Comparison:
    """Detection changes and per-stage feature differences; with `models`, also CAM differences
    for the best `cam_matches` matched instances."""
    diff = match_instances(with_att.capture.instances, without_att.capture.instances,
                           score_threshold=min(with_att.score_threshold, without_att.score_threshold))
    features = {s: feature_difference(with_att.capture.features[s], without_att.capture.features[s])
                for s in STAGES if s in with_att.capture.features and s in without_att.capture.features}
    result = Comparison(diff, features)
    if models:
        for k, match in enumerate(sorted(diff.kept, key=lambda m: -m.score_with)[:cam_matches]):
            for layer in cam_layers:
                a = add_cam(with_att, models[0], match.index_with, layer)
                b = add_cam(without_att, models[1], match.index_without, layer)
                result.cam_diffs[(k, layer)] = cam_difference(a, b)
    return result


def summary(analyses: list[ModelAnalysis], comparison: Comparison | None = None) -> dict:
    """Everything numeric about one image, ready for json.dump."""
    out = {"models": [{"label": a.label, "instances": instances_summary(a),
                       "attention": attention_statistics(a.capture),
                       "cams": [{"instance": i, "layer": layer, "method": a.cam_method, "target": a.cam_target}
                                for (i, layer) in a.cams]} for a in analyses]}
    if comparison is not None:
        out["comparison"] = {
            "detections": comparison.detections.to_dict(),
            "feature_difference": {s: {"mean": float(d.mean()), "mean_abs": float(np.abs(d).mean())}
                                   for s, d in comparison.feature_diffs.items()},
        }
    return out
