"""The Evaluate view's glue to training.evaluate. Plain Python (no Streamlit)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.model_choice import LoadedModel

REPORTS = {"evaluation.csv": "text/csv", "evaluation.md": "text/markdown", "evaluation.json": "application/json"}


@dataclass
class EvaluationRun:
    """One finished evaluation: its inputs and what training.evaluate wrote."""

    key: tuple
    results: dict
    out_dir: Path
    json_path: Path
    image_dir: Path

    def report(self, name: str) -> bytes:
        return (self.out_dir / name).read_bytes()

    @property
    def disagreements(self) -> list[dict]:
        path = self.out_dir / "disagreements.json"
        return json.loads(path.read_text())["images"] if path.is_file() else []

    def image_path(self, entry: dict) -> Path:
        """Where the image of a disagreement entry is (the JSON's file_name under the image folder)."""
        data = json.loads(self.json_path.read_text(encoding="utf-8"))
        by_id = {img["id"]: img["file_name"] for img in data["images"]}
        return self.image_dir / by_id.get(entry["image_id"], entry["file_name"])


def evaluate_pair(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, out_dir: Path, *,
                  threshold: float, on_progress: Callable[[int, int], None] | None = None) -> EvaluationRun:
    """Both models over a labelled COCO set (baseline first, as training.evaluate's reports put it).
    Raises training.data.DataProblemsError, models.ModelLoadError or ValueError with a message."""
    from training.evaluate import evaluate

    chosen = [(m.label, m.choice.config, m.choice.weights or random_weights_file(m, Path(out_dir)))
              for m in (pair[1], pair[0])]
    results = evaluate(chosen, json_path, image_dir, out_dir, threshold=threshold, progress=False,
                       on_progress=on_progress)
    return EvaluationRun(run_key(pair, json_path, image_dir, threshold), results, Path(out_dir), Path(json_path),
                         Path(image_dir))


def random_weights_file(loaded: LoadedModel, folder: Path) -> Path:
    """A model without a weights file (seeded random weights) written to one, so that the
    evaluation, which loads its models from files, runs the very model the other views show."""
    import hashlib

    from models import save_weights

    path = folder / "random-weights" / f"{hashlib.sha256(loaded.key.encode()).hexdigest()[:16]}.pth"
    if not path.is_file():
        save_weights(loaded.model, path, half=False)
    return path


def run_key(pair: tuple[LoadedModel, LoadedModel], json_path: Path, image_dir: Path, threshold: float) -> tuple:
    return (pair[0].key, pair[1].key, str(json_path), str(image_dir), float(threshold))


def evaluation_table(results: dict) -> list[dict]:
    """training.evaluate's comparison as rows: {"metric", <model label>: formatted value, ...},
    formatted as in its reports."""
    from training.evaluate import format_metric, report_rows

    labels = list(results["models"])
    return [{"metric": name, **{label: format_metric(v, kind) for label, v in zip(labels, values)}}
            for name, kind, values in report_rows(results)]


def dataset_size(json_path: Path) -> int | None:
    try:
        return len(json.loads(Path(json_path).read_text(encoding="utf-8"))["images"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def verdict(entry: dict, label: str) -> str:
    m = entry["models"][label]
    said = "crack" if m["crack"] else "no crack"
    return f"{said} (max score {m['max_score']:.2f}) {'✓' if m['correct'] else '✗'}"


def paired_table(stats: dict) -> list[dict]:
    """training.significance's paired statistics as rows {"": what, "value"} for a small table."""
    from training.significance import paired_rows

    return [{"": what, "value": value} for what, value in paired_rows(stats)]


def difference_table(stats: dict) -> list[dict]:
    """The bootstrap rows: {"difference": metric, "observed", "<confidence> interval"} (second model minus first)."""
    from training.significance import difference_rows

    name = f"{100 * stats['bootstrap']['confidence']:.0f}% interval"
    return [{"difference": metric, "observed": observed, name: interval}
            for metric, observed, interval in difference_rows(stats)]


# The seed's experiment (Mask R-CNN 38 / 81 / 0 / 11, with BAM 41 / 81 / 0 / 8): the counts-only form's defaults.
EXPERIMENT_COUNTS = ({"tp": 38, "tn": 81, "fp": 0, "fn": 11}, {"tp": 41, "tn": 81, "fp": 0, "fn": 8})


def counts_table(result: dict, labels: tuple[str, str]) -> list[dict]:
    """training.significance.pairing_from_counts' best and worst pairings as rows for a small table."""
    from training.significance import format_p

    return [{"pairing": f"{name} case", f"only {labels[0]} right": p["only_a_right"],
             f"only {labels[1]} right": p["only_b_right"], "McNemar exact p": format_p(p["mcnemar_p"])}
            for name, p in (("best", result["best"]), ("worst", result["worst"]))]
