"""Inside the attention, over a labelled COCO set: Network Dissection of each model
(evaluation.dissection), the knock-outs evaluated (evaluation.knockout through evaluation.evaluate),
and their reports (evaluation.dissection_report, evaluation.dissection_figure).

One pass over the images (evaluation.image_pass): each image decoded once, each model's ResNet run
once on it, the capture feeding the model's DissectionAccumulator and, where the attention report
is asked for too (`alignment_out`), that report's measures: the two share the pass. Under
training.launch each process takes its share of the images; the accumulators are gathered and
merged on the main process (the same results as one process), which sends the results back to
every process so that all of them take part in the knock-outs' evaluations, as evaluate shares
its images.

`dissect()` writes to out_dir: dissection.json (DissectionReport), dissection.csv (per model, layer
and channel), dissection.md, figures/<model>_<layer>.png / .pdf (per layer: crack IoU sorted,
units marked, attention vs IoU), dissection_units.png / .pdf, and with knock-outs
knockouts.csv, figures/<model>_knockouts.png / .pdf and each knock-out's evaluation under
knockouts/<model>/<knock-out>/.
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from evaluation.dissection import DissectionAccumulator, DissectionResult, DissectionSettings, dataset_cells
from evaluation.dissection_report import (
    FILES,
    KNOCKOUT_CSV,
    UNITS_FIGURE,
    DissectedSet,
    DissectionReport,
    KnockOutSettings,
    ModelDissection,
    channel_csv_rows,
    dissection_markdown,
    knockout_csv_rows,
)
from evaluation.image_pass import PassImage, capture_pass, gather
from evaluation.masks import AnnotationMasks
from evaluation.runner import Stopwatch, check_models
from models import LoadedModel  # (models makes detectron2 importable: before it)
from training.data import coco_subset, read_categories, read_dataset_json, require_valid
from viz.catalogue import get_layer, layer_catalogue

from detectron2.utils import comm

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is being done)


def slug(text: str) -> str:
    """A file name part from a label: "Mask R-CNN + BAM (demo)" -> "mask-r-cnn-bam-demo"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "model"


class DissectionMeasure:
    """The dissection as a measure of the shared pass: one accumulator per model.

    Args:
        models: the loaded models.
        settings: what to compute.
        image_sizes: (height, width) of every image of the set (all processes together): each
            accumulator's `total_cells`, so that it keeps only the cells that can still matter.

    Raises:
        viz.catalogue.UnknownLayerError: a layer a model does not have (with the valid ones).
    """

    def __init__(self, models: Sequence[LoadedModel], settings: DissectionSettings,
                 image_sizes: Sequence[tuple[int, int]]):
        self.settings = settings
        self.accumulators = {}
        for m in models:
            catalogue = layer_catalogue(m.model)
            strides = {layer: get_layer(catalogue, layer).stride for layer in settings.layers}
            self.accumulators[m.label] = DissectionAccumulator(
                settings, total_cells=dataset_cells(image_sizes, m.cfg, strides))

    def add(self, item: PassImage) -> None:
        crack = item.crack
        for label, accumulator in self.accumulators.items():
            accumulator.add(item.captures[label], crack, image_id=item.entry["id"])

    def finish(self, watch: Stopwatch) -> tuple[dict[str, DissectionResult], Stopwatch]:
        """Every process's accumulators merged on the main process; its results sent to all.

        Returns:
            (label -> DissectionResult, the timings of every process), in every process.
        """
        for accumulator in self.accumulators.values():
            accumulator.prune()  # less to send
        parts, watch = gather(self.accumulators, watch)
        results = None
        if parts is not None:
            merged = parts[0]
            for part in parts[1:]:
                for label, accumulator in part.items():
                    merged[label].merge(accumulator)
            results = ({label: accumulator.result() for label, accumulator in merged.items()}, watch.seconds)
        if comm.get_world_size() > 1:
            results = comm.all_gather(results)[0]
        found, seconds = results
        watch = Stopwatch(list(seconds))
        watch.seconds.update(seconds)
        return found, watch


def check_knockouts(models: Sequence[LoadedModel], settings: DissectionSettings, knockouts: KnockOutSettings,
                    json_path: str | Path) -> None:
    """ValueError with a sentence where the knock-outs cannot run (before the pass, not after it):
    a layer not dissected, k out of range for a layer (at most half its channels: the random units
    come from the others), a model for another number of classes than the set has (its evaluation
    would refuse it)."""
    for layer in knockouts.layers:
        if layer not in settings.layers:
            raise ValueError(f"knock-out layer {layer} is not dissected; choose from {', '.join(settings.layers)}.")
    if knockouts.draws < 1:
        raise ValueError(f"draws must be at least 1 (got {knockouts.draws}).")
    classes = len(read_categories(json_path))
    for m in models:
        if m.cfg.MODEL.ROI_HEADS.NUM_CLASSES != classes:
            raise ValueError(f"{m.label}: the model predicts {m.cfg.MODEL.ROI_HEADS.NUM_CLASSES} classes but "
                             f"{Path(json_path).name} has {classes} categories: its knock-outs cannot be evaluated "
                             "(without knock-outs it is dissected all the same).")
        catalogue = layer_catalogue(m.model)
        for layer in knockouts.layers:
            channels = get_layer(catalogue, layer).channels
            if not 0 < knockouts.k <= channels // 2:
                raise ValueError(f"k must be between 1 and {channels // 2}, half of {layer}'s {channels} channels "
                                 f"in {m.label} (got {knockouts.k}).")


def first_images(json_path: Path, limit: int | None, folder: Path) -> Path:
    """The COCO file, or (with `limit` below its image count) a copy of its first `limit` images
    and their annotations: what the knock-outs' evaluations run on (the pass's images)."""
    data = read_dataset_json(json_path)
    if limit is None or limit >= len(data["images"]):
        return Path(json_path)
    path = Path(folder) / f"first_{limit}_{Path(json_path).name}"
    if comm.is_main_process():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(coco_subset(data, data["images"][:limit])))
    comm.synchronize()  # the others read it once written
    return path


def run_knockouts(models: Sequence[LoadedModel], results: dict[str, DissectionResult], json_path: Path,
                  image_dir: Path, out_dir: Path, knockouts: KnockOutSettings, *, progress: bool,
                  on_progress: Progress | None, workers: int | None) -> dict[str, list] | None:
    """Every knock-out of every model evaluated with the model (evaluation.evaluate, its paired
    statistics), each on a copy of the model: the models given are not changed.

    Returns:
        label -> its KnockOutRows, on the main process (None on the others).
    """
    from evaluation.evaluate import at_score_threshold, evaluate
    from evaluation.knockout import knockout_row_from_evaluation, variant
    from evaluation.knockout import knockouts as make_knockouts

    # each model with its score cut at most the threshold, once: evaluate then reloads nothing, and
    # every knocked-out copy keeps the cut
    bases = {m.label: at_score_threshold(m, knockouts.threshold) for m in models}
    planned = [(bases[m.label], ko) for m in models for ko in make_knockouts(
        m.model, results[m.label], layers=knockouts.layers, k=knockouts.k, draws=knockouts.draws, seed=knockouts.seed,
        mean_ablation=knockouts.mean_ablation)]
    rows: dict[str, list] = {m.label: [] for m in models}

    def step(n: int, what: str):  # the n-th evaluation's (done, total) as a share of them all
        return lambda done, total: on_progress((n + done / max(total, 1)) / len(planned),
                                               f"{what}: {done} of {total} images")

    known = {label: {} for label in bases}  # each unchanged model runs over the images once, not once per knock-out
    for n, (base, ko) in enumerate(planned):
        what = f"Knock-out {n + 1} of {len(planned)}: {base.label} − {ko.label}"
        if progress and comm.is_main_process():
            print(what, flush=True)
        folder = out_dir / "knockouts" / slug(base.label) / f"{n + 1:02d}-{slug(ko.label)}"
        found = evaluate([base, variant(base, ko)], json_path, image_dir, folder, threshold=knockouts.threshold,
                         progress=progress, on_progress=step(n, what) if on_progress else None, workers=workers,
                         known={base.label: known[base.label]})
        if found is not None:
            rows[base.label].append(knockout_row_from_evaluation(found, ko))
    return rows if comm.is_main_process() else None


def dissect(models: Sequence[LoadedModel], json_path: str | Path, image_dir: str | Path, out_dir: str | Path, *,
            settings: DissectionSettings | None = None, knockouts: KnockOutSettings | None = None,
            limit: int | None = None, alignment_out: str | Path | None = None, tolerance: float = 15.0,
            alignment_resamples: int = 2000, progress: bool = True, on_progress: Progress | None = None,
            workers: int | None = None) -> DissectionReport | None:
    """Dissect every model over a labelled COCO set, evaluate the knock-outs, write the reports.

    Under training.launch every process calls this (see the module docstring); the main process
    writes the reports and returns them, the others return None.

    Args:
        models: the loaded models, labels distinct (the baseline first, as the reports show them).
        json_path, image_dir: the labelled COCO set; out_dir: where the reports go.
        settings: the dissection's (default DissectionSettings()).
        knockouts: which knock-outs to evaluate; None: none (they cost an evaluation of two models each).
        limit: only the first `limit` images of the file.
        alignment_out: also the attention report (evaluation.attention_report, without CAMs) from the
            same pass, written there; tolerance, alignment_resamples: its pointing game's tolerance
            and bootstrap resamples.
        progress: tqdm bars and a line per knock-out on the terminal.
        on_progress: (fraction done, what is being done) after each image (the app's progress bar).
        workers: decoding processes (evaluation.loader.load_images; 0: this process).

    Returns:
        The DissectionReport (dissection.json's content; None in the other processes).

    Raises:
        training.data.DataProblemsError: problems in the data.
        viz.catalogue.UnknownLayerError: a layer a model does not have.
        ValueError: a sentence for the user (no model, labels that repeat, knock-outs that cannot run).
    """
    from evaluation.attention_report import AlignmentMeasure

    labels = check_models(models, "dissect")
    settings = settings or DissectionSettings()
    for m in models:  # an unknown layer first, with the valid names
        catalogue = layer_catalogue(m.model)
        for layer in settings.layers:
            get_layer(catalogue, layer)
    alignment = (AlignmentMeasure(models, json_path, image_dir, limit=limit, tolerance=tolerance,
                                  resamples=alignment_resamples) if alignment_out is not None else None)
    require_valid((json_path, image_dir))
    if knockouts is not None:
        check_knockouts(models, settings, knockouts, json_path)
    found = AnnotationMasks(json_path, limit=limit)
    measure = DissectionMeasure(models, settings, [(e["height"], e["width"]) for e in found.entries])
    out_dir = Path(out_dir)
    say = on_progress or (lambda fraction, text: None)
    share = 0.9 if knockouts is None else 0.3  # of the progress bar: the pass, then the knock-outs

    start = time.perf_counter()
    watch = Stopwatch(labels)
    for item in capture_pass(models, found, image_dir, wanted=lambda entry: True, watch=watch,
                             desc="Dissecting", progress=progress, workers=workers,
                             on_progress=lambda done, total: say(share * done / max(total, 1),
                                                                 f"Dissecting: {done} of {total} images")):
        measure.add(item)
        if alignment is not None:
            alignment.add(item)
    if alignment is not None:
        alignment.finish(len(found.entries), watch, alignment_out)
    say(share, "Computing the thresholds, the IoU and the correlations…")
    results, watch = measure.finish(watch)
    seconds = {"pass": time.perf_counter() - start}

    rows = None
    if knockouts is not None:
        start = time.perf_counter()
        subset = first_images(Path(json_path), limit, out_dir / "knockouts")
        rows = run_knockouts(models, results, subset, Path(image_dir), out_dir, knockouts, progress=progress,
                             on_progress=(lambda fraction, text: say(share + (0.95 - share) * fraction, text)),
                             workers=workers)
        seconds["knock-outs"] = time.perf_counter() - start
    if not comm.is_main_process():
        return None
    report = DissectionReport(
        dataset=DissectedSet(str(json_path), str(image_dir), len(found.entries),
                             sum(bool(found.annotated(e)) for e in found.entries), limit),
        models={m.label: ModelDissection(str(m.spec.config), m.spec.weights_text, str(m.summary),
                                         watch.median(m.label), results[m.label],
                                         None if rows is None else rows[m.label]) for m in models},
        knockout_settings=knockouts, seconds={name: round(value, 2) for name, value in seconds.items()})
    say(0.95, "Writing the reports and figures…")
    write_reports(report, out_dir)
    say(1.0, "Done.")
    return report


def figure_stems(report: DissectionReport, out_dir: str | Path) -> dict[str, Path]:
    """Each figure's path without suffix, by name: "<label> <layer>", "units", "<label> knock-outs"."""
    out_dir = Path(out_dir)
    stems = {f"{label} {layer}": out_dir / "figures" / f"{slug(label)}_{layer}"
             for label, m in report.models.items() for layer in m.result.layers}
    stems["units"] = out_dir / UNITS_FIGURE
    stems.update({f"{label} knock-outs": out_dir / "figures" / f"{slug(label)}_knockouts"
                  for label, m in report.models.items() if m.knockouts})
    return stems


def write_reports(report: DissectionReport, out_dir: str | Path) -> list[Path]:
    """FILES, the figures (PNG and PDF) and, with knock-outs, KNOCKOUT_CSV in `out_dir`.

    Returns:
        The paths written.
    """
    from evaluation.dissection_figure import knockout_figure, layer_figure, save_figure, units_figure

    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in FILES]
    with paths[1].open("w", newline="") as f:
        csv.writer(f).writerows(channel_csv_rows(report))
    paths[2].write_text(dissection_markdown(report))
    if report.knockout_settings is not None:
        paths.append(out_dir / KNOCKOUT_CSV)
        with paths[-1].open("w", newline="") as f:
            csv.writer(f).writerows(knockout_csv_rows(report))
    stems = figure_stems(report, out_dir)
    for label, m in report.models.items():
        for layer in m.result.layers:
            paths += save_figure(layer_figure(m.result, layer, label=label), stems[f"{label} {layer}"])
        if m.knockouts:
            paths += save_figure(knockout_figure(m.knockouts, title=f"Knock-outs of {label}"),
                                 stems[f"{label} knock-outs"])
    paths += save_figure(units_figure({label: m.result for label, m in report.models.items()}), stems["units"])
    report.seconds["writing"] = round(time.perf_counter() - start, 2)
    paths[0].write_text(json.dumps(report.to_json(), allow_nan=False) + "\n")  # last: with every timing
    return paths
