"""The "Inside the attention" page's glue to evaluation.dissect. Plain Python (no Streamlit).

Runs are kept on disk as the evaluations are (app.evaluation.result_folder): one folder per
dataset and models, and in it one per setting of the dissection, so that the report to hand out
finds the latest dissection of its models and dataset whatever its settings (`latest_json`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from evaluation.dissect import figure_stems
from evaluation.dissection import DissectionSettings
from evaluation.dissection_report import FILES, KNOCKOUT_CSV, DissectionReport, KnockOutSettings
from evaluation.masks import outlined
from models.loaded import LoadedModel

CACHE_ROOT = Path(__file__).resolve().parent.parent / "output" / "dissections"  # git-ignored
MIME = {".json": "application/json", ".csv": "text/csv", ".md": "text/markdown"}
PEAK_COLOUR = (255, 255, 255)  # the peak cell's square on a crop
CROP_SIDE = 160  # pixels a crop is shown at


@dataclass(frozen=True)
class Request:
    """What the page asks for, beside the models and the dataset."""

    limit: int | None = None
    quantile: float = 0.005  # a fraction
    iou_threshold: float = 0.04
    dilation_px: float = 2.0
    knockouts: bool = False
    knockout_layers: tuple[str, ...] = ("c2", "c3", "c4")
    k: int = 8
    draws: int = 3
    threshold: float = 0.5  # the knock-outs' evaluation: an image is "crack" from this score

    def settings(self) -> DissectionSettings:
        """The dissection's settings (ValueError with a sentence where one is out of range)."""
        return DissectionSettings(quantile=self.quantile, iou_threshold=self.iou_threshold,
                                  dilation_px=self.dilation_px)

    def knockout_settings(self) -> KnockOutSettings | None:
        return KnockOutSettings(layers=self.knockout_layers, k=self.k, draws=self.draws,
                                threshold=self.threshold) if self.knockouts else None

    def words(self) -> str:
        """Everything that changes the result, in words (the folder's name is its hash)."""
        knockouts = self.knockout_settings()
        return json.dumps({"limit": self.limit, "settings": self.settings().to_json(),
                           "knockouts": knockouts.to_json() if knockouts else None}, sort_keys=True)


@dataclass
class DissectionRun:
    """One finished dissection: its inputs and what evaluation.dissect wrote."""

    key: tuple
    report: DissectionReport
    out_dir: Path
    json_path: Path
    image_dir: Path

    def file(self, name: str) -> bytes:
        return (self.out_dir / name).read_bytes()

    def figure(self, name: str, suffix: str = ".png") -> Path:
        """A figure's file by name: "<model label> <layer>", "units", "<model label> knock-outs"."""
        return figure_stems(self.report, self.out_dir)[name].with_suffix(suffix)

    def downloads(self) -> list[tuple[str, str, str]]:
        """(button label, file name, MIME type) of the reports written."""
        names = [*FILES, *([KNOCKOUT_CSV] if self.report.knockout_settings else [])]
        return [(name, name, MIME[Path(name).suffix]) for name in names if (self.out_dir / name).is_file()]


def run_key(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, request: Request,
            label: str | None = None) -> tuple:
    return (pair[0].key, pair[1].key, str(json_path), str(image_dir), request, label)


def _dataset_folder(pair, json_path: Path, image_dir: Path, label: str | None, cache_root: Path | None) -> Path:
    from app.evaluation import result_folder

    return result_folder(Path(cache_root or CACHE_ROOT), pair, json_path, image_dir, *((label,) if label else ()))


def result_folder(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, request: Request,
                  label: str | None = None, cache_root: Path | None = None) -> Path:
    """Where the dissection of this dataset (and label), these models and settings is kept."""
    words = hashlib.sha256(request.words().encode()).hexdigest()[:16]
    return _dataset_folder(pair, json_path, image_dir, label, cache_root) / words


def dissect_pair(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, request: Request, *,
                 on_progress: Callable[[float, str], None] | None = None, label: str | None = None,
                 cache_root: Path | None = None) -> DissectionRun:
    """Both models dissected (the baseline first, as the reports show them), into `result_folder`
    (written aside, then renamed: never half-written).

    Args:
        pair: (with attention, without); json_path, image_dir: the set; request: the settings.
        on_progress: (fraction done, what is being done); label: the dataset as the visitor names it.
        cache_root: where result folders go (default CACHE_ROOT).

    Returns:
        The DissectionRun.

    Raises:
        training.data.DataProblemsError, models.ModelLoadError or ValueError with a message.
    """
    from app.evaluation import written_aside
    from evaluation.dissect import dissect

    final = result_folder(pair, json_path, image_dir, request, label, cache_root)
    # workers=0: no processes forked from the multi-threaded server (and no extra memory per session)
    report = written_aside(final, lambda folder: dissect(
        [pair[1], pair[0]], json_path, image_dir, folder, settings=request.settings(),
        knockouts=request.knockout_settings(), limit=request.limit, progress=False, on_progress=on_progress,
        workers=0))
    return DissectionRun(run_key(pair, json_path, image_dir, request, label), report, final, Path(json_path),
                         Path(image_dir))


def _read(folder: Path) -> DissectionReport | None:
    try:
        return DissectionReport.from_json(json.loads((folder / FILES[0]).read_text()))
    except (OSError, ValueError, KeyError, TypeError):  # none kept, or a file of another form
        return None


def saved_run(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, request: Request,
              label: str | None = None, cache_root: Path | None = None) -> DissectionRun | None:
    """The kept dissection of the same dataset, models and settings (any session, before a
    restart too), or None."""
    folder = result_folder(pair, json_path, image_dir, request, label, cache_root)
    report = _read(folder)
    return None if report is None else DissectionRun(run_key(pair, json_path, image_dir, request, label), report,
                                                     folder, Path(json_path), Path(image_dir))


def latest_json(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, label: str | None = None,
                cache_root: Path | None = None) -> Path | None:
    """The dissection.json of the latest kept dissection of these models on this dataset, whatever
    its settings (for the report to hand out), or None."""
    found = [(p.stat().st_mtime, p) for p in _dataset_folder(pair, json_path, image_dir, label, cache_root)
             .glob(f"*/{FILES[0]}") if not p.parent.name.startswith(".")]
    return max(found)[1] if found else None


def stage_rows(report: DissectionReport) -> list[dict]:
    """The per-stage table (evaluation.dissection_report.stage_table) as rows for a dataframe."""
    from evaluation.dissection_report import stage_table

    header, rows = stage_table(report)
    return [dict(zip(header, row)) for row in rows]


def knockout_rows(report: DissectionReport) -> list[dict]:
    """Every model's knock-out table as rows for a dataframe ([] without knock-outs)."""
    from evaluation.dissection_report import knockout_rows as table

    header, rows = table(report)
    return [dict(zip(header, row)) for row in rows]


def channel_labels(report: DissectionReport, label: str, layer: str) -> dict[int, str]:
    """{channel: "#12 · IoU 0.081 · crack unit (rank 1)"} for the channel picker, by crack IoU
    (made once: a picker's format_func runs for every option on every rerun)."""
    d = report.models[label].result.layers[layer]
    units = set(d.crack_units.tolist())
    return {int(c): f"#{c} · IoU {d.iou[c]:.3f}{' · crack unit' if int(c) in units else ''} (rank {rank})"
            for rank, c in enumerate(d.ranking(), start=1)}


def channel_crop(image: np.ndarray, mask: np.ndarray | None, centre: tuple[float, float], stride: int,
                 image_size: tuple[int, int]) -> np.ndarray:
    """Where a channel peaks on an image: a square crop around the peak, the crack outlined in
    green and the peak cell's square in white, enlarged to CROP_SIDE pixels.

    Args:
        image: (h, w, 3) uint8 RGB, the image as shown (it may be a downscaled copy of the file).
        mask: the image's crack, (H, W) bool at the original size; None: no outline.
        centre: the peak cell's centre (y, x) in original-image pixels (TopImages.centres).
        stride: the layer's stride, in input pixels; image_size: the original (H, W).

    Returns:
        (CROP_SIDE, CROP_SIDE, 3) uint8.
    """
    height, width = image.shape[:2]
    scale = height / image_size[0]
    y, x = centre[0] * scale, centre[1] * scale
    cell = max(2, round(stride * scale))  # about a cell: the stride is in the model's input pixels
    side = min(max(64, 8 * cell), height, width)  # a few cells around the peak, within the image
    top = int(np.clip(round(y - side / 2), 0, height - side))
    left = int(np.clip(round(x - side / 2), 0, width - side))
    shown = outlined(image, mask, thickness=1)[top:top + side, left:left + side].copy()
    half = cell // 2
    cv2.rectangle(shown, (int(x) - left - half, int(y) - top - half), (int(x) - left + half, int(y) - top + half),
                  PEAK_COLOUR, 1)
    return cv2.resize(shown, (CROP_SIDE, CROP_SIDE), interpolation=cv2.INTER_NEAREST)
