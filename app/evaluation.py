"""The Evaluate view's glue to evaluation.evaluate. Plain Python (no Streamlit)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from evaluation.results import CountsPairing, Evaluation, PairedStatistics
from models.loaded import LoadedModel

REPORTS = {"evaluation.csv": "text/csv", "evaluation.md": "text/markdown", "evaluation.json": "application/json",
           "disagreements.json": "application/json"}  # every file the Markdown report names
CACHE_ROOT = Path(__file__).resolve().parent.parent / "output" / "evaluations"  # git-ignored
T = TypeVar("T")
OUTCOMES = ("TP", "FP", "FN", "TN")


@dataclass
class EvaluationRun:
    """One finished evaluation: its inputs and what evaluation.evaluate wrote."""

    key: tuple
    results: Evaluation
    out_dir: Path
    json_path: Path
    image_dir: Path

    @property
    def label(self) -> str:
        """The dataset as the visitor named it when it ran (an upload's "name (hash)")."""
        return self.results.dataset.label

    def report(self, name: str) -> bytes:
        return (self.out_dir / name).read_bytes()

    @property
    def disagreements(self) -> list[dict]:
        path = self.out_dir / "disagreements.json"
        return json.loads(path.read_text())["images"] if path.is_file() else []

    @property
    def images(self) -> list[dict]:
        """Every image with its ground truth and each model's max score (evaluation.evaluate's
        images.json), [] for runs written before it existed."""
        path = self.out_dir / "images.json"
        return json.loads(path.read_text())["images"] if path.is_file() else []

    def image_path(self, entry: dict) -> Path:
        """Where the image of a disagreement entry is (the JSON's file_name under the image folder).
        Raises training.data.DatasetPathError where that file_name leads outside the folder."""
        from training.data import dataset_image_path

        index = dataset_index(self.json_path)
        file_name = (index.file_names if index else {}).get(entry["image_id"], entry["file_name"])
        return dataset_image_path(self.image_dir, file_name)


def evaluate_pair(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, *,
                  threshold: float, on_progress: Callable[[int, int], None] | None = None,
                  cache_root: Path | None = None, label: str | None = None) -> EvaluationRun:
    """Both models over a labelled COCO set (baseline first, as evaluation.evaluate's reports put it),
    kept on disk under `cache_root` (see `saved_run`). `label`: the dataset as the visitor names it,
    written with the results. Raises training.data.DataProblemsError, models.ModelLoadError or
    ValueError with a message."""
    from evaluation.evaluate import evaluate

    final = cache_folder(pair, json_path, image_dir, threshold, cache_root, label)
    # workers=0: no processes forked from the multi-threaded server (and no extra memory per session)
    results = written_aside(final, lambda folder: evaluate(
        [pair[1], pair[0]], json_path, image_dir, folder, threshold=threshold, progress=False, on_progress=on_progress,
        workers=0, dataset_name=label))
    return EvaluationRun(run_key(pair, json_path, image_dir, threshold, label), results, final, Path(json_path),
                         Path(image_dir))


def written_aside(final: Path, write: Callable[[Path], T]) -> T:
    """`write(folder)` into a new folder beside `final`, renamed to `final` once it returns, so a
    result on disk is never half-written: a run that fails or is cancelled leaves nothing.

    Returns:
        What `write` returns.
    """
    import shutil
    import tempfile

    final.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".running-", dir=final.parent))
    try:
        found = write(partial)
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return found


def cache_folder(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, threshold: float,
                 cache_root: Path | None = None, label: str | None = None) -> Path:
    """Where the results of this dataset, these models and this threshold are kept: named by a
    hash of the annotation file's content, the image folder, the dataset's label (the results
    carry it), each model's config and weights files' content (a model with random weights: its
    key) and the threshold."""
    return result_folder(cache_root or CACHE_ROOT, pair, json_path, image_dir, f"{float(threshold):.6f}",
                         *((label,) if label else ()))


def result_folder(root: Path, pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path,
                  *settings: str) -> Path:
    """A folder under `root` named by a hash of what a result over a dataset depends on: the
    annotation file's content, the image folder, each model's config and weights files' content
    (a model with random weights: its key) and the `settings` in words."""
    import hashlib

    digest = hashlib.sha256()
    for part in (_file_digest(Path(json_path)), str(Path(image_dir).resolve()), *settings):
        digest.update(part.encode() + b"\0")
    for m in pair:
        digest.update(_file_digest(Path(m.spec.config)).encode() + b"\0")
        digest.update((_file_digest(Path(m.spec.weights)) if m.spec.weights else m.key).encode() + b"\0")
    return Path(root) / digest.hexdigest()[:24]


@functools.lru_cache(maxsize=64)
def _content_digest(path: str, size: int, mtime_ns: int) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    """The sha256 of a file's content (remembered while its size and modification time stay),
    or "missing: <path>"."""
    try:
        stat = path.stat()
    except OSError:
        return f"missing: {path}"
    return _content_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def saved_run(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, threshold: float,
              cache_root: Path | None = None, label: str | None = None) -> EvaluationRun | None:
    """The kept results of an earlier evaluation of the same dataset (and label), models and
    threshold (in any session, before a restart too), or None."""
    folder = cache_folder(pair, json_path, image_dir, threshold, cache_root, label)
    try:
        results = Evaluation.from_json(json.loads((folder / "evaluation.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError):  # none kept, or a file of another form
        return None
    return EvaluationRun(run_key(pair, json_path, image_dir, threshold, label), results, folder, Path(json_path),
                         Path(image_dir))


def outcome(truth: bool, score: float, threshold: float) -> str:
    """The image-level verdict of one model on one image: "TP", "FP", "FN" or "TN"."""
    said = score >= threshold
    return ("TP" if said else "FN") if truth else ("FP" if said else "TN")


def browse_rows(images: list[dict], threshold: float) -> list[dict]:
    """One row per image: {"file_name", "truth", then per model "<label>" (its outcome) and
    "<label> score" (its max score)}, from `EvaluationRun.images`."""
    rows = []
    for image in images:
        row = {"file_name": image["file_name"], "truth": "crack" if image["crack"] else "no crack"}
        for label, score in image["max_scores"].items():
            row[label] = outcome(image["crack"], score, threshold)
            row[f"{label} score"] = score
        rows.append(row)
    return rows


def filter_images(images: list[dict], label: str, outcomes: set[str], low: float, high: float,
                  threshold: float) -> list[dict]:
    """The images on which model `label`'s verdict is one of `outcomes` and its max score lies in [low, high]."""
    return [im for im in images if outcome(im["crack"], im["max_scores"][label], threshold) in outcomes
            and low <= im["max_scores"][label] <= high]


def image_pr_curves(images: list[dict]) -> tuple[list[dict], dict[str, float | None]]:
    """Image-level precision-recall curves of every model (sklearn, from the per-image max
    scores: the crack / no-crack rule at every threshold). Returns (rows {"model", "recall",
    "precision", "threshold", "step"} for a line chart, {label: average precision}); no curve
    (and None) where the set has no crack or no image without one."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    truth = [im["crack"] for im in images]
    rows, ap = [], {}
    labels = list(images[0]["max_scores"]) if images else []
    for label in labels:
        if len(set(truth)) < 2:
            ap[label] = None
            continue
        scores = [im["max_scores"][label] for im in images]
        precision, recall, thresholds = precision_recall_curve(truth, scores)
        ap[label] = float(average_precision_score(truth, scores))
        for step, (p, r) in enumerate(zip(precision, recall)):
            rows.append({"model": label, "recall": float(r), "precision": float(p), "step": step,
                         "threshold": float(thresholds[step]) if step < len(thresholds) else None})
    return rows, ap


MODEL_COLOURS = ("#0072B2", "#E69F00")  # blue and orange (Okabe-Ito): told apart also by colour-blind eyes


def model_colours(labels: list[str]) -> dict:
    """The Vega-Lite colour encoding of the `model` field: MODEL_COLOURS in the order of `labels`
    (before, after), and a legend under the chart that shows each label whole."""
    return {"field": "model", "type": "nominal", "scale": {"domain": list(labels), "range": list(MODEL_COLOURS)},
            "legend": {"orient": "bottom", "labelLimit": 0, "title": None}}


def instance_pr_rows(results: Evaluation) -> list[dict]:
    """Rows {"model", "task" ("mask" | "box"), "recall", "precision"} of every model's instance-level
    precision-recall curve at IoU 0.5 (evaluation.evaluate.pr_curve), for a line chart."""
    rows = []
    for label, m in results.models.items():
        curve = m.pr_curve or {}
        for task, name in (("segm", "mask"), ("bbox", "box")):
            rows += [{"model": label, "task": name, "recall": r, "precision": p}
                     for r, p in zip(curve.get("recall", []), curve.get(task, [])) if p is not None]
    return rows


def run_key(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, threshold: float,
            label: str | None = None) -> tuple:
    """What tells one evaluation from another in a session: models, dataset (and its label), threshold."""
    return (pair[0].key, pair[1].key, str(json_path), str(image_dir), float(threshold), label)


def evaluation_table(results: Evaluation) -> list[dict]:
    """evaluation.evaluate's comparison as rows: {"metric", <model label>: formatted value, ...},
    formatted as in its reports (evaluation.formatting)."""
    from evaluation.formatting import format_metric, metric_rows

    return [{"metric": name, **{label: format_metric(v, kind) for label, v in zip(results.models, values)}}
            for name, kind, values in metric_rows(results)]


@dataclass(frozen=True)
class DatasetIndex:
    """What the pages need of a COCO file on every rerun: its image count and each image's file_name."""

    size: int
    file_names: dict


@functools.lru_cache(maxsize=4)
def _dataset_index(path: str, size: int, mtime_ns: int) -> DatasetIndex | None:
    from training.data import DataProblemsError, read_dataset_json

    try:
        data = read_dataset_json(path)  # at most training.data.MAX_DATASET_JSON_BYTES, read
    except DataProblemsError:
        return None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        return None
    return DatasetIndex(len(images), {img["id"]: img["file_name"] for img in images
                                      if isinstance(img, dict) and isinstance(img.get("file_name"), str)
                                      and isinstance(img.get("id"), int)})


def dataset_index(json_path: Path) -> DatasetIndex | None:
    """The image count and file names of a COCO file, or None where it cannot be read as one. The
    file is read once per change (its path, size and modification time), not on every rerun of a page."""
    try:
        stat = Path(json_path).stat()
        return _dataset_index(str(Path(json_path).resolve()), stat.st_size, stat.st_mtime_ns)
    except OSError:
        return None


def dataset_size(json_path: Path) -> int | None:
    """How many images a COCO file lists (None where it cannot be read as one)."""
    index = dataset_index(json_path)
    return index.size if index else None


def verdict(entry: dict, label: str) -> str:
    m = entry["models"][label]
    said = "crack" if m["crack"] else "no crack"
    return f"{said} (max score {m['max_score']:.2f}) {'✓' if m['correct'] else '✗'}"


def paired_table(stats: PairedStatistics) -> list[dict]:
    """evaluation.significance's paired statistics as rows {"": what, "value"} for a small table."""
    from evaluation.formatting import paired_rows

    return [{"": what, "value": value} for what, value in paired_rows(stats)]


def difference_table(stats: PairedStatistics) -> list[dict]:
    """The bootstrap rows: {"difference": metric, "observed", "<confidence> interval", "significant?"}
    (second model minus first), the verdict by the report's one rule (evaluation.formatting)."""
    from evaluation.formatting import difference_rows, significance_rows

    name = f"{100 * stats.bootstrap.confidence:.0f}% interval"
    return [{"difference": metric, "observed": observed, name: interval, "significant?": said}
            for (metric, observed, interval), said in zip(difference_rows(stats), significance_rows(stats))]


# The seed's experiment (Mask R-CNN 38 / 81 / 0 / 11, with BAM 41 / 81 / 0 / 8): one click fills the counts-only form.
EXPERIMENT_COUNTS = ({"tp": 38, "tn": 81, "fp": 0, "fn": 11}, {"tp": 41, "tn": 81, "fp": 0, "fn": 8})
EXPERIMENT_LABELS = ("Mask R-CNN (the experiment)", "with BAM (the experiment)")  # its rows, not the page's models


def counts_table(result: CountsPairing, labels: tuple[str, str]) -> list[dict]:
    """evaluation.significance.pairing_from_counts' best and worst pairings as rows for a small table."""
    from evaluation.significance import format_p

    return [{"pairing": f"{name} case", f"only {labels[0]} right": p.only_a_right,
             f"only {labels[1]} right": p.only_b_right, "McNemar exact p": format_p(p.mcnemar_p)}
            for name, p in (("best", result.best), ("worst", result.worst))]
