"""What `python -m app dissect` writes, and how people read it: the typed dissection.json of one or
more models (`DissectionReport`), its tables (the per-stage table, the knock-out table), its
Markdown and CSV, and its page in the handout report. No model runs here (evaluation.dissect does).

Names from files and visitors are escaped here as in evaluation.formatting: Markdown and HTML show
them as text, CSV cells never start a formula, figures draw them as plain text.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from evaluation.dissection import DissectionResult, Interval
from evaluation.knockout import KnockOutRow, knockout_markdown, knockout_table
from evaluation.significance import signed
from evaluation.text_safety import csv_row, markdown_code, markdown_text

Table = tuple[list[str], list[list[str]]]  # (header, rows), every cell text
FILES = ("dissection.json", "dissection.csv", "dissection.md")
UNITS_FIGURE = "dissection_units"  # .png and .pdf
KNOCKOUT_CSV = "knockouts.csv"


@dataclass(frozen=True)
class DissectedSet:
    """The labelled set dissected."""

    json: str
    images: str
    num_images: int
    with_crack: int
    limit: int | None = None  # only the first `limit` images of the file


@dataclass(frozen=True)
class ModelDissection:
    """One model: what it is, how long its pass took, its dissection and its knock-outs."""

    config: str
    weights: str
    model: str  # its summary in words
    seconds_per_image: float | None  # median seconds of its pass (ResNet and attention) per image
    result: DissectionResult
    knockouts: list[KnockOutRow] | None = None  # None: not run

    def to_json(self) -> dict:
        return {"config": self.config, "weights": self.weights, "model": self.model,
                "seconds_per_image": self.seconds_per_image, "result": self.result.to_json(),
                "knockouts": None if self.knockouts is None else [r.to_json() for r in self.knockouts]}

    @classmethod
    def from_json(cls, data: dict) -> ModelDissection:
        rows = data.get("knockouts")
        return cls(config=data["config"], weights=data["weights"], model=data["model"],
                   seconds_per_image=data.get("seconds_per_image"), result=DissectionResult.from_json(data["result"]),
                   knockouts=None if rows is None else [KnockOutRow.from_json(r) for r in rows])


@dataclass(frozen=True)
class KnockOutSettings:
    """Which knock-outs were evaluated (the same for every model)."""

    layers: tuple[str, ...] = ("c2", "c3", "c4")  # whose best / random units are zeroed
    k: int = 8
    draws: int = 3
    seed: int = 0
    threshold: float = 0.5  # the evaluation's image-level score threshold
    mean_ablation: bool = True

    def to_json(self) -> dict:
        return {"layers": list(self.layers), "k": self.k, "draws": self.draws, "seed": self.seed,
                "threshold": self.threshold, "mean_ablation": self.mean_ablation}

    @classmethod
    def from_json(cls, data: dict) -> KnockOutSettings:
        return cls(**{**data, "layers": tuple(data["layers"])})

    def describe(self) -> str:
        """The knock-outs in one paragraph, for the reports."""
        return (("Mean ablation: each attention module's maps replaced by their dataset means, one stage at a "
                 "time and all at once (models with attention). " if self.mean_ablation else "")
                + f"Zeroed units, at {', '.join(self.layers)}: the {self.k} channels of highest crack IoU, against "
                  f"{self.k} channels drawn at random from the others ({self.draws} draws, seed {self.seed}). "
                  "Each knock-out is a copy of the model, evaluated with it on every image (image-level threshold "
                  f"{self.threshold:g}) with the evaluation's paired statistics.")


@dataclass(frozen=True)
class DissectionReport:
    """dissection.json: the set, then per model its dissection and knock-outs."""

    dataset: DissectedSet
    models: dict[str, ModelDissection]  # by label, the reference (the baseline) first
    knockout_settings: KnockOutSettings | None = None  # None: no knock-outs
    seconds: dict[str, float] = field(default_factory=dict)  # "pass", "knock-outs", "writing"

    @property
    def labels(self) -> list[str]:
        return list(self.models)

    @property
    def first(self) -> DissectionResult:
        return next(iter(self.models.values())).result

    def to_json(self) -> dict:
        return {"dataset": vars(self.dataset).copy(), "models": {k: v.to_json() for k, v in self.models.items()},
                "knockout_settings": self.knockout_settings.to_json() if self.knockout_settings else None,
                "seconds": dict(self.seconds)}

    @classmethod
    def from_json(cls, data: dict) -> DissectionReport:
        settings = data.get("knockout_settings")
        return cls(dataset=DissectedSet(**data["dataset"]),
                   models={k: ModelDissection.from_json(v) for k, v in data["models"].items()},
                   knockout_settings=KnockOutSettings.from_json(settings) if settings else None,
                   seconds=dict(data.get("seconds", {})))


# ---------------------------------------------------------------------------------------------
# Tables


def interval_text(interval: Interval | None, digits: int = 2) -> str:
    """"+0.31 [+0.12, +0.47]", "+0.31" without an interval, "n/a" where undefined."""
    if interval is None or interval.observed is None:
        return "n/a"
    text = signed(interval.observed, digits)  # the digits it needs, never "-0.00"
    if interval.low is not None and interval.high is not None:
        text += f" [{signed(interval.low, digits)}, {signed(interval.high, digits)}]"
    return text


def stage_table(report: DissectionReport) -> Table:
    """Per layer: its channels, each model's crack units, and for the models with a channel
    attention there, Spearman's rho of weight vs crack IoU with its interval."""
    layers = list(dict.fromkeys(layer for m in report.models.values() for layer in m.result.layers))
    with_attention = [label for label, m in report.models.items() if m.result.correlations]
    header = ["layer", "channels", *(f"crack units: {label}" for label in report.models),
              *(f"ρ(weight, IoU): {label}" for label in with_attention)]
    rows = []
    for layer in layers:
        counts = []
        channels = ""
        for m in report.models.values():
            found = m.result.layers.get(layer)
            channels = channels or (str(found.channels) if found else "")
            counts.append(f"{len(found.crack_units)} ({100 * len(found.crack_units) / found.channels:.0f}%)"
                          if found else "n/a")
        rhos = [interval_text(report.models[label].result.correlations[layer].spearman)
                if layer in report.models[label].result.correlations else "no attention" for label in with_attention]
        rows.append([layer, channels, *counts, *rhos])
    return header, rows


def change_table(report: DissectionReport) -> Table:
    """Per model and attention stage: does the channel attention turn the crack units up when a
    crack is there? The mean weight change (with crack − without) of the crack units minus that of
    the other channels, and Spearman's rho of the change vs crack IoU, each with its interval."""
    header = ["model", "layer", "attention", "crack units − others: weight change with − without crack",
              "ρ(weight change, IoU)"]
    ds = report.dataset
    both = ds.with_crack and ds.with_crack < ds.num_images
    undefined = "n/a" if both else f"n/a: {'no image without' if ds.with_crack else 'no image with'} cracks"
    rows = [[label, layer, corr.kind.upper(), interval_text(corr.units_minus_others, 3).replace("n/a", undefined),
             interval_text(corr.change_spearman).replace("n/a", undefined)]
            for label, m in report.models.items() for layer, corr in m.result.correlations.items()]
    return header, rows


def best_channels_table(report: DissectionReport, count: int = 5) -> Table:
    """Per model and layer, its `count` channels of highest crack IoU ("#12 0.081")."""
    header = ["model", "layer", *(f"#{k + 1}" for k in range(count))]
    rows = []
    for label, m in report.models.items():
        for layer, d in m.result.layers.items():
            best = [f"#{c} {d.iou[c]:.3f}" for c in d.ranking()[:count]]
            rows.append([label, layer, *best, *[""] * (count - len(best))])
    return header, rows


def knockout_rows(report: DissectionReport) -> Table:
    """Every model's knock-outs in one table (evaluation.knockout.knockout_table), a model column first."""
    header, rows = None, []
    for label, m in report.models.items():
        if m.knockouts:
            header, body = knockout_table(m.knockouts)
            rows += [[label, *cells] for cells in body]
    return (["model", *(header or knockout_table([])[0])], rows)


def settings_rows(result: DissectionResult) -> list[tuple[str, str]]:
    """(setting, value) of a dissection: every setting, the sketch and its error."""
    s = result.settings
    sketch = result.sketch
    overflow = sum(int(d.overflow.sum()) for d in result.layers.values())
    bottom = sum(int(d.ties_at_bottom.sum()) for d in result.layers.values())
    return [("top quantile (active cells of a channel)", f"{100 * s.quantile:g}%"),
            ("crack unit", f"IoU > {s.iou_threshold:g}"),
            ("crack masks dilated by", f"{s.dilation_px:g} px of the original image"),
            ("layers", ", ".join(s.layers)),
            ("quantile sketch", f"{sketch['kind']}: {sketch['bins_per_octave']} bins per octave over "
                                f"[2^{s.min_exponent}, 2^{s.max_exponent})"),
            ("sketch error", f"each threshold at most {100 * sketch['relative_error']:.2g}% below the exact quantile "
                             f"(relative error 2^-{s.bits}); {overflow} channel(s) above the range (no bound), "
                             f"{bottom} whose quantile fell in their lowest bin (threshold the next edge up: "
                             "constant or mostly-zero channels)"),
            ("bootstrap over images", f"{s.resamples} resamples, seed {s.seed}, {round(100 * s.confidence)}% "
                                      "percentile intervals, thresholds held fixed"),
            ("top images kept per channel", str(s.top_k))]


def _markdown_table(content: Table) -> list[str]:
    header, rows = content
    lines = ["| " + " | ".join(markdown_text(h) for h in header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(markdown_text(c) for c in row) + " |" for row in rows]


def dissection_markdown(report: DissectionReport) -> str:
    """dissection.md: the method and every setting, the per-stage table, the attention's weight
    changes, the best channels and the knock-outs."""
    first = report.first
    ds = report.dataset
    lines = ["# Inside the attention: Network Dissection", "",
             f"Dataset: {markdown_code(ds.json)}, {ds.num_images} images ({ds.with_crack} with cracks)"
             + (f", the first {ds.limit} of the file" if ds.limit else "") + ".", "",
             "## Method", "", first.method, "",
             "| setting | value |", "| --- | --- |",
             *(f"| {name} | {markdown_text(value)} |" for name, value in settings_rows(first)), "",
             "## Crack units per layer, and does the channel attention favour them?", "",
             *_markdown_table(stage_table(report)), "",
             "ρ: Spearman's rank correlation, over the layer's channels, between a channel's mean channel-attention "
             f"weight and its crack IoU, with its {round(100 * first.settings.confidence)}% bootstrap interval over "
             "images.", ""]
    change = change_table(report)
    if change[1]:
        lines += ["## Does the attention turn crack units up when a crack is there?", "", *_markdown_table(change),
                  ""]
    lines += ["## Channels of highest crack IoU", "", *_markdown_table(best_channels_table(report)), ""]
    if report.knockout_settings is not None:
        lines += ["## Knock-outs", "", report.knockout_settings.describe(), ""]
        for label, m in report.models.items():
            if m.knockouts:
                lines += [f"### {markdown_text(label)}", "", knockout_markdown(m.knockouts)]
    lines += ["## Models", "", "| model | config | weights | summary | seconds / image (ResNet pass) |",
              "| --- | --- | --- | --- | ---: |"]
    lines += [f"| {markdown_text(label)} | {markdown_code(m.config)} | {markdown_code(m.weights)} | "
              f"{markdown_text(m.model)} | {m.seconds_per_image if m.seconds_per_image is not None else 'n/a'} |"
              for label, m in report.models.items()]
    return "\n".join(lines) + "\n"


def channel_csv_rows(report: DissectionReport) -> list[list]:
    """dissection.csv: a row per model, layer and channel (evaluation.dissection.channel_rows)."""
    from evaluation.dissection import channel_rows

    rows = []
    for label, m in report.models.items():
        header, *body = channel_rows(m.result)
        rows = rows or [["model", *header]]
        rows += [csv_row([label, *row]) for row in body]
    return rows


def knockout_csv_rows(report: DissectionReport) -> list[list]:
    """knockouts.csv: the knock-out table of every model."""
    header, rows = knockout_rows(report)
    return [header, *(csv_row(row) for row in rows)]


# ---------------------------------------------------------------------------------------------
# The handout report's page


HANDOUT_TITLE = "Inside the attention: which channels see cracks"
KNOCKOUTS_PER_PAGE = 18  # table rows that fit an A4 landscape page under its title


def handout_picture(report: DissectionReport) -> tuple[str, bytes, str]:
    """The handout's picture page: (title, the units figure as PNG, its caption)."""
    from evaluation.dissection_figure import units_figure
    from viz.figures import figure_bytes

    png = figure_bytes(units_figure({label: m.result for label, m in report.models.items()}), "png", dpi=130)
    ds = report.dataset
    caption = (f"Network Dissection over {ds.num_images} images ({ds.with_crack} with cracks): per layer, the "
               "channels whose activation, thresholded at its own top quantile, overlaps the crack masks (crack "
               "units), for each model; right, whether the channel attention weights them up (Spearman's ρ of a "
               "channel's mean weight and its crack IoU, with its interval).")
    return HANDOUT_TITLE, png, caption


def handout_text_pages(report: DissectionReport) -> list[tuple[str, list[tuple[str, object]]]]:
    """The handout's text pages as (title, blocks) for evaluation.handout_pages: blocks are
    ("text" | "heading", str) or ("table", Table). The per-stage table, the weight changes and the
    method; then the knock-outs, KNOCKOUTS_PER_PAGE rows a page."""
    blocks = [("table", stage_table(report)),
              ("text", "ρ: Spearman's rank correlation over the layer's channels between a channel's mean "
                       "channel-attention weight and its crack IoU, with its bootstrap interval over images.")]
    change = change_table(report)
    if change[1]:
        blocks += [("heading", "Does the attention turn crack units up when a crack is there?"), ("table", change)]
    blocks += [("heading", "Method"), ("text", report.first.method)]
    pages = [("Inside the attention: crack units per layer", blocks)]
    header, rows = _short_knockouts(knockout_rows(report))
    for start in range(0, len(rows), KNOCKOUTS_PER_PAGE):
        page = [("table", (header, rows[start:start + KNOCKOUTS_PER_PAGE]))]
        if start + KNOCKOUTS_PER_PAGE >= len(rows):
            page += [("text", report.knockout_settings.describe() + " Differences: knocked-out minus original, in "
                              "percentage points (accuracy, recall) and AP points; the HTML has every interval.")]
        pages.append(("Knock-outs: what the attention and the crack units do to the result", page))
    return pages


def _short_knockouts(content: Table) -> Table:
    """The knock-out table without the AP intervals, to fit a page (the HTML has them all)."""
    header, rows = content
    keep = [i for i, name in enumerate(header) if "AP interval" not in name]
    return [header[i] for i in keep], [[row[i] for i in keep] for row in rows]


def handout_html(report: DissectionReport) -> str:
    """The handout HTML's section on the dissection (every cell escaped)."""
    from evaluation.formatting import html_image, html_table

    e = html.escape
    title, png, caption = handout_picture(report)
    parts = [f'<section id="dissection"><h2>{e(title)}</h2>', html_image(png, "crack units per layer"),
             f"<p>{e(caption)}</p>", html_table(stage_table(report))]
    change = change_table(report)
    if change[1]:
        parts += ["<h3>Does the attention turn crack units up when a crack is there?</h3>", html_table(change)]
    knockouts = knockout_rows(report)
    if knockouts[1]:
        parts += ["<h3>Knock-outs</h3>", html_table(knockouts), f"<p>{e(report.knockout_settings.describe())}</p>"]
    parts += [f"<p>{e(report.first.method)}</p>", "</section>"]
    return "\n".join(parts)


def read_report(path: str | Path, labels: list[str]) -> DissectionReport:
    """A dissection.json for the handout report, checked to be of its models.

    Args:
        path: the file `python -m app dissect` wrote; labels: the report's model labels.

    Returns:
        The DissectionReport.

    Raises:
        ValueError: a sentence: not a dissection file, or one of other models.
    """
    try:
        report = DissectionReport.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{Path(path).name} is not a dissection.json written by `python -m app dissect`.") from None
    check_labels(report, labels, f"the dissection file {Path(path).name}")
    return report


def check_labels(report: DissectionReport, labels: list[str], name: str = "the dissection file") -> None:
    """ValueError with a sentence where the report is not of these models (by label)."""
    if sorted(report.labels) != sorted(labels):
        raise ValueError(f"{name} dissects {', '.join(report.labels) or 'no model'}, but the report's models are "
                         f"{', '.join(labels)}: give the same models (and labels).")
