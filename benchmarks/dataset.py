"""Dataset throughput of `evaluate` against detectron2's own: `python -m benchmarks.dataset`.

The shipped demo models on the first N images of the demo's test split (regenerated into a
temporary folder), every repetition running, interleaved:

- detectron2: per model, `inference_on_dataset(model, build_detection_test_loader(cfg, name),
  COCOEvaluator)`, its loader with the config's DATALOADER.NUM_WORKERS workers decoding and
  resizing each image (once per model);
- this project: `evaluation.evaluate.evaluate` over the same models and images, as `python -m app
  evaluate` runs it: the models loaded, the data checked, every image decoded once for all models in
  evaluation.loader's workers, the same COCOEvaluator, then the image-level counts, paired
  statistics and reports.

And the dataset attention report (`evaluation.attention_report.attention_report`, as `python -m app
attention-report` runs it: captures, every map measured against the crack masks, the reports and
figure written) for the pair, against detectron2's evaluation pass over the same images (those with
an annotation, the only ones the report measures). Not the same job: the report computes no AP and
detectron2 measures no map; detectron2's pass is the yardstick of what one pass of the models over
a dataset costs, and the ratio says what the report's pass costs next to it.

And the dissection (`evaluation.dissect.dissect` without knock-outs, as `python -m app dissect
--no-knockouts` runs it: captures, the quantile sketches, the IoU counts, the bootstrap, the reports
and a figure per model and layer) on every image, and the dissection with the attention report
from the same pass (`--attention-report`), each against detectron2's evaluation pass over the same
images: the issue asks the dissection to cost at most twice one evaluation pass (a ratio of at least
0.5x), the attention report at least 0.95x.

Both load the models from their files in each repetition (the same loader, so the same models).
Throughput is images / second of wall time; the ratio is this project's over detectron2's, per
repetition: median (interquartile range). The AP each side computes is compared too.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import statistics
import tempfile
from pathlib import Path

from benchmarks.common import interleaved, machine, ratio
from demo.dataset import DEMO_SEED, DEMO_SIZE
from demo.generator import generate_dataset
from evaluation.attention_report import attention_report
from evaluation.dissect import dissect
from evaluation.evaluate import at_score_threshold, evaluate
from evaluation.loader import default_workers
from models import get_config, load
from models.zoo import NAMED
from training.data import register_coco_dataset

from detectron2.data import build_detection_test_loader
from detectron2.evaluation import COCOEvaluator, inference_on_dataset

PAIR = ("demo-baseline", "demo-bam")
THRESHOLD = 0.5


def demo_images(root: Path, count: int) -> tuple[Path, Path]:
    """The first `count` images of the demo's test split (the same pixels as demo_split("test"))."""
    generate_dataset(root, n_train=0, n_val=0, n_test=count, seed=DEMO_SEED, size=DEMO_SIZE)
    return root / "test" / "annotations.json", root / "test" / "images"


def detectron2_evaluation(specs, json_path: Path, image_dir: Path) -> dict:
    """{label: COCO results} from detectron2's inference_on_dataset, one pass per model."""
    name = register_coco_dataset(json_path, image_dir)
    results = {}
    for spec in specs:
        model, cfg = at_score_threshold(load(spec), THRESHOLD)
        evaluator = COCOEvaluator(name, tasks=("bbox", "segm"), distributed=True, output_dir=None,
                                  use_fast_impl=False)  # as evaluate's: pycocotools
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its tables
            results[spec.label] = inference_on_dataset(model, build_detection_test_loader(cfg, name), evaluator)
    return results


def annotated_only(json_path: Path, out: Path) -> Path:
    """A copy of the COCO file keeping the images with at least one annotation."""
    data = json.loads(json_path.read_text())
    kept = {a["image_id"] for a in data["annotations"]}
    data["images"] = [image for image in data["images"] if image["id"] in kept]
    out.write_text(json.dumps(data))
    return out


def _same(ours: float | None, theirs: float) -> bool:
    """evaluate's metric (None where undefined) against detectron2's (NaN there)."""
    return ours == theirs or (ours is None and math.isnan(theirs))


def _same_ap(found: dict) -> str:
    """'yes' when evaluate's AP, AP50 and AP75 are detectron2's for every model and task."""
    same = all(_same(found["ours"].models[label].coco[task][metric], value)
               for label, coco in found["detectron2"].items() for task in ("bbox", "segm")
               for metric, value in coco[task].items() if metric in ("AP", "AP50", "AP75"))
    return "yes" if same else "NO"


def report(count: int, repetitions: int, only: tuple[str, ...] = ()) -> list[str]:
    """The benchmark's table as Markdown lines (only the rows whose name holds one of `only`, if given)."""
    lines = [f"Dataset throughput: the demo models on the first {count} demo test images ({DEMO_SIZE[0]}x"
             f"{DEMO_SIZE[1]}), {repetitions} interleaved repetitions, models loaded in each; ratio: this "
             "project's throughput over detectron2's in the same repetition, median (interquartile range)", "",
             "| what | images | detectron2 inference_on_dataset (images/s) | this project (images/s) "
             "| ratio, wall time | ratio, CPU time | same AP |", "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    workers = []
    with tempfile.TemporaryDirectory() as tmp:
        json_path, image_dir = demo_images(Path(tmp), count)
        annotated = annotated_only(json_path, Path(tmp) / "annotated.json")

        def evaluation(specs, images_json, found):  # as the command: the models loaded, then run
            found["ours"] = evaluate([load(spec) for spec in specs], images_json, image_dir, Path(tmp) / "out",
                                     threshold=THRESHOLD, progress=False)

        def attention(specs, images_json, found):
            attention_report([load(spec) for spec in specs], images_json, image_dir, Path(tmp) / "report",
                             progress=False)

        def dissection(specs, images_json, found, alignment=False):
            dissect([load(spec) for spec in specs], images_json, image_dir, Path(tmp) / "dissection", progress=False,
                    alignment_out=Path(tmp) / "shared" if alignment else None)

        rows = {"evaluate, one model (demo-bam)": (PAIR[1:], json_path, evaluation),
                "evaluate, the demo pair": (PAIR, json_path, evaluation),
                "attention report, the demo pair (yardstick: detectron2's evaluation)": (PAIR, annotated, attention),
                "dissection, the demo pair, no knock-outs (yardstick: detectron2's evaluation)":
                    (PAIR, json_path, dissection),
                "dissection and attention report in one pass, the demo pair (yardstick: detectron2's evaluation)":
                    (PAIR, json_path, lambda *a: dissection(*a, alignment=True))}
        rows = {what: row for what, row in rows.items() if not only or any(word in what for word in only)}
        for what, (names, images_json, run) in rows.items():
            chosen = [NAMED[n] for n in names]
            found = {}

            def ours(chosen=chosen, found=found, images_json=images_json, run=run):
                run(chosen, images_json, found)

            def theirs(chosen=chosen, found=found, images_json=images_json):
                found["detectron2"] = detectron2_evaluation(chosen, images_json, image_dir)

            times = interleaved({"detectron2": theirs, "ours": ours}, repetitions=repetitions)
            n = len(json.loads(Path(images_json).read_text())["images"])
            d2, us = times["detectron2"], times["ours"]
            lines.append(f"| {what} | {n} | {n / statistics.median(d2.wall):.2f} | "
                         f"{n / statistics.median(us.wall):.2f} | {ratio(d2.wall, us.wall)} | "
                         f"{ratio(d2.cpu, us.cpu)} | {_same_ap(found) if 'ours' in found else '-'} |")
            cfgs = [get_config(spec.config) for spec in chosen]
            workers.append(f"{what}: detectron2 {max(cfg.DATALOADER.NUM_WORKERS for cfg in cfgs)} per model, "
                           f"this project {default_workers(cfgs)}")
    lines += ["", "Decoding workers (each side's default): " + "; ".join(workers) + ". CPU time: this process's "
              "only (the workers' decoding is not in it)."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--only", nargs="+", default=(), metavar="WORD",
                        help="only the rows whose name holds one of these words (e.g. dissection)")
    args = parser.parse_args()
    print(machine())
    print("\n".join(report(args.images, args.repetitions, tuple(args.only))))


if __name__ == "__main__":
    main()
