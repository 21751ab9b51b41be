"""The "Attention, measured" page's glue to evaluation.attention_report. Plain Python (no Streamlit)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.alignment import MEASURE_NAMES
from evaluation.formatting import alignment_rows
from evaluation.masks import crack_masks, outlined
from evaluation.results import Alignment
from models.loaded import LoadedModel
from training.data import dataset_image_path

MIME = {".json": "application/json", ".csv": "text/csv", ".md": "text/markdown", ".png": "image/png",
        ".pdf": "application/pdf"}
REPORTS = {name: MIME[Path(name).suffix] for name in Alignment.FILES}
CACHE_ROOT = Path(__file__).resolve().parent.parent / "output" / "attention"  # git-ignored


@dataclass
class AlignmentRun:
    """One finished report: its inputs and what evaluation.attention_report wrote."""

    key: tuple
    results: Alignment
    out_dir: Path
    image_dir: Path

    @property
    def label(self) -> str:
        """The dataset as the visitor named it when it ran."""
        return self.results.dataset.label

    def report(self, name: str) -> bytes:
        return (self.out_dir / name).read_bytes()

    @property
    def figure_png(self) -> Path:
        return self.out_dir / "attention_report.png"

    def image_path(self, entry: dict) -> Path:
        """Raises training.data.DatasetPathError where the file_name leads outside the image folder."""
        return dataset_image_path(self.image_dir, entry["file_name"])


def run_key(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, limit: int | None,
            label: str | None = None) -> tuple:
    """What tells one measure from another: models, dataset (and its label), number of images."""
    return (pair[0].key, pair[1].key, str(json_path), str(image_dir), limit, label)


def result_folder(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, limit: int | None,
                  label: str | None = None, cache_root: Path | None = None) -> Path:
    """Where this measure's files go: one folder per dataset, models, limit and label, shared by
    the sessions (app.evaluation.result_folder)."""
    from app.evaluation import result_folder as folder

    settings = (f"limit {limit}", *((label,) if label else ()))
    return folder(Path(cache_root or CACHE_ROOT), pair, json_path, image_dir, *settings)


def measure_pair(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, *,
                 limit: int | None = None, on_progress: Callable[[int, int], None] | None = None,
                 label: str | None = None, cache_root: Path | None = None) -> AlignmentRun:
    """Both models over a labelled COCO set, the baseline first (the differences are BAM minus it),
    into `result_folder` (written aside, then renamed: never half-written).

    Args:
        pair: (with attention, without); json_path, image_dir: the set; limit: its first N images.
        on_progress: (done, total) per image; label: the dataset as the visitor names it.
        cache_root: where result folders go (default CACHE_ROOT).

    Returns:
        The AlignmentRun.

    Raises:
        training.data.DataProblemsError, models.ModelLoadError or ValueError with a message.
    """
    from app.evaluation import written_aside
    from evaluation.attention_report import attention_report

    final = result_folder(pair, json_path, image_dir, limit, label, cache_root)
    # workers=0: no processes forked from the multi-threaded server (and no extra memory per session)
    results = written_aside(final, lambda folder: attention_report(
        [pair[1], pair[0]], json_path, image_dir, folder, limit=limit, progress=False, on_progress=on_progress,
        workers=0, dataset_name=label))
    return AlignmentRun(run_key(pair, json_path, image_dir, limit, label), results, final, Path(image_dir))


def summary_table(results: Alignment, measure: str) -> pd.DataFrame:
    """A row per map; per model and per difference, the mean and its interval as text."""
    return pd.DataFrame(alignment_rows(results, measure), columns=["map", *results.summary, *results.differences])


@functools.lru_cache(maxsize=2)
def _crack_masks(path: str, size: int, mtime_ns: int, image_ids: tuple[int, ...]) -> dict[int, np.ndarray]:
    return {entry["id"]: mask for entry, mask in crack_masks(path, list(image_ids))}


def drill_masks(json_path: Path, image_ids: list[int]) -> dict[int, np.ndarray]:
    """{image id: the union of its crack masks} for a few images of a COCO file, read once per
    change of the file (path, size, modification time) and choice of images, not on every rerun."""
    stat = Path(json_path).stat()
    return _crack_masks(str(Path(json_path).resolve()), stat.st_size, stat.st_mtime_ns, tuple(image_ids))


def measure_title(measure: str) -> str:
    return MEASURE_NAMES[measure]


def drill_picture(overlaid: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """An (H, W, 3) uint8 picture (a map over the image) with the crack mask's outline in green."""
    return outlined(overlaid, mask, thickness=1)
