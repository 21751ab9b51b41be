"""The detections view: both models' instances, what changed between them, the ground truth."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from viz.analysis import ModelAnalysis
from viz.compare import DetectionDiff, Match


def at_threshold(analysis: ModelAnalysis, threshold: float) -> ModelAnalysis:
    """The same analysis seen at another score threshold: a new (frozen) object sharing the
    read-only capture and CAMs, nothing recomputed."""
    return analysis if analysis.score_threshold == threshold else replace(analysis, score_threshold=threshold)


def instance_label(analysis: ModelAnalysis, index: int) -> str:
    """'#3 crack (0.87)'."""
    inst = analysis.capture.instances
    return f"#{index} {analysis.class_name(int(inst.pred_classes[index]))} ({float(inst.scores[index]):.2f})"


def instance_box(analysis: ModelAnalysis, index: int) -> tuple[tuple[float, ...], int]:
    """(box XYXY in image pixels, class id) of one instance."""
    inst = analysis.capture.instances
    return tuple(float(v) for v in inst.pred_boxes.tensor[index].tolist()), int(inst.pred_classes[index])


def match_for(diff: DetectionDiff, index_with: int) -> Match | None:
    """The kept match of the "with" model's instance `index_with`, or None."""
    return next((m for m in diff.kept if m.index_with == index_with), None)


def detection_rows(with_att: ModelAnalysis, without_att: ModelAnalysis, diff: DetectionDiff) -> list[dict]:
    """One row per detection of either model: kept (found by both, matched by mask IoU), gained
    (only with attention) or lost (only without), with the score change. Kept first, by score."""
    def box(a: ModelAnalysis, i: int) -> str:
        return ", ".join(f"{v:.0f}" for v in a.capture.instances.pred_boxes.tensor[i].tolist())

    def cls(a: ModelAnalysis, i: int) -> str:
        return a.class_name(int(a.capture.instances.pred_classes[i]))

    rows = [{"change": "kept", "class": cls(with_att, m.index_with), "with #": m.index_with,
             "without #": m.index_without, "score with": m.score_with, "score without": m.score_without,
             "score change": m.score_change, "mask IoU": m.iou, "box (with)": box(with_att, m.index_with)}
            for m in sorted(diff.kept, key=lambda m: -m.score_with)]
    scores_with = with_att.capture.instances.scores
    scores_without = without_att.capture.instances.scores
    rows += [{"change": "gained", "class": cls(with_att, i), "with #": i, "without #": None,
              "score with": float(scores_with[i]), "score without": None, "score change": None,
              "mask IoU": None, "box (with)": box(with_att, i)} for i in diff.gained]
    rows += [{"change": "lost", "class": cls(without_att, j), "with #": None, "without #": j,
              "score with": None, "score without": float(scores_without[j]), "score change": None,
              "mask IoU": None, "box (with)": box(without_att, j)} for j in diff.lost]
    return rows


def detection_summary(with_att: ModelAnalysis, without_att: ModelAnalysis, diff: DetectionDiff) -> dict:
    """Counts: detections of each model, kept, gained, lost, and the mean score change of the kept."""
    changes = [m.score_change for m in diff.kept]
    return {"with": len(with_att.detections), "without": len(without_att.detections), "kept": len(diff.kept),
            "gained": len(diff.gained), "lost": len(diff.lost),
            "mean score change": float(np.mean(changes)) if changes else None}


def ground_truth_picture(image: np.ndarray, masks, *, color=(40, 220, 90), alpha: float = 0.45) -> np.ndarray:
    """Annotated instance masks ((h, w) bool each) over the (H, W, 3) image: filled, outlined."""
    picture = image.copy()
    for mask in masks:
        if mask.shape != image.shape[:2]:
            mask = cv2.resize(mask.astype(np.uint8), (image.shape[1], image.shape[0]),
                              interpolation=cv2.INTER_NEAREST).astype(bool)
        picture[mask] = ((1 - alpha) * picture[mask] + alpha * np.array(color)).astype(np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(picture, contours, -1, color, max(1, round(max(image.shape[:2]) / 400)))
    return picture


def ground_truth_caption(truth) -> str:
    """'2 annotated instances · surface: concrete · distractors: …' of a sample's annotations."""
    n = len(truth.masks)
    parts = [f"{n} annotated instance{'s' if n != 1 else ''}" if n else "no annotated instance"]
    if truth.details.get("surface"):
        parts.append(f"surface: {truth.details['surface']}")
    if truth.details.get("distractors"):
        parts.append("distractors: " + ", ".join(truth.details["distractors"]))
    return " · ".join(parts)
