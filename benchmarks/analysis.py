"""Cost of looking inside: `python -m benchmarks.analysis`.

On the R-18 BAM config at 512 x 512, against detectron2's plain no_grad inference timed in the
same repetition (interleaved): inference with every capture on, and a full analysis (predictions
+ all maps + one Grad-CAM).
Then the peak memory of a full analysis of both demo-sized models at 1024 x 1024, measured
in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

from benchmarks.common import build, interleaved, machine, plain_predictor, ratio_columns, test_image

RUNS = {"plain": "plain detectron2 inference (DefaultPredictor, no_grad)",
        "captures": "capture all maps (c2-c5, pre-attention, attention, p2-p6)",
        "analysis": "full analysis: predictions + all maps + one Grad-CAM (c4)"}


def timings(size: int, repetitions: int) -> list[str]:
    """The three runs of RUNS interleaved, each against plain inference in the same repetition."""
    from viz.analysis import analyze
    from viz.capture import capture

    model, cfg = build("mask_rcnn_R_18_FPN_bam", size)
    image = test_image(size)
    image_bgr = image[:, :, ::-1].copy()
    predictor = plain_predictor(model, cfg)
    times = interleaved({
        "plain": lambda: predictor(image_bgr),
        "captures": lambda: capture(model, cfg, image, fpn=True),
        "analysis": lambda: analyze(model, cfg, image, label="bam", score_threshold=0.0, cam_layers=("c4",),
                                    fpn=True),
    }, repetitions=repetitions)
    lines = [f"Cost of looking inside: R-18 BAM, {size}x{size}, {repetitions} interleaved repetitions; "
             "ratio to plain inference in the same repetition: median (interquartile range)",
             "", "| what | median seconds | vs. plain, wall time | vs. plain, CPU time |",
             "| --- | ---: | ---: | ---: |"]
    for name, what in RUNS.items():
        lines.append(f"| {what} | {ratio_columns(times[name], times['plain'])} |")
    return lines


def peak_memory_child(size: int) -> None:
    """Run in a fresh process: full analysis of a BAM model and its baseline, then print peak RSS."""
    from viz.analysis import analyze, compare

    image = test_image(size)
    loaded = [build(name, size) for name in ("mask_rcnn_R_18_FPN_bam", "mask_rcnn_R_18_FPN")]
    results = [analyze(m, c, image, label=str(i), score_threshold=0.0, fpn=True, cam_layers=("c4", "c5"))
               for i, (m, c) in enumerate(loaded)]
    compare(results[0], results[1], (loaded[0][0], loaded[1][0]), cam_layers=("c4",))
    print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def peak_memory(size: int) -> str:
    out = subprocess.run([sys.executable, "-m", "benchmarks.analysis", "--memory-child",
                          "--memory-size", str(size)], capture_output=True, text=True, check=True)
    peak = json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mib"]
    return f"Peak memory, full analysis of both R-18 models (BAM and baseline) at {size}x{size}: {peak:.0f} MiB"


def report(size: int, repetitions: int, memory_size: int) -> list[str]:
    """The benchmark's table and memory line as Markdown lines."""
    return [*timings(size, repetitions), "", peak_memory(memory_size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--memory-size", type=int, default=1024)
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        peak_memory_child(args.memory_size)
        return
    print(machine())
    print("\n".join(report(args.size, args.repetitions, args.memory_size)))


if __name__ == "__main__":
    main()
