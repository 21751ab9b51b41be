"""A report to hand out: one PDF (and the same as one self-contained HTML file) on a before /
after pair of models.

What it holds, in order:

1. the two models described (architecture from `models.describe`, parameters, weights file,
   class names) and the dataset;
2. the before / after table of `evaluation.evaluate` (image-level counts and rates, COCO AP) with
   its paired statistics (`evaluation.significance`: McNemar's exact test, bootstrap intervals),
   saying in words when a difference is not significant;
3. the per-stage attention figure of `evaluation.attention_report` with the paired differences of
   its AUROC per map, each marked significant or not (does its interval exclude 0?);
4. a few example images: for each model its detections, its maps at c2..c4 (the spatial
   attention where the model has attention, the feature energy where it has none) and the
   Grad-CAM of its best detection, the crack outlined where the image's annotations are known.

The evaluation and the attention report are run here (on the first `limit` images of the set), or
read from the JSON files those commands wrote. Every page is an A4 landscape page drawn with
matplotlib (PdfPages); the figures go into the PDF and, as base64 PNGs, into the HTML.
"""

from __future__ import annotations

import base64
import html
import io
import json
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from evaluation.masks import crack_of, outlined
from evaluation.text_safety import figure_text
from models import LoadedModel  # (models makes detectron2 importable: before it)
from training.data import dataset_image_path, read_dataset_json

REPORT_PDF, REPORT_HTML = "report.pdf", "report.html"
PAGE = (11.69, 8.27)  # A4 landscape, inches
EXAMPLE_STAGES = ("c2", "c3", "c4")
CAM_LAYER = "c4"  # the last attention stage's output
FIGURE_DPI = 130
ALPHA = 0.05

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is being done)


@dataclass
class ModelInfo:
    """One model, as the report describes it."""

    label: str
    config: Path
    weights: Path | None  # None: random weights
    description: str
    parameters: int
    attention_parameters: int
    weights_bytes: int
    class_names: tuple[str, ...]


@dataclass
class Example:
    """One example image: its name and the figure of both models on it (PNG bytes)."""

    name: str
    png: bytes
    note: str = ""


@dataclass
class Report:
    """What `build_report` made: the files and what went into them."""

    pdf: Path
    html: Path
    models: list[ModelInfo]
    evaluation: dict | None
    attention: dict | None
    examples: list[Example] = field(default_factory=list)
    pages: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Inputs


def limited_dataset(json_path: str | Path, limit: int | None, folder: str | Path) -> Path:
    """The COCO file itself, or (with `limit` below its image count) a copy of its first `limit`
    images and their annotations written into `folder`; the image folder stays the same."""
    data = read_dataset_json(json_path)
    if limit is None or not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list) or limit >= len(data["images"]):
        return Path(json_path)  # what is not a COCO file is for the evaluation's check to say
    images = data["images"][:limit]
    ids = {image.get("id") for image in images if isinstance(image, dict)}
    data.update(images=images, annotations=[a for a in data["annotations"]
                                            if not isinstance(a, dict) or a.get("image_id") in ids])
    path = Path(folder) / f"first_{limit}_{Path(json_path).name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def pick_examples(json_path: str | Path, image_dir: str | Path, count: int) -> list[Path]:
    """`count` images with at least one annotation, spread evenly over the file's order (all
    with annotations when there are fewer)."""
    data = read_dataset_json(json_path)
    annotated = {a["image_id"] for a in data.get("annotations", [])}
    names = [im["file_name"] for im in data.get("images", []) if im["id"] in annotated]
    if len(names) > count:
        names = [names[round(i * (len(names) - 1) / max(count - 1, 1))] for i in range(count)]
    return [dataset_image_path(image_dir, name) for name in names]


def describe_model(loaded: LoadedModel) -> ModelInfo:
    """What the report says about a loaded model: its summary in words, its parameter count (and
    how many of them are the attention modules'), its weights file and its class names."""
    from models import ATTENTION_REGISTRY

    attention = sum(p.numel() for module in loaded.model.modules()
                    if ATTENTION_REGISTRY.of_module(module) is not None for p in module.parameters())
    weights = loaded.spec.weights
    return ModelInfo(loaded.label, loaded.spec.config, weights, str(loaded.summary),
                     sum(p.numel() for p in loaded.model.parameters()), attention,
                     weights.stat().st_size if weights else 0, loaded.class_names)


def _matching(results: dict, labels: list[str], what: str) -> None:
    found = list(results.get("models", {}))
    if sorted(found) != sorted(labels):
        raise ValueError(f"the {what} compares {', '.join(found) or 'no model'}, but the report's models are "
                         f"{', '.join(labels)}: give the same models (and labels), or let the report run it.")


# ---------------------------------------------------------------------------------------------
# Building


def build_report(chosen: Sequence[LoadedModel], json_path: str | Path, image_dir: str | Path, out_dir: str | Path,
                 *, limit: int | None = None, examples: Sequence[str | Path] | None = None, example_count: int = 3,
                 examples_json: str | Path | None = None, evaluation_json: str | Path | None = None,
                 attention_json: str | Path | None = None, threshold: float = 0.5, resamples: int = 1000,
                 workers: int | None = None, on_progress: Progress | None = None, title: str | None = None) -> Report:
    """Write out_dir/report.pdf and out_dir/report.html (see the module docstring).

    chosen: the two loaded models, before (the baseline) first.
    json_path, image_dir: the labelled COCO set; limit: only its first `limit` images.
    examples: image files to show (default: `example_count` images with annotations of
    `examples_json` (default: json_path), read from its folder: `image_dir` unless given).
    evaluation_json / attention_json: reuse an evaluation.json / attention_report.json written
    before (their models must carry the same labels) instead of running them.
    workers: the evaluation's and attention report's decoding processes (0: none, as a server wants).
    on_progress(fraction, text): after each step and image.
    Returns the Report. Raises ValueError (a sentence for the user), models.ModelLoadError, or
    training.data.DataProblemsError.
    """
    from evaluation.attention_report import attention_report
    from evaluation.evaluate import evaluate

    if len(chosen) != 2:
        raise ValueError(f"the report compares two models (before, after); got {len(chosen)}.")
    labels = [m.label for m in chosen]
    if labels[0] == labels[1]:
        raise ValueError(f"the two models need different labels (both are {labels[0]!r}).")
    out_dir = Path(out_dir)
    work = out_dir / "report_parts"
    work.mkdir(parents=True, exist_ok=True)
    say = on_progress or (lambda fraction, text: None)
    seconds: dict[str, float] = {}
    given = {"evaluation": evaluation_json, "attention": attention_json}
    reused = {k: json.loads(Path(v).read_text(encoding="utf-8")) for k, v in given.items() if v}
    for key, results in reused.items():
        _matching(results, labels, f"{key} file {Path(given[key]).name}")
    subset = limited_dataset(json_path, limit, work) if len(reused) < 2 else Path(json_path)

    def stage(low: float, high: float, text: str) -> Callable[[int, int], None]:
        return lambda done, total: say(low + (high - low) * done / max(total, 1), f"{text}: {done} of {total} images")

    start = time.perf_counter()
    evaluation = reused.get("evaluation")
    if evaluation is None:
        say(0.05, "Evaluating both models…")
        evaluation = evaluate(chosen, subset, image_dir, work / "evaluation", threshold=threshold, progress=False,
                              on_progress=stage(0.05, 0.4, "Evaluating"), workers=workers)
    seconds["evaluation"] = time.perf_counter() - start

    start = time.perf_counter()
    attention = reused.get("attention")
    if attention is None:
        say(0.4, "Measuring the attention per stage…")
        attention = attention_report(chosen, subset, image_dir, work / "attention", resamples=resamples,
                                     progress=False, on_progress=stage(0.4, 0.75, "Measuring the attention"),
                                     workers=workers)
    seconds["attention"] = time.perf_counter() - start
    for key, results in (("evaluation", evaluation), ("attention", attention)):
        if key not in reused and subset != Path(json_path):  # name the set, not its cut copy
            results["dataset"]["json"] = str(json_path)

    start = time.perf_counter()
    if examples is None:
        examples_json = Path(examples_json or json_path)
        examples_dir = image_dir if examples_json == Path(json_path) else examples_json.parent
        examples = pick_examples(examples_json, examples_dir, example_count)
    shown = []
    for k, path in enumerate(examples):
        say(0.75 + 0.2 * k / max(len(examples), 1), f"Example images: {k + 1} of {len(examples)}")
        shown.append(example_figure(Path(path), chosen, threshold=threshold,
                                    outline_json=examples_json if examples_json else None))
    seconds["examples"] = time.perf_counter() - start

    start = time.perf_counter()
    say(0.95, "Writing the PDF and HTML…")
    infos = [describe_model(m) for m in chosen]
    report = Report(out_dir / REPORT_PDF, out_dir / REPORT_HTML, infos, evaluation, attention, shown,
                    seconds=seconds)
    write_report(report, title=title, limit=limit if "evaluation" not in reused else None)
    seconds["writing"] = time.perf_counter() - start
    say(1.0, "Done.")
    return report


def example_figure(path: Path, loaded: Sequence[LoadedModel], *, threshold: float,
                   outline_json: str | Path | None) -> Example:
    """Both models on one image: a row per model with its detections, its maps at c2..c4 and the
    Grad-CAM of its best detection."""
    from evaluation.attention_report import image_maps
    from viz.analysis import analyze
    from viz.figures import figure_bytes, panels_figure
    from viz.images import load_for_analysis
    from viz.render import draw_instances, normalize, overlay

    image, downscaled = load_for_analysis(path)
    mask = crack_of(outline_json, path.name)  # outlined() fits it to each picture
    panels = []
    for m in loaded:
        found = analyze(m.model, m.cfg, image, label=m.label, class_names=m.class_names,
                        score_threshold=threshold, cam_layers=(CAM_LAYER,), cam_instances=1)
        kept = len(found.detections)
        panels.append((draw_instances(image, found.capture.instances, list(m.class_names),
                                      score_threshold=threshold),
                       f"{figure_text(m.label)}\n{kept} detection{'s' if kept != 1 else ''} ≥ {threshold:.2f}"))
        maps = image_maps(found.capture)
        for stage in EXAMPLE_STAGES:
            if f"attention {stage}" in maps:
                values, words = maps[f"attention {stage}"], f"{stage}: spatial attention"
            else:
                values, words = maps[f"feature {stage}"], f"{stage}: feature energy\n(no attention here)"
            panels.append((outlined(overlay(image, normalize(values), alpha=0.55), mask), words))
        if found.cams:
            (index, layer), cam = next(iter(found.cams.items()))
            score = float(found.capture.instances.scores[index])
            panels.append((outlined(overlay(image, cam, alpha=0.5, cmap="jet"), mask),
                           f"Grad-CAM at {layer}\nbest detection ({score:.2f})"))
        else:
            panels.append((image, f"no Grad-CAM:\nno detection ≥ {threshold:.2f}"))
    outline = " Green: the annotated crack." if mask is not None else ""
    fig = panels_figure(panels, cols=len(panels) // len(loaded), panel_width=2.2,
                        title=f"{figure_text(path.name)}: detections, maps at c2–c4 (brighter: more), "
                              f"Grad-CAM.{outline}")  # a dataset's file name: no mathtext
    return Example(path.name, figure_bytes(fig, "png", dpi=FIGURE_DPI), downscaled or "")


# ---------------------------------------------------------------------------------------------
# Content, shared by the PDF and the HTML


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def model_rows(infos: list[ModelInfo]) -> tuple[list[str], list[list[str]]]:
    """(header, rows): a column per model (before, after), a row per property."""
    header = ["", *(f"{'before' if i == 0 else 'after'}: {m.label}" for i, m in enumerate(infos))]
    rows = [["architecture", *(textwrap.fill(m.description, 60) for m in infos)],
            ["parameters", *(f"{m.parameters / 1e6:.2f} M" for m in infos)],
            ["of which attention", *(f"{m.attention_parameters / 1e3:.1f} k" for m in infos)],
            ["weights file", *(f"{m.weights.name} ({_megabytes(m.weights_bytes)})" if m.weights
                               else "none: random weights" for m in infos)],
            ["classes", *(textwrap.fill(", ".join(m.class_names), 60) for m in infos)]]
    return header, rows


def evaluation_rows(evaluation: dict) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the before / after table: a row per metric, a column per model."""
    from evaluation.evaluate import report_rows

    def fmt(value, kind):
        if value is None:
            return "n/a"
        return {"int": str, "percent": lambda v: f"{100 * v:.2f} %", "ap": lambda v: f"{v:.1f}",
                "seconds": lambda v: f"{v:.3f}"}[kind](value)

    return ["", *evaluation["models"]], [[name, *(fmt(v, kind) for v in values)]
                                         for name, kind, values in report_rows(evaluation)]


def paired_tables(paired: dict) -> tuple[tuple[list[str], list[list[str]]], tuple[list[str], list[list[str]]]]:
    """The paired statistics as two (header, rows): the outcomes with McNemar's p, and the
    bootstrap differences (after − before) each with its interval and a verdict."""
    from evaluation.significance import difference_rows, paired_rows

    boot = paired["bootstrap"]
    outcomes = (["", "value"], [list(r) for r in paired_rows(paired)])
    rows = []
    for metric, observed, interval in difference_rows(paired):
        key = "accuracy" if metric.startswith("accuracy") else metric
        rows.append([metric, observed, interval, _verdict(boot.get(key, {}), "low", "high", paired["images"])])
    a, b = paired["models"]
    return outcomes, ([f"difference {b} − {a}", "observed", f"{100 * boot['confidence']:.0f}% interval",
                       "significant?"], rows)


# Below this many images a percentile bootstrap interval is too narrow to trust (it cannot hold
# the spread of images it never drew): no verdict is given.
MIN_IMAGES_FOR_VERDICT = 10


def _verdict(stat: dict, low: str, high: str, images: int | None) -> str:
    if not stat or stat.get(low) is None:
        return "no interval (too few images)"
    if images is not None and images < MIN_IMAGES_FOR_VERDICT:
        return f"too few images to tell ({images}; at least {MIN_IMAGES_FOR_VERDICT})"
    if stat[low] > 0 or stat[high] < 0:
        return "yes: the interval excludes 0"
    return "no: the interval includes 0"


def attention_rows(attention: dict, measure: str = "auroc") -> tuple[list[str], list[list[str]]]:
    """(header, rows): per map, each model's mean [interval] of `measure` and each paired
    difference with its verdict."""
    from evaluation.attention_report import format_stat, map_order

    labels, diffs = list(attention["summary"]), list(attention["differences"])
    header = ["map", *labels, *diffs, "difference significant?"]
    rows = []
    for name in map_order(attention):
        cells = [format_stat(attention["summary"][label].get(name, {}).get(measure)) for label in labels]
        stats = [attention["differences"][d].get(name, {}).get(measure) for d in diffs]
        cells += [format_stat(s) for s in stats]
        verdicts = [_verdict(s, "low", "high", s.get("n")) if s else "only one model has it" for s in stats]
        rows.append([name, *cells, "; ".join(verdicts)])
    return header, rows


def attention_summary(attention: dict) -> str:
    """In words: how many paired AUROC differences are significant, and against chance."""
    rows = attention_rows(attention)[1]
    compared = [r for r in rows if not r[-1].startswith("only")]
    labels = list(attention["summary"])
    significant = [f"{r[0]} {r[1 + len(labels)].split(' ')[0]}" for r in compared if r[-1].startswith("yes")]
    ds = attention["dataset"]
    text = (f"{ds['measured']} images with cracks measured ({ds['skipped_no_crack']} without cracks skipped). "
            f"AUROC 0.5 and lift 1 are chance. ")
    if not compared:
        return text + "The models share no map: no paired difference."
    if all(r[-1].startswith("too few") for r in compared):
        return text + (f"Too few images to tell whether the models' maps differ (at least {MIN_IMAGES_FOR_VERDICT} "
                       "with cracks are needed for an interval to trust).")
    if not significant:
        return text + (f"None of the {len(compared)} paired AUROC differences is significant (every 95% interval "
                       "includes 0): on these images, the maps of the two models are not shown to differ "
                       "in how well they point at the cracks.")
    diffs = " and ".join(attention["differences"])
    return text + (f"{len(significant)} of {len(compared)} paired AUROC differences ({diffs}) have an interval that "
                   f"excludes 0: {', '.join(significant)}; the others do not. Each interval describes these images; "
                   "with several maps compared, one may exclude 0 by chance.")


# ---------------------------------------------------------------------------------------------
# Writing


def _png(fig: Figure) -> bytes:
    from viz.figures import figure_bytes

    return figure_bytes(fig, "png", dpi=FIGURE_DPI)


def write_report(report: Report, *, title: str | None = None, limit: int | None = None) -> None:
    """report.pdf and report.html from a Report's content; sets report.pages."""
    from evaluation.alignment_figure import alignment_figure

    title = title or "Mask R-CNN with and without BAM: what changes"
    before, after = (m.label for m in report.models)
    attention_png = _png(alignment_figure(report.attention)) if report.attention else None
    subtitle = f"{before} (before) vs {after} (after) · {date.today().isoformat()}"
    dataset = _dataset_sentence(report, limit)

    pages = [_text_page(title, [("text", subtitle), ("text", dataset), ("heading", "The models"),
                                ("table", model_rows(report.models))])]
    ev = report.evaluation
    blocks = [("text", f"{ev['dataset']['num_images']} images ({ev['dataset']['with_instances']} with cracks, "
                       f"{ev['dataset']['without_instances']} without). {ev['rule'][0].upper()}{ev['rule'][1:]}. "
                       "Box / mask AP: COCO, in percent."),
              ("table", evaluation_rows(ev))]
    paired = ev.get("paired")
    if not paired:
        blocks += [("text", "No paired statistics: the evaluation did not compare exactly two models.")]
    pages.append(_text_page("Before / after", blocks))
    if paired:
        outcomes, differences = paired_tables(paired)
        pages.append(_text_page("Is the difference real?", [
            ("text", f"Before: {paired['models'][0]}. After: {paired['models'][1]}. The same {paired['images']} "
                     "images; an image is right when its crack / no-crack verdict is."),
            ("table", outcomes), ("table", differences), ("heading", "In words"), ("text", paired["summary"]),
            ("text", f"Bootstrap: {paired['bootstrap']['resamples']} resamples of the images (seed "
                     f"{paired['bootstrap']['seed']}), the same images for both models; AP re-counted from "
                     "pycocotools' per-image matches.")]))
    if report.attention:
        pages.append(_picture_page("Does the network look at the cracks? Per stage", attention_png,
                                   attention_summary(report.attention)))
        pages.append(_text_page("Per stage, AUROC of each map as a crack-pixel detector",
                                [("table", attention_rows(report.attention)),
                                 ("text", "Means over images with 95% bootstrap intervals; differences paired "
                                          "per image. attention cN: the spatial attention of stage N; feature "
                                          "cN: the mean absolute activation of stage output cN.")]))
    for example in report.examples:
        pages.append(_picture_page(f"Example: {example.name}", example.png,
                                   "For each model: its detections; its maps at c2, c3, c4 over the image (the "
                                   "spatial attention where the model has attention, else the feature energy); "
                                   "the Grad-CAM of its best detection at c4." + (f" {example.note}" if example.note
                                                                                  else "")))
    with PdfPages(report.pdf) as pdf:
        info = pdf.infodict()
        info["Title"], info["Subject"] = title, subtitle
        for page in pages:
            pdf.savefig(page)
        report.pages = pdf.get_pagecount()
    report.html.write_text(_html(report, title, subtitle, dataset, attention_png), encoding="utf-8")


def _dataset_sentence(report: Report, limit: int | None) -> str:
    ds = report.evaluation["dataset"]
    name = f"{Path(ds['json']).parent.name}/{Path(ds['json']).name}"
    text = f"Dataset: {name}, images in {ds['images']}"
    if limit:
        text += f" (the first {limit} images only: a quick version; intervals are wide on few images)"
    return text + "."


def _text_page(title: str, blocks: list[tuple[str, object]]) -> Figure:
    """An A4 landscape page: a title, then headings, wrapped paragraphs and tables, top to bottom."""
    fig = Figure(figsize=PAGE)
    fig.text(0.05, 0.94, title, fontsize=17, weight="bold", va="top")
    y, line = 0.87, 0.024
    for kind, content in blocks:
        if kind == "heading":
            y -= 0.01
            fig.text(0.05, y, content, fontsize=13, weight="bold", va="top")
            y -= 0.045
        elif kind == "text":
            wrapped = textwrap.fill(str(content), 150)
            fig.text(0.05, y, wrapped, fontsize=9.5, va="top", linespacing=1.4)
            y -= line * (wrapped.count("\n") + 1) + 0.02
        else:
            header, rows = content
            lines = [max(str(c).count("\n") + 1 for c in row) for row in rows]
            height = 0.03 * (1 + sum(lines))
            ax = fig.add_axes((0.05, y - height, 0.9, height))
            ax.set_axis_off()
            table = ax.table(cellText=rows, colLabels=header, loc="upper left", cellLoc="left",
                             bbox=(0, 0, 1, 1))
            table.auto_set_font_size(False)
            table.set_fontsize(8.5)
            # columns as wide as their longest line; the bbox scales them to the page's width
            widths = [3 + max(len(line) for cell in column for line in str(cell).split("\n"))
                      for column in zip(header, *rows)]
            for (r, c), cell in table.get_celld().items():
                cell.set_width(widths[c] / sum(widths))
                cell.PAD = 0.3 / widths[c]  # a fraction of the cell's width: about a third of a character
                if r == 0:
                    cell.set_text_props(weight="bold")
                    cell.set_facecolor("#E8ECF4")
            y -= height + 0.03
    return fig


def _picture_page(title: str, png: bytes, caption: str) -> Figure:
    """An A4 landscape page: a title, a picture scaled to fit, a caption under it."""
    fig = Figure(figsize=PAGE)
    fig.text(0.05, 0.94, title, fontsize=17, weight="bold", va="top")
    picture = _decode(png)
    ax = fig.add_axes((0.03, 0.14, 0.94, 0.75))
    ax.imshow(picture)
    ax.set_anchor("N")  # under the title, the free space (if any) below
    ax.set_axis_off()
    fig.text(0.05, 0.11, textwrap.fill(caption, 150), fontsize=9.5, va="top", linespacing=1.4)
    return fig


def _decode(png: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def _html_table(content: tuple[list[str], list[list[str]]]) -> str:
    header, rows = content
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_image(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _html(report: Report, title: str, subtitle: str, dataset: str, attention_png: bytes | None) -> str:
    e = html.escape
    ev = report.evaluation
    parts = [f"<h1>{e(title)}</h1>", f"<p>{e(subtitle)}</p>", f"<p>{e(dataset)}</p>",
             '<section id="models"><h2>The models</h2>', _html_table(model_rows(report.models)), "</section>",
             '<section id="before-after"><h2>Before / after</h2>',
             f"<p>{e(ev['rule'][0].upper() + ev['rule'][1:])}. Box / mask AP: COCO, in percent.</p>",
             _html_table(evaluation_rows(ev))]
    if ev.get("paired"):
        outcomes, differences = paired_tables(ev["paired"])
        parts += ["<h3>Is the difference real?</h3>", _html_table(outcomes), _html_table(differences),
                  f"<p><strong>{e(ev['paired']['summary'])}</strong></p>"]
    parts.append("</section>")
    if report.attention:
        parts += ['<section id="attention"><h2>Does the network look at the cracks? Per stage</h2>',
                  _html_image(attention_png, "per-stage attention alignment"),
                  f"<p>{e(attention_summary(report.attention))}</p>",
                  "<h3>AUROC of each map as a crack-pixel detector</h3>", _html_table(attention_rows(report.attention)),
                  "</section>"]
    if report.examples:
        parts.append('<section id="examples"><h2>Examples</h2>')
        for example in report.examples:
            parts += [f"<h3>{e(example.name)}</h3>", _html_image(example.png, example.name)]
        parts.append("<p>For each model: its detections; its maps at c2, c3, c4 over the image (the spatial "
                     "attention where the model has attention, else the feature energy); the Grad-CAM of its "
                     "best detection at c4.</p></section>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
             "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#E8ECF4}"
             "img{max-width:100%}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{style}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
