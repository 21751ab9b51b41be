"""CPU inference time of the shipped configs with and without attention: `python -m benchmarks.inference`.

detectron2's DefaultPredictor on one size x size image, every config once per repetition
(interleaved), each compared with the plain model of its depth timed in the same repetition.
Random weights with a fixed workload (see benchmarks.common.build).
"""

from __future__ import annotations

import argparse

from benchmarks.common import build, interleaved, machine, plain_predictor, ratio_columns, test_image

CONFIGS = ("mask_rcnn_R_18_FPN", "mask_rcnn_R_18_FPN_bam", "mask_rcnn_R_18_FPN_cbam",
           "mask_rcnn_R_50_FPN", "mask_rcnn_R_50_FPN_bam", "mask_rcnn_R_50_FPN_cbam")


def report(size: int, repetitions: int) -> list[str]:
    """The benchmark's table as Markdown lines."""
    image_bgr = test_image(size)[:, :, ::-1].copy()
    predictors, params = {}, {}
    for name in CONFIGS:
        model, cfg = build(name, size)
        predictors[name] = plain_predictor(model, cfg)
        params[name] = sum(p.numel() for p in model.parameters()) / 1e6
    times = interleaved({name: (lambda p=p: p(image_bgr)) for name, p in predictors.items()},
                          repetitions=repetitions)
    lines = [f"Inference (DefaultPredictor), {size}x{size}, {repetitions} interleaved repetitions; "
             "ratio to the plain model of the same depth in the same repetition: median (interquartile range)",
             "", "| config | parameters (M) | median seconds | vs. plain, wall time | vs. plain, CPU time |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name in CONFIGS:
        plain = name.replace("_cbam", "").replace("_bam", "")
        lines.append(f"| {name} | {params[name]:.2f} | {ratio_columns(times[name], times[plain])} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    print(machine())
    print("\n".join(report(args.size, args.repetitions)))


if __name__ == "__main__":
    main()
