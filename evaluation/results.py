"""The results of the dataset measures, typed: what evaluation.json, attention_report.json and
their paired statistics hold, as dataclasses.

Each result's `to_json()` is the dict written to its file, field by field in the file's order (an
optional field that is None is left out, as the files always did), and `from_json()` reads such
a dict back: `Evaluation.from_json(json.load(f)).to_json()` is what was read. Nested results are
typed too (`Stat`, `Interval`, ...); maps and measures keyed by name stay dicts of them.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, get_args, get_origin, get_type_hints


def optional(default=None):
    """A field left out of the JSON while it is None (and None when the JSON has none)."""
    return field(default=default, metadata={"optional": True})


class Record:
    """to_json / from_json for a dataclass whose fields are JSON values, Records, or lists and
    str-keyed dicts of them."""

    def to_json(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)
                if not (f.metadata.get("optional") and getattr(self, f.name) is None)}

    @classmethod
    def from_json(cls, data: dict):
        hints = get_type_hints(cls)
        return cls(**{f.name: _typed(hints[f.name], data[f.name]) for f in fields(cls) if f.name in data})


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _typed(kind: Any, value: Any) -> Any:
    """`value`, read from JSON, as `kind` says (Records made, containers followed)."""
    if value is None:
        return None
    origin = get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        kind = next(arg for arg in get_args(kind) if arg is not type(None))
        origin = get_origin(kind)
    if origin is dict:
        return {key: _typed(get_args(kind)[1], v) for key, v in value.items()}
    if origin is list:
        return [_typed(get_args(kind)[0], v) for v in value]
    if isinstance(kind, type) and issubclass(kind, Record):
        return kind.from_json(value)
    return value


# ---------------------------------------------------------------------------------------------
# Paired statistics (evaluation.significance)


@dataclass
class Interval(Record):
    """An observed difference (B - A) and its bootstrap interval; None where undefined."""

    observed: float | None
    low: float | None = None
    high: float | None = None


@dataclass
class Bootstrap(Record):
    """Percentile bootstrap intervals of the differences: "accuracy" (a fraction) and, per COCO
    task and metric, e.g. "mask AP50" (AP points). In the file, the intervals stand beside the
    settings."""

    resamples: int
    seed: int
    confidence: float
    intervals: dict[str, Interval] = field(default_factory=dict)

    SETTINGS: ClassVar = ("resamples", "seed", "confidence")

    def to_json(self) -> dict:
        return {"resamples": self.resamples, "seed": self.seed, "confidence": self.confidence,
                **{name: interval.to_json() for name, interval in self.intervals.items()}}

    @classmethod
    def from_json(cls, data: dict) -> Bootstrap:
        return cls(*(data[k] for k in cls.SETTINGS),
                   {name: Interval.from_json(v) for name, v in data.items() if name not in cls.SETTINGS})


@dataclass
class PairedStatistics(Record):
    """Two models on the same images, A before (the baseline) and B after: the images each alone
    gets right, McNemar's exact test, bootstrap intervals, and a sentence saying what it means."""

    models: list[str]  # [A, B]
    images: int
    both_right: int
    only_a_right: int
    only_b_right: int
    both_wrong: int
    mcnemar_p: float
    bootstrap: Bootstrap
    summary: str = ""


@dataclass
class Pairing(Record):
    """One way the images of two image-level tables may pair up, and its McNemar p."""

    only_a_right: int
    only_b_right: int
    mcnemar_p: float


@dataclass
class CountsPairing(Record):
    """What two TP / TN / FP / FN tables alone allow: the most and least favourable pairings."""

    images: int
    positives: int
    negatives: int
    correct_a: int
    correct_b: int
    best: Pairing
    worst: Pairing


# ---------------------------------------------------------------------------------------------
# Evaluation (evaluation.evaluate): evaluation.json

COCO_METRICS = ("AP", "AP50", "AP75")
COCO_TASKS = (("bbox", "box"), ("segm", "mask"))  # pycocotools' task names and the reports'


class NamedSet:
    """The `label` of a set result that has `json` and `name` fields (EvaluatedSet, MeasuredSet)."""

    @property
    def label(self) -> str:
        """The set as people read its name: `name`, else its folder and file name."""
        return self.name or f"{Path(self.json).parent.name}/{Path(self.json).name}"


@dataclass
class EvaluatedSet(NamedSet, Record):
    json: str
    images: str
    num_images: int
    with_instances: int
    without_instances: int
    name: str | None = optional()  # what the user calls the set (an upload's "name (hash)"); None: its file


@dataclass
class ImageLevel(Record):
    """The crack / no-crack counts of one model; a rate whose denominator is 0 is None."""

    images: int
    positives: int
    negatives: int
    tp: int
    tn: int
    fp: int
    fn: int
    accuracy: float | None
    precision: float | None
    recall: float | None


@dataclass
class ModelEvaluation(Record):
    config: str
    weights: str
    model: str  # models.describe, in words
    image_level: ImageLevel
    coco: dict[str, dict[str, float | None]]  # {"bbox" | "segm": {"AP", "AP50", "AP75"}}, in percent
    pr_curve: dict[str, list]  # {"recall": [...], "bbox" | "segm": precision per recall (None: not reached)}
    seconds_per_image: float | None  # the median


@dataclass
class Evaluation(Record):
    """evaluation.json: the models side by side on one labelled set."""

    dataset: EvaluatedSet
    threshold: float
    rule: str
    models: dict[str, ModelEvaluation]
    disagreements: int = 0
    paired: PairedStatistics | None = optional()

    @property
    def labels(self) -> list[str]:
        return list(self.models)


# ---------------------------------------------------------------------------------------------
# Attention alignment (evaluation.attention_report): attention_report.json


@dataclass
class Stat(Record):
    """A mean over images with its bootstrap interval (None below two values) and the count."""

    mean: float | None
    low: float | None
    high: float | None
    n: int


@dataclass
class MeasuredSet(NamedSet, Record):
    json: str
    images: str
    num_images: int
    measured: int
    skipped_no_crack: int
    limit: int | None
    name: str | None = optional()  # as EvaluatedSet.name


@dataclass
class AlignmentSettings(Record):
    tolerance_px: float
    bootstrap: dict[str, Any]  # {"method", "resamples", "confidence", "seed"}
    maps: str
    comparison: str
    reference: str  # the model the differences are taken from
    cams: str | None
    cam_methods: list[str]

    @property
    def confidence(self) -> float:
        return self.bootstrap["confidence"]


@dataclass
class ModelAlignment(Record):
    config: str
    weights: str
    model: str
    seconds_per_image: float | None
    matched_detections: int | None = optional()  # these three with CAMs only
    annotations: int | None = optional()
    cam_seconds_per_image: dict[str, float] | None = optional()


@dataclass
class ImageAlignment(Record):
    """One image: its crack's share of the image, the pointing game's chance, and per model, map
    and measure the value (None where undefined)."""

    image_id: int
    file_name: str
    area_share: float
    pointing_chance: float
    models: dict[str, dict[str, dict[str, float | None]]]
    matched_detections: dict[str, dict[str, int]] | None = optional()  # with CAMs


PerMap = dict[str, dict[str, dict[str, Stat]]]  # label (or difference) -> map -> measure -> Stat


@dataclass
class Alignment(Record):
    """attention_report.json: per model, map and measure, how well the maps line up with the cracks."""

    # what evaluation.attention_report writes: this JSON, its CSV and Markdown, the figure
    FILES: ClassVar = ("attention_report.json", "attention_report.csv", "attention_report.md",
                       "attention_report.png", "attention_report.pdf")

    dataset: MeasuredSet
    settings: AlignmentSettings
    models: dict[str, ModelAlignment]
    chance: dict[str, Stat]  # "area_share", "pointing"
    summary: PerMap
    differences: PerMap  # "B - A" -> ...
    images: list[ImageAlignment]
    skipped: list[dict[str, Any]]  # {"image_id", "file_name"} of the images without cracks

    @property
    def labels(self) -> list[str]:
        return list(self.summary)

    def stat(self, column: str, name: str, measure: str) -> Stat | None:
        """The Stat of a model's (or a difference's) map on a measure, or None where there is none."""
        per_map = self.summary[column] if column in self.summary else self.differences.get(column, {})
        return per_map.get(name, {}).get(measure)

    def ranked(self, label: str, name: str, measure: str, k: int = 3) -> tuple[list[dict], list[dict]]:
        """The k best and k worst images of one model's map on one measure (undefined values left
        out): each {"image_id", "file_name", "value"}, best first / worst first."""
        scored = [{"image_id": im.image_id, "file_name": im.file_name, "value": im.models[label][name][measure]}
                  for im in self.images
                  if name in im.models.get(label, {}) and im.models[label][name][measure] is not None]
        scored.sort(key=lambda e: -e["value"])
        return scored[:k], scored[::-1][:k]
