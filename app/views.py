"""What the pages show, computed from analyses: tables, rendered pictures, exports. Plain Python
(no Streamlit): every function here takes engine objects and returns numbers, rows or RGB arrays,
and the tests call them directly.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, replace

import cv2
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from viz.analysis import STAGES, ModelAnalysis, attention_statistics
from viz.compare import DetectionDiff
from viz.render import activation_energy, channel_grid, colorize, diverging, normalize, overlay

SUMMARY_STATISTICS = ("channel_mean", "channel_std", "channel_max", "spatial_mean", "spatial_max",
                      "spatial_area_above_half", "combined_mean")


@dataclass(frozen=True)
class Panel:
    """One picture of a view: a title, an (H, W, 3) uint8 image and a caption with its numbers."""

    title: str
    image: np.ndarray
    caption: str = ""


# ------------------------------------------------------------------------------------------------
# Images


def thumbnail(image: np.ndarray, side: int = 160) -> np.ndarray:
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG")
    return buffer.getvalue()


def unique_names(names: list[str]) -> list[str]:
    """File names made distinct: a repeated 'a.png' becomes 'a (2).png'."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            stem, dot, suffix = name.rpartition(".")
            name = f"{stem} ({seen[name]}).{suffix}" if dot else f"{name} ({seen[name]})"
        out.append(name)
    return out


# ------------------------------------------------------------------------------------------------
# Detections


def at_threshold(analysis: ModelAnalysis, threshold: float) -> ModelAnalysis:
    """The same analysis (same capture and CAMs, nothing recomputed) seen at another score threshold."""
    return analysis if analysis.score_threshold == threshold else replace(analysis, score_threshold=threshold)


def instance_label(analysis: ModelAnalysis, index: int) -> str:
    inst = analysis.capture.instances
    return f"#{index} {analysis.class_name(int(inst.pred_classes[index]))} ({float(inst.scores[index]):.2f})"


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


def rows_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def detection_summary(with_att: ModelAnalysis, without_att: ModelAnalysis, diff: DetectionDiff) -> dict:
    changes = [m.score_change for m in diff.kept]
    return {"with": len(with_att.detections), "without": len(without_att.detections), "kept": len(diff.kept),
            "gained": len(diff.gained), "lost": len(diff.lost),
            "mean score change": float(np.mean(changes)) if changes else None}


def ground_truth_picture(image: np.ndarray, masks, *, color=(40, 220, 90), alpha: float = 0.45) -> np.ndarray:
    """Annotated instance masks over the image: filled, with their outlines."""
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
    n = len(truth.masks)
    parts = [f"{n} annotated instance{'s' if n != 1 else ''}" if n else "no annotated instance"]
    if truth.details.get("surface"):
        parts.append(f"surface: {truth.details['surface']}")
    if truth.details.get("distractors"):
        parts.append("distractors: " + ", ".join(truth.details["distractors"]))
    return " · ".join(parts)


def match_for(diff: DetectionDiff, index_with: int):
    """The kept match of the "with" model's instance `index_with`, or None."""
    return next((m for m in diff.kept if m.index_with == index_with), None)


# ------------------------------------------------------------------------------------------------
# Attention


def attention_stages(analysis: ModelAnalysis) -> list[str]:
    return [s for s in STAGES if s in analysis.capture.attention]


def _map_picture(analysis: ModelAnalysis, image: np.ndarray, grid: np.ndarray, stride: int, *, on_image: bool,
                 alpha: float, cmap: str) -> np.ndarray:
    """A (h, w) map of a stride at the image's size, stretched to its own range, coloured."""
    values = normalize(analysis.capture.to_image(grid, stride))
    return overlay(image, values, alpha=alpha, cmap=cmap) if on_image else colorize(values, cmap)


def _range(values: np.ndarray) -> str:
    return f"{float(values.min()):.3f} – {float(values.max()):.3f}"


def stage_panels(analysis: ModelAnalysis, image: np.ndarray, stage: str, *, on_image: bool = True,
                 alpha: float = 0.5, cmap: str = "inferno", fusion: str | None = "product") -> dict[str, Panel]:
    """The pictures of one attention stage: input feature, spatial, combined, refined feature
    (channel attention is a bar chart: see `channel_bars`). Each map is stretched to its own
    range for display; captions give the true range."""
    cap = analysis.capture
    maps, stride = cap.attention[stage], cap.strides[stage]
    spec = maps.spec
    kind = spec.title
    energy_in = activation_energy(cap.features[f"{stage}_pre"])
    energy_out = activation_energy(cap.features[stage])
    draw = dict(on_image=on_image, alpha=alpha, cmap=cmap)
    spatial_name = spec.spatial_label
    combined_name = f"{spec.combined_name(fusion)}, mean over channels"
    return {
        "input feature": Panel(f"{stage}: input feature", _map_picture(analysis, image, normalize(
            energy_in, high_pct=99.5), stride, **draw), f"mean |activation| entering {kind}: {_range(energy_in)}"),
        "spatial attention": Panel(f"{stage}: spatial attention", _map_picture(analysis, image, maps.spatial, stride,
                                                                              **draw), f"{spatial_name}: {_range(maps.spatial)}"),
        "combined attention": Panel(f"{stage}: combined attention", _map_picture(
            analysis, image, maps.combined_mean, stride, **draw), f"{combined_name}: {_range(maps.combined_mean)}"),
        "refined feature": Panel(f"{stage}: refined feature", _map_picture(analysis, image, normalize(
            energy_out, high_pct=99.5), stride, **draw), f"mean |activation| after {kind}: {_range(energy_out)}"),
    }


def channel_bars(analysis: ModelAnalysis, stage: str, k: int = 24) -> list[dict]:
    """The k channels with the highest channel attention, best first: [{"channel", "weight"}]."""
    weights = analysis.capture.attention[stage].channel
    order = np.argsort(-weights, kind="stable")[:k]
    return [{"channel": f"#{int(c)}", "weight": float(weights[c])} for c in order]


def statistics_rows(analysis: ModelAnalysis) -> list[dict]:
    """attention_statistics, one row per stage, the numbers that fit a table."""
    rows = []
    for stage, stats in attention_statistics(analysis.capture).items():
        row = {"stage": stage, "kind": analysis.capture.attention[stage].spec.title, "channels": stats["channels"]}
        row.update({k: round(stats[k], 4) for k in SUMMARY_STATISTICS})
        row["top channels"] = ", ".join(f"#{c}" for c in stats["top_channels"])
        row["spatial peak (x, y)"] = ", ".join(f"{v:.0f}" for v in stats["spatial_peak_xy"])
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------------
# Feature maps

FEATURE_ORDERS = ("activation", "attention weight")


def feature_layers(analysis: ModelAnalysis) -> list[str]:
    """The captured layers in network order: c2_pre, c2, ..., c5, then p2..p6."""
    names = list(analysis.capture.features)
    return sorted(names, key=lambda n: (n.startswith("p"), int(n[1]), not n.endswith("_pre")))


def attention_stage_of(analysis: ModelAnalysis, layer: str) -> str | None:
    """The attention stage whose channel weights apply to `layer` (c3 and c3_pre: c3), or None."""
    stage = layer.removesuffix("_pre")
    return stage if stage in analysis.capture.attention else None


def channel_order(analysis: ModelAnalysis, layer: str, by: str = "activation", k: int | None = None) -> np.ndarray:
    """Channels of `layer`, strongest first: by mean |activation| or by channel attention weight."""
    features = analysis.capture.features[layer]
    stage = attention_stage_of(analysis, layer) if by == "attention weight" else None
    score = analysis.capture.attention[stage].channel if stage else np.abs(features).mean(axis=(1, 2))
    order = np.argsort(-np.asarray(score), kind="stable")
    return order if k is None else order[:k]


def feature_grid(analysis: ModelAnalysis, layer: str, channels: np.ndarray, *, cmap: str = "viridis",
                 cols: int = 8, cell: int = 112) -> np.ndarray:
    return channel_grid(analysis.capture.features[layer], channels, cols=min(cols, max(1, len(channels))),
                        cell=cell, cmap=cmap, labels=True)


def channel_panel(analysis: ModelAnalysis, image: np.ndarray, layer: str, channel: int, *, on_image: bool,
                  alpha: float, cmap: str) -> Panel:
    """One channel, large, at the image's size."""
    cap = analysis.capture
    values = cap.features[layer][channel]
    picture = _map_picture(analysis, image, values, cap.strides[layer], on_image=on_image, alpha=alpha, cmap=cmap)
    stage = attention_stage_of(analysis, layer)
    weight = f", channel attention {float(cap.attention[stage].channel[channel]):.3f}" if stage else ""
    return Panel(f"{analysis.label}: {layer} channel {channel}", picture,
                 f"activation {_range(values)}, mean {float(values.mean()):.3f}{weight}")


# ------------------------------------------------------------------------------------------------
# Grad-CAM and the comparison


def cam_picture(image: np.ndarray, cam: np.ndarray, *, alpha: float = 0.5, cmap: str = "jet",
                box=None) -> np.ndarray:
    """The CAM over the image; with `box` (XYXY), the explained box outlined in white."""
    picture = overlay(image, cam, alpha=alpha, cmap=cmap)
    if box is not None:
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        thickness = max(1, round(max(image.shape[:2]) / 300))
        cv2.rectangle(picture, (x0, y0), (x1, y1), (0, 0, 0), thickness + 2)
        cv2.rectangle(picture, (x0, y0), (x1, y1), (255, 255, 255), thickness)
    return picture


def instance_box(analysis: ModelAnalysis, index: int) -> tuple[tuple[float, ...], int]:
    """(box XYXY in image pixels, class id) of one instance."""
    inst = analysis.capture.instances
    return tuple(float(v) for v in inst.pred_boxes.tensor[index].tolist()), int(inst.pred_classes[index])


def difference_limit(diff: np.ndarray) -> float:
    """The colour scale of a signed map: its largest |value| (robustly: the 99.5th percentile)."""
    return max(float(np.percentile(np.abs(diff), 99.5)) if diff.size else 0.0, 1e-3)


def difference_picture(image: np.ndarray, diff: np.ndarray, *, on_image: bool, alpha: float,
                       limit: float = 1.0) -> np.ndarray:
    """A signed map on a diverging scale ±limit: red where the model with attention is stronger,
    blue where weaker, white (or the image) where they agree."""
    scaled = np.clip(np.asarray(diff, np.float32) / limit, -1, 1)
    if on_image:
        h, w = image.shape[:2]
        if scaled.shape != (h, w):
            scaled = cv2.resize(scaled, (w, h), interpolation=cv2.INTER_LINEAR)
        return overlay(image, 0.5 + 0.5 * scaled, alpha=alpha, cmap="RdBu_r")
    return diverging(scaled, limit=1.0)


def feature_difference_panels(with_att: ModelAnalysis, feature_diffs: dict[str, np.ndarray], image: np.ndarray, *,
                              on_image: bool = False, alpha: float = 0.6, contrast: str = "per stage") -> list[Panel]:
    """One picture per stage of (normalised activation with − without). `contrast`: "per stage"
    (each scaled to its own largest difference) or "fixed" (±1, the full possible range)."""
    cap = with_att.capture
    panels = []
    for stage, diff in feature_diffs.items():
        full = cap.to_image(diff, cap.strides[stage])
        limit = difference_limit(diff) if contrast == "per stage" else 1.0
        panels.append(Panel(f"{stage}: with − without",
                            difference_picture(image, full, on_image=on_image, alpha=alpha, limit=limit),
                            f"scale ±{limit:.2f} · mean {float(diff.mean()):+.3f} · "
                            f"mean |Δ| {float(np.abs(diff).mean()):.3f}"))
    return panels


# ------------------------------------------------------------------------------------------------
# Exports


def pdf_pages(figures: list[Figure]) -> bytes:
    """Figures as one multi-page PDF."""
    # Imported here: it pulls fontTools, which only this export needs (not the app's first view).
    from matplotlib.backends.backend_pdf import PdfPages

    buffer = io.BytesIO()
    with PdfPages(buffer) as pdf:
        for fig in figures:
            pdf.savefig(fig)
    return buffer.getvalue()


def zip_files(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name


# ------------------------------------------------------------------------------------------------
# Evaluation

_KINDS = {"int": lambda v: f"{v:d}", "percent": lambda v: f"{100 * v:.2f} %", "ap": lambda v: f"{v:.1f}",
          "seconds": lambda v: f"{v:.3f}"}


def evaluation_table(results: dict) -> list[dict]:
    """training.evaluate's comparison as rows: {"metric", <model label>: formatted value, ...}."""
    from training.evaluate import report_rows

    labels = list(results["models"])
    return [{"metric": name, **{label: "n/a" if v is None else _KINDS.get(kind, str)(v)
                                for label, v in zip(labels, values)}}
            for name, kind, values in report_rows(results)]
