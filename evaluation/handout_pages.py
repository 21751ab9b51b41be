"""The handout report drawn: A4 landscape pages with matplotlib (one PDF), and the same content as
one self-contained HTML file (the figures as base64 PNGs). The tables are evaluation.formatting's,
so the PDF, the HTML, the app and the Markdown reports say the same numbers the same way."""

from __future__ import annotations

import html
import io
import textwrap
from datetime import date
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from demo.statement import DEMO_MODELS
from evaluation.dissection_report import handout_html, handout_picture, handout_text_pages
from evaluation.formatting import (
    auroc_rows,
    auroc_summary,
    before_after_rows,
    html_image,
    html_table,
    model_rows,
    paired_tables,
    rule_text,
)
from evaluation.handout import FIGURE_DPI, Report
from evaluation.significance import paired_summary
from models.zoo import NAMED

PAGE = (11.69, 8.27)  # A4 landscape, inches


def _png(fig: Figure) -> bytes:
    from viz.figures import figure_bytes

    return figure_bytes(fig, "png", dpi=FIGURE_DPI)


def write_report(report: Report, *, title: str | None = None, limit: int | None = None) -> None:
    """report.pdf and report.html from a Report's content; sets report.pages.

    Args:
        report: what `evaluation.handout.build_report` gathered.
        title: the first page's (default: "Mask R-CNN with and without BAM: what changes").
        limit: the evaluation ran on the first `limit` images only (said under the title).
    """
    from evaluation.alignment_figure import alignment_figure

    title = title or "Mask R-CNN with and without BAM: what changes"
    before, after = (m.label for m in report.models)
    attention_png = _png(alignment_figure(report.attention)) if report.attention else None
    subtitle = f"{before} (before) vs {after} (after) · {date.today().isoformat()}"
    dataset = _dataset_sentence(report, limit)
    lacking = lacking_class(report.evaluation)

    statement = demo_statement(report)
    pages = [_text_page(title, [("text", subtitle), *((("text", statement),) if statement else ()), ("text", dataset),
                                *((("warning", lacking),) if lacking else ()),
                                ("heading", "The models"), ("table", model_rows(report.models))])]
    ev = report.evaluation
    blocks = [("text", f"{ev.dataset.num_images} images ({ev.dataset.with_instances} with cracks, "
                       f"{ev.dataset.without_instances} without). {ev.rule[0].upper()}{ev.rule[1:]}. "
                       "Box / mask AP: COCO, in percent."),
              ("table", before_after_rows(ev))]
    paired = ev.paired
    if not paired:
        blocks += [("text", "No paired statistics: the evaluation did not compare exactly two models.")]
    pages.append(_text_page("Before / after", blocks))
    if paired:
        outcomes, differences = paired_tables(paired)
        pages.append(_text_page("Is the difference real?", [
            ("text", f"Before: {paired.models[0]}. After: {paired.models[1]}. The same {paired.images} "
                     "images; an image is right when its crack / no-crack verdict is."),
            ("table", outcomes), ("table", differences), ("text", rule_text()), ("heading", "In words"),
            ("text", paired_summary(paired)),
            ("text", f"Bootstrap: {paired.bootstrap.resamples} resamples of the images (seed "
                     f"{paired.bootstrap.seed}), the same images for both models; AP re-counted from "
                     "pycocotools' per-image matches.")]))
    if report.attention:
        pages.append(_picture_page("Does the network look at the cracks? Per stage", attention_png,
                                   auroc_summary(report.attention)))
        pages.append(_text_page("Per stage, AUROC of each map as a crack-pixel detector",
                                [("table", auroc_rows(report.attention)),
                                 ("text", "Means over images with 95% bootstrap intervals; differences paired "
                                          "per image. attention cN: the spatial attention of stage N; feature "
                                          "cN: the mean absolute activation of stage output cN.")]))
    if report.dissection:  # evaluation.dissection_report's pages
        pages.append(_picture_page(*handout_picture(report.dissection)))
        pages += [_text_page(title, blocks) for title, blocks in handout_text_pages(report.dissection)]
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


def demo_statement(report: Report) -> str | None:
    """What the demo models are (demo.statement, the app's first page says it too), when the report
    shows one of them; None for the user's own models."""
    shipped = {spec.weights.resolve() for spec in NAMED.values() if spec.weights}
    shown = any(m.weights is not None and Path(m.weights).resolve() in shipped for m in report.models)
    return DEMO_MODELS if shown else None


def _dataset_sentence(report: Report, limit: int | None) -> str:
    ds = report.evaluation.dataset
    text = f"Dataset: {ds.label}" + ("" if ds.name else f", images in {ds.images}")  # an upload's folder: no news
    if limit:
        text += (f" (a sample of {limit} images, as many with cracks as without where the set allows, spread "
                 "evenly over it: a quick version; intervals are wide on few images)")
    else:
        text += f" (all {ds.num_images} images)"
    return text + "."


def lacking_class(evaluation) -> str | None:
    """What a set without images with cracks, or without images free of them, cannot show (None
    when it has both): said on the report's first page."""
    ds = evaluation.dataset
    if ds.num_images and not ds.without_instances:
        return (f"Every one of these {ds.num_images} images has a crack: there are no true negatives and no false "
                "alarms to count (TN = FP = 0), so precision is 100% for any model that finds something and "
                "accuracy is only the recall. Evaluate on images without cracks too to compare false alarms.")
    if ds.num_images and not ds.with_instances:
        return (f"None of these {ds.num_images} images has a crack: recall and AP are undefined and the attention "
                "cannot be compared with cracks; accuracy only counts false alarms. Evaluate on images with "
                "cracks too.")
    return None


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
        elif kind in ("text", "warning"):
            wrapped = textwrap.fill(str(content), 150)
            style = {"color": "#8A1C1C", "weight": "bold"} if kind == "warning" else {}
            fig.text(0.05, y, wrapped, fontsize=9.5, va="top", linespacing=1.4, **style)
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


def _html(report: Report, title: str, subtitle: str, dataset: str, attention_png: bytes | None) -> str:
    e = html.escape
    ev = report.evaluation
    lacking = lacking_class(ev)
    statement = demo_statement(report)
    parts = [f"<h1>{e(title)}</h1>", f"<p>{e(subtitle)}</p>",
             *((f'<p class="statement">{e(statement)}</p>',) if statement else ()), f"<p>{e(dataset)}</p>",
             *((f'<p class="warning"><strong>{e(lacking)}</strong></p>',) if lacking else ()),
             '<section id="models"><h2>The models</h2>', html_table(model_rows(report.models)), "</section>",
             '<section id="before-after"><h2>Before / after</h2>',
             f"<p>{e(ev.rule[0].upper() + ev.rule[1:])}. Box / mask AP: COCO, in percent.</p>",
             html_table(before_after_rows(ev))]
    if ev.paired:
        outcomes, differences = paired_tables(ev.paired)
        parts += ["<h3>Is the difference real?</h3>", html_table(outcomes), html_table(differences),
                  f"<p>{e(rule_text())}</p>", f"<p><strong>{e(paired_summary(ev.paired))}</strong></p>"]
    parts.append("</section>")
    if report.attention:
        parts += ['<section id="attention"><h2>Does the network look at the cracks? Per stage</h2>',
                  html_image(attention_png, "per-stage attention alignment"),
                  f"<p>{e(auroc_summary(report.attention))}</p>",
                  "<h3>AUROC of each map as a crack-pixel detector</h3>", html_table(auroc_rows(report.attention)),
                  "</section>"]
    if report.dissection:
        parts.append(handout_html(report.dissection))
    if report.examples:
        parts.append('<section id="examples"><h2>Examples</h2>')
        for example in report.examples:
            parts += [f"<h3>{e(example.name)}</h3>", html_image(example.png, example.name)]
        parts.append("<p>For each model: its detections; its maps at c2, c3, c4 over the image (the spatial "
                     "attention where the model has attention, else the feature energy); the Grad-CAM of its "
                     "best detection at c4.</p></section>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
             "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#E8ECF4}"
             "img{max-width:100%}.warning{color:#8A1C1C}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{style}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
