"""CPU inference time of the shipped configs with and without BAM: `python -m benchmarks.inference`.

Median of several runs of detectron2's DefaultPredictor at 512 x 512, random weights, with the
score threshold at 0 so that every model runs its mask head on exactly 100 detections (the
slowest case, and the same work for every model whatever its random scores).
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.common import build, median_seconds, plain_predictor, test_image

CONFIGS = ("mask_rcnn_R_18_FPN", "mask_rcnn_R_18_FPN_bam", "mask_rcnn_R_18_FPN_cbam",
           "mask_rcnn_R_50_FPN", "mask_rcnn_R_50_FPN_bam", "mask_rcnn_R_50_FPN_cbam")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    image_bgr = test_image(args.size)[:, :, ::-1].copy()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.size}x{args.size}, "
          f"median of {args.runs} runs")
    print("| config | parameters (M) | inference (s) | vs. plain |")
    print("| --- | ---: | ---: | ---: |")
    plain = {}
    for name in CONFIGS:
        model, cfg = build(name, args.size, "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0")
        predictor = plain_predictor(model, cfg)
        seconds = median_seconds(lambda: predictor(image_bgr), runs=args.runs)
        base = name.replace("_bam", "").replace("_cbam", "")
        plain.setdefault(base, seconds)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        print(f"| {name} | {params:.2f} | {seconds:.3f} | {seconds / plain[base]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
