"""The detections view: both models' instances, what changed between them, the ground truth."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from viz.analysis import ModelAnalysis
from viz.compare import DetectionDiff, Match
from viz.render import draw_instances, instance_palette
from viz.views import Panel


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
    (only with attention) or lost (only without), with the score change and each model's box
    ("x0, y0, x1, y1"). Kept first, by score. None where a model has no such detection."""
    def box(a: ModelAnalysis, i: int) -> str:
        return ", ".join(f"{v:.0f}" for v in a.capture.instances.pred_boxes.tensor[i].tolist())

    def cls(a: ModelAnalysis, i: int) -> str:
        return a.class_name(int(a.capture.instances.pred_classes[i]))

    rows = [{"change": "kept", "class": cls(with_att, m.index_with), "with #": m.index_with,
             "without #": m.index_without, "score with": m.score_with, "score without": m.score_without,
             "score change": m.score_change, "mask IoU": m.iou, "box (with)": box(with_att, m.index_with),
             "box (without)": box(without_att, m.index_without)}
            for m in sorted(diff.kept, key=lambda m: -m.score_with)]
    scores_with = with_att.capture.instances.scores
    scores_without = without_att.capture.instances.scores
    rows += [{"change": "gained", "class": cls(with_att, i), "with #": i, "without #": None,
              "score with": float(scores_with[i]), "score without": None, "score change": None,
              "mask IoU": None, "box (with)": box(with_att, i), "box (without)": None} for i in diff.gained]
    rows += [{"change": "lost", "class": cls(without_att, j), "with #": None, "without #": j,
              "score with": None, "score without": float(scores_without[j]), "score change": None,
              "mask IoU": None, "box (with)": None, "box (without)": box(without_att, j)} for j in diff.lost]
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


LINE_STYLES = {"kept": "-", "gained": "--", "lost": ":"}
LEGEND = ("one colour per instance, the same in both pictures where the models agree; box outline: "
          "solid = kept (found by both), dashed = gained (only with attention), dotted = lost (only without)")


def instance_styles(with_att: ModelAnalysis, without_att: ModelAnalysis,
                    diff: DetectionDiff) -> tuple[dict[int, tuple[tuple, str]], dict[int, tuple[tuple, str]]]:
    """({index: (RGB in [0, 1], "kept" | "gained" | "lost")} of the "with" model, the same of the
    "without" model). Matched instances share a colour; colours follow detectron2's palette in a
    fixed order (kept by score, then gained, then lost), so the page and every export agree."""
    palette = instance_palette()
    with_styles, without_styles = {}, {}
    kept = sorted(diff.kept, key=lambda m: (-m.score_with, m.index_with))
    for k, m in enumerate(kept):
        color = tuple(float(v) for v in palette[k % len(palette)])
        with_styles[m.index_with] = without_styles[m.index_without] = (color, "kept")
    for k, i in enumerate(diff.gained, len(kept)):
        with_styles[i] = (tuple(float(v) for v in palette[k % len(palette)]), "gained")
    for k, j in enumerate(diff.lost, len(kept) + len(diff.gained)):
        without_styles[j] = (tuple(float(v) for v in palette[k % len(palette)]), "lost")
    return with_styles, without_styles


def instance_note(index: int, change: str) -> str:
    """The label's note of an instance: its number, the one the table's "with #" / "without #"
    give, and whether attention gained or lost it ("#3", "#4 gained")."""
    return f"#{index}" + ("" if change == "kept" else f" {change}")


def detection_panels(with_att: ModelAnalysis, without_att: ModelAnalysis, diff: DetectionDiff,
                     image: np.ndarray) -> tuple[Panel, Panel]:
    """Both models' detections on the (H, W, 3) image, (without, with), as titled panels: one
    colour per instance shared by matched instances, kept / gained / lost in the box outline
    (LINE_STYLES) and in the label, with the instance's number (instance_note)."""
    panels = []
    for analysis, styles in zip((without_att, with_att), instance_styles(with_att, without_att, diff)[::-1]):
        picture = draw_instances(image, analysis.capture.instances, list(analysis.class_names),
                                 score_threshold=analysis.score_threshold,
                                 colors={i: c for i, (c, _) in styles.items()},
                                 line_styles={i: LINE_STYLES[s] for i, (_, s) in styles.items()},
                                 notes={i: instance_note(i, s) for i, (_, s) in styles.items()})
        n = len(analysis.detections)
        panels.append(Panel(analysis.label, picture,
                            f"{n} detection{'s' if n != 1 else ''} with score ≥ {analysis.score_threshold:.2f}"))
    return panels[0], panels[1]
