"""The results as people read them: tables (header and rows of text), Markdown, CSV rows and HTML.

One module for every measure's text, so the command line's Markdown, the app's tables and the
handout report say the same numbers the same way:

- evaluation (evaluation.results.Evaluation): `metric_rows`, `format_metric`, `evaluation_markdown`,
  `evaluation_csv_rows`;
- paired statistics (PairedStatistics, CountsPairing): `paired_rows`, `difference_rows` (each
  number with the digits it needs: significance.signed), `significance_rows` and `rule_text` (the
  one rule deciding "significant?"), `paired_markdown`, `counts_markdown`;
- attention alignment (Alignment): `map_order`, `format_stat`, `alignment_rows`,
  `alignment_markdown`, `alignment_csv_rows`;
- the handout's tables and its HTML: `model_rows`, `before_after_rows`, `paired_tables`,
  `auroc_rows`, `auroc_summary`, `html_table`, `html_image`.

Names from datasets and visitors are escaped here (evaluation.text_safety): Markdown and HTML show
them as text, CSV cells never start a formula.
"""

from __future__ import annotations

import base64
import html
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from evaluation.alignment import ALL_MEASURES, CAM_MEASURE_NAMES, MEASURE_NAMES, STAGES, map_name
from evaluation.results import (
    COCO_METRICS,
    COCO_TASKS,
    Alignment,
    CountsPairing,
    Evaluation,
    Interval,
    ModelEvaluation,
    PairedStatistics,
    Stat,
)
from evaluation.significance import (
    ALPHA,
    MIN_IMAGES_FOR_INTERVAL,
    RULE,
    accuracy_verdict,
    counts_summary,
    decimals_for,
    format_p,
    interval_verdict,
    paired_summary,
    signed,
)
from evaluation.text_safety import csv_row, markdown_code, markdown_text

Table = tuple[list[str], list[list[str]]]  # (header, rows), every cell text

# ---------------------------------------------------------------------------------------------
# Evaluation

_METRICS: tuple[tuple[str, Callable[[ModelEvaluation], object], str], ...] = (  # (row name, getter, kind)
    ("images", lambda m: m.image_level.images, "int"),
    ("TP", lambda m: m.image_level.tp, "int"),
    ("TN", lambda m: m.image_level.tn, "int"),
    ("FP", lambda m: m.image_level.fp, "int"),
    ("FN", lambda m: m.image_level.fn, "int"),
    ("accuracy", lambda m: m.image_level.accuracy, "percent"),
    ("precision", lambda m: m.image_level.precision, "percent"),
    ("recall", lambda m: m.image_level.recall, "percent"),
    *((f"{name} {metric}", (lambda m, t=task, k=metric: m.coco[t][k]), "ap")
      for task, name in COCO_TASKS for metric in COCO_METRICS),
    ("seconds / image (median)", lambda m: m.seconds_per_image, "seconds"),
)


def metric_rows(results: Evaluation) -> list[tuple[str, str, list]]:
    """(row name, kind, one raw value per model) for every row of the comparison table."""
    return [(name, kind, [get(m) for m in results.models.values()]) for name, get, kind in _METRICS]


def format_metric(value, kind: str) -> str:
    """One value of `metric_rows` as the reports and the app show it ("93.85%"; None: "n/a")."""
    if value is None:
        return "n/a"
    return {"int": lambda v: str(v), "percent": lambda v: f"{100 * v:.2f}%",
            "ap": lambda v: f"{v:.1f}", "seconds": lambda v: f"{v:.3f}"}[kind](value)


def evaluation_markdown(results: Evaluation) -> str:
    """evaluation.md: one column per model, one row per metric, then the paired statistics."""
    labels = [markdown_text(label) for label in results.models]  # names from visitors and files: as text
    ds = results.dataset
    lines = [
        f"# Evaluation on {markdown_text(ds.name or Path(ds.json).name)}",
        "",
        f"{ds.num_images} images: {ds.with_instances} with instances (crack), "
        f"{ds.without_instances} without. Image level: {results.rule}. "
        "Box / mask AP: COCO (pycocotools), in percent.",
        "",
        "| | " + " | ".join(labels) + " |",
        "| --- |" + " ---: |" * len(labels),
    ]
    for name, kind, values in metric_rows(results):
        lines.append(f"| {name} | " + " | ".join(format_metric(v, kind) for v in values) + " |")
    lines += ["", f"Images on which the models' verdicts differ: {results.disagreements} "
                  "(see disagreements.json).", ""]
    for label, m in results.models.items():
        lines.append(f"- **{markdown_text(label)}**: {markdown_text(m.model)}; config {markdown_code(m.config)}, "
                     f"weights {markdown_code(m.weights)}")
    if results.paired:
        lines += ["", paired_markdown(results.paired).rstrip("\n")]
    return "\n".join(lines) + "\n"


def evaluation_csv_rows(results: Evaluation) -> list[list]:
    """evaluation.csv: a header (metric, each model) and a row per metric, raw values ("" for None)."""
    return [csv_row(["metric", *results.models]),  # a label "=2+5" is text, not a formula
            *([name, *("" if v is None else v for v in values)] for name, _, values in metric_rows(results))]


# ---------------------------------------------------------------------------------------------
# Paired statistics


def _ci(interval: Interval | None, scale: float) -> tuple[str, str]:
    """(observed, "low to high") as text, each with the digits it needs (significance.signed);
    "n/a" where undefined."""
    if interval is None or interval.observed is None:
        return "n/a", "n/a"
    observed = signed(scale * interval.observed)
    if interval.low is None:
        return observed, "n/a"
    return observed, f"{signed(scale * interval.low)} to {signed(scale * interval.high)}"


def _differences(stats: PairedStatistics) -> list[tuple[str, str, Interval | None, float]]:
    """(key in the bootstrap, row name, interval, scale to points): accuracy, then each AP."""
    intervals = stats.bootstrap.intervals
    return [("accuracy", "accuracy (points)", intervals.get("accuracy"), 100),
            *((key, key, interval, 1) for key, interval in intervals.items() if key != "accuracy")]


def paired_rows(stats: PairedStatistics) -> list[tuple[str, str]]:
    """(what, value) rows for a small table of the paired outcomes and McNemar's p."""
    a, b = stats.models
    return [(f"images only {a} gets right", str(stats.only_a_right)),
            (f"images only {b} gets right", str(stats.only_b_right)),
            ("images both get right / both wrong", f"{stats.both_right} / {stats.both_wrong}"),
            ("McNemar exact p (two-sided)", format_p(stats.mcnemar_p))]


def difference_rows(stats: PairedStatistics) -> list[tuple[str, str, str]]:
    """(metric, observed B - A, interval) rows from the bootstrap: accuracy in points, then AP."""
    return [(name, *_ci(interval, scale)) for _, name, interval, scale in _differences(stats)]


def significance_rows(stats: PairedStatistics, alpha: float = ALPHA) -> list[str]:
    """Per row of `difference_rows`, whether it is significant in words, by the one rule
    (significance.RULE): McNemar's test for accuracy, the bootstrap interval for AP."""
    return [accuracy_verdict(stats, alpha)[1] if key == "accuracy"
            else interval_verdict(*((interval.low, interval.high) if interval else (None, None)), stats.images)[1]
            for key, _, interval, _ in _differences(stats)]


def rule_text(alpha: float = ALPHA) -> str:
    """The one rule deciding the "significant?" column, in a sentence."""
    return RULE.format(alpha=alpha, n=MIN_IMAGES_FOR_INTERVAL)


def paired_markdown(stats: PairedStatistics) -> str:
    """The paired statistics as a Markdown section."""
    stats = replace(stats, models=[markdown_text(m) for m in stats.models])  # names from visitors: as text
    a, b = stats.models
    boot = stats.bootstrap
    lines = ["## Paired statistics", "", f"Before: {a}. After: {b}. The same {stats.images} images.",
             "", "| | |", "| --- | ---: |"]
    lines += [f"| {what} | {value} |" for what, value in paired_rows(stats)]
    lines += ["", f"| difference {b} - {a} | observed | {100 * boot.confidence:.0f}% bootstrap interval "
                  "| significant? |", "| --- | ---: | ---: | --- |"]
    lines += [f"| {metric} | {observed} | {interval} | {said} |"
              for (metric, observed, interval), said in zip(difference_rows(stats), significance_rows(stats))]
    lines += ["", rule_text() + f" Bootstrap: {boot.resamples} resamples of the images (seed {boot.seed}), the "
                  "same images for both models; AP from pycocotools' per-image matches, not re-matched.", "",
              paired_summary(stats), ""]
    return "\n".join(lines)


def counts_markdown(result: CountsPairing, labels: tuple[str, str] = ("A", "B")) -> str:
    """What two image-level tables alone allow, as a Markdown section (the labels escaped)."""
    labels = a, b = tuple(markdown_text(label) for label in labels)
    lines = ["## From counts alone", "",
             f"{result.images} images ({result.positives} with cracks, {result.negatives} without): "
             f"{a} right on {result.correct_a}, {b} on {result.correct_b}.", "",
             f"| pairing | only {a} right | only {b} right | McNemar exact p |", "| --- | ---: | ---: | ---: |"]
    for name, p in (("best", result.best), ("worst", result.worst)):
        lines.append(f"| {name} case | {p.only_a_right} | {p.only_b_right} | {format_p(p.mcnemar_p)} |")
    return "\n".join(lines + ["", counts_summary(result, labels), ""])


# ---------------------------------------------------------------------------------------------
# Attention alignment


def map_order(results: Alignment) -> list[str]:
    """Every measured map name: attention stages first, then features, by stage; then the CAM rows
    by layer, in the order of their methods (RandomCAM, the floor, last)."""
    names = {n for per_model in results.summary.values() for n in per_model}
    captured = [map_name(source, stage) for source in ("attention", "feature") for stage in STAGES
                if map_name(source, stage) in names]
    methods = [m.lower() for m in results.settings.cam_methods or ["GradCAM"]]
    cams = sorted(names - set(captured), key=lambda n: (n.split(" ")[-1], methods.index(n.split(" ")[0])
                                                         if n.split(" ")[0] in methods else len(methods), n))
    return captured + cams


def format_stat(stat: Stat | None, digits: int = 3) -> str:
    """"0.912 [0.900, 0.923]": a mean and its interval; "—" where there is none."""
    if stat is None or stat.mean is None:
        return "—"
    digits = max(decimals_for(v, digits) for v in (stat.mean, stat.low, stat.high))  # never "-0.000"
    text = f"{stat.mean + 0.0:.{digits}f}"  # + 0.0: a -0.0 reads 0.000
    if stat.low is not None:
        text += f" [{stat.low + 0.0:.{digits}f}, {stat.high + 0.0:.{digits}f}]"
    return text


def alignment_rows(results: Alignment, measure: str, names: list[str] | None = None) -> list[list[str]]:
    """A row per map (`names`, default every map in `map_order`): its name, then each model's and
    each difference's mean [interval] of `measure`."""
    columns = [*results.summary, *results.differences]
    return [[name, *(format_stat(results.stat(column, name, measure)) for column in columns)]
            for name in (map_order(results) if names is None else names)]


def alignment_markdown(results: Alignment) -> str:
    """attention_report.md: one table per measure, a row per map (stage), a column per model and
    per difference; then the CAM measures, the models and their timings."""
    ds, settings = results.dataset, results.settings
    boot = settings.bootstrap
    lines = [
        f"# Attention alignment on {markdown_text(ds.name or Path(ds.json).name)}",
        "",
        f"{ds.measured} images with cracks measured; {ds.skipped_no_crack} without cracks skipped "
        f"(nothing to align with). Means over images with {round(100 * boot['confidence'])}% percentile "
        f"bootstrap intervals ({boot['resamples']} resamples, seed {boot['seed']}); differences are paired "
        "per image. " + settings.maps + ". " + settings.comparison[0].upper() + settings.comparison[1:]
        + f". Pointing game: the map's maximum within {settings.tolerance_px:g} px of a crack pixel.",
        "",
        f"Chance: crack area share {format_stat(results.chance['area_share'], 4)} (lift 1 and AUROC 0.5 are "
        f"chance); pointing game by chance {format_stat(results.chance['pointing'])}.",
    ]
    header = ["map", *map(markdown_text, [*results.models, *results.differences])]  # names as text
    cam_rows = [n for n in map_order(results) if not n.startswith(("attention ", "feature "))]
    tables = [(MEASURE_NAMES[measure], measure, None) for measure in ("lift", "auroc", "pointing", "mass_share")]
    tables += [(f"CAMs: {MEASURE_NAMES[measure]}", measure, cam_rows) for measure in CAM_MEASURE_NAMES
               if any(measure in per_map.get(n, {}) for per_map in results.summary.values() for n in cam_rows)]
    for title, measure, names in tables:
        lines += ["", f"## {title}", "", "| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
        lines += ["| " + " | ".join(row) + " |" for row in alignment_rows(results, measure, names)]
    lines.append("")
    if settings.cams:
        lines.append(settings.cams[0].upper() + settings.cams[1:] + ". Matched: " + ", ".join(
            f"{markdown_text(label)}: {m.matched_detections} of {m.annotations} annotations"
            for label, m in results.models.items()) + ".")
        lines.append("")
        lines.append("CAM seconds per image (median over images with a matched detection; the CAM, its "
                     "faithfulness metrics and sanity check, all layers): " + "; ".join(
                         f"{markdown_text(label)}: " + ", ".join(f"{method} {value:g} s"
                                                                  for method, value in m.cam_seconds_per_image.items())
                         for label, m in results.models.items()) + ".")
        lines.append("")
    for label, m in results.models.items():
        lines.append(f"- **{markdown_text(label)}**: {markdown_text(m.model)}; {m.seconds_per_image} s per "
                     f"image (median; capture and map measures, CAMs not included); config "
                     f"{markdown_code(m.config)}, weights {markdown_code(m.weights)}")
    return "\n".join(lines) + "\n"


def alignment_csv_rows(results: Alignment) -> list[list]:
    """attention_report.csv: one row per image, model and map, the per-image values behind the
    means ("" where undefined); labels and file names as text, never formulas."""
    rows = [["image_id", "file_name", "area_share", "pointing_chance", "model", "map", *ALL_MEASURES]]
    for image in results.images:
        for label, maps in image.models.items():
            for name, values in maps.items():
                rows.append([image.image_id, image.file_name, image.area_share, image.pointing_chance, label, name,
                             *("" if values.get(m) is None else values[m] for m in ALL_MEASURES)])
    return [csv_row(row) for row in rows]


# ---------------------------------------------------------------------------------------------
# The handout's tables (shared by its PDF and its HTML)

MIN_IMAGES_FOR_VERDICT = MIN_IMAGES_FOR_INTERVAL


def verdict(low: float | None, high: float | None, images: int | None) -> str:
    """Whether a paired difference is significant by its interval, in words (significance.interval_verdict)."""
    return interval_verdict(low, high, images)[1]


def before_after_rows(results: Evaluation) -> Table:
    """The before / after table: a row per metric, a column per model."""
    return ["", *results.models], [[name, *(format_metric(v, kind) for v in values)]
                                   for name, kind, values in metric_rows(results)]


def paired_tables(paired: PairedStatistics) -> tuple[Table, Table]:
    """The paired statistics as two tables: the outcomes with McNemar's p, and the bootstrap
    differences (after − before) each with its interval and its verdict by the one rule
    (`significance_rows`)."""
    outcomes = (["", "value"], [list(r) for r in paired_rows(paired)])
    rows = [[*row, said] for row, said in zip(difference_rows(paired), significance_rows(paired))]
    a, b = paired.models
    return outcomes, ([f"difference {b} − {a}", "observed", f"{100 * paired.bootstrap.confidence:.0f}% interval",
                       "significant?"], rows)


def auroc_rows(results: Alignment, measure: str = "auroc") -> Table:
    """Per map, each model's mean [interval] of `measure` and each paired difference with its verdict."""
    labels, diffs = list(results.summary), list(results.differences)
    rows = []
    for row, name in zip(alignment_rows(results, measure), map_order(results)):
        stats = [results.differences[d].get(name, {}).get(measure) for d in diffs]
        verdicts = [verdict(s.low, s.high, s.n) if s else "only one model has it" for s in stats]
        rows.append([*row, "; ".join(verdicts)])
    return ["map", *labels, *diffs, "difference significant?"], rows


def auroc_summary(results: Alignment) -> str:
    """In words: how many paired AUROC differences are significant, and against chance."""
    rows = auroc_rows(results)[1]
    compared = [r for r in rows if not r[-1].startswith("only")]
    labels = list(results.summary)
    significant = [f"{r[0]} {r[1 + len(labels)].split(' ')[0]}" for r in compared if r[-1].startswith("yes")]
    ds = results.dataset
    text = (f"{ds.measured} images with cracks measured ({ds.skipped_no_crack} without cracks skipped). "
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
    diffs = " and ".join(results.differences)
    return text + (f"{len(significant)} of {len(compared)} paired AUROC differences ({diffs}) have an interval that "
                   f"excludes 0: {', '.join(significant)}; the others do not. Each interval describes these images; "
                   "with several maps compared, one may exclude 0 by chance.")


def model_rows(infos: list) -> Table:
    """A column per model (before, after), a row per property of its evaluation.handout.ModelInfo."""
    header = ["", *(f"{'before' if i == 0 else 'after'}: {m.label}" for i, m in enumerate(infos))]
    rows = [["architecture", *(textwrap.fill(m.description, 60) for m in infos)],
            ["parameters", *(f"{m.parameters / 1e6:.2f} M" for m in infos)],
            ["of which attention", *(f"{m.attention_parameters / 1e3:.1f} k" for m in infos)],
            ["weights file", *(f"{m.weights.name} ({m.weights_bytes / 1e6:.1f} MB)" if m.weights
                               else "none: random weights" for m in infos)],
            ["classes", *(textwrap.fill(", ".join(m.class_names), 60) for m in infos)]]
    return header, rows


def html_table(content: Table) -> str:
    """A table as HTML, every cell escaped."""
    header, rows = content
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_image(png: bytes, alt: str) -> str:
    """A PNG embedded in HTML (base64), its alternative text escaped."""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
