"""Picking the app's gallery from a generated split: varied surfaces, with and without cracks,
with distractors, and their annotations (a COCO subset)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def pick_samples(coco: dict, n: int = 10) -> list[dict]:
    """About half with cracks, the rest without; distractors and every surface represented."""
    with_cracks = {a["image_id"] for a in coco["annotations"]}
    positives = [im for im in coco["images"] if im["id"] in with_cracks]
    negatives = [im for im in coco["images"] if im["id"] not in with_cracks]
    negatives.sort(key=lambda im: -len(im.get("distractors", [])))  # hardest negatives first
    chosen, surfaces = [], set()
    for im in positives:  # one positive per surface first, then any
        if len(chosen) < (n + 1) // 2 and im.get("surface") not in surfaces:
            chosen.append(im)
            surfaces.add(im.get("surface"))
    chosen += [im for im in positives if im not in chosen][: (n + 1) // 2 - len(chosen)]
    chosen += negatives[: n - len(chosen)]
    return sorted(chosen, key=lambda im: im["id"])


def export_samples(split_dir: str | Path, out_dir: str | Path, n: int = 10) -> Path:
    """Copy the picked images of `split_dir` (images/ + annotations.json) into `out_dir`, with
    their annotations as `out_dir/annotations.json`."""
    split_dir, out_dir = Path(split_dir), Path(out_dir)
    coco = json.loads((split_dir / "annotations.json").read_text())
    images = pick_samples(coco, n)
    ids = {im["id"] for im in images}
    out_dir.mkdir(parents=True, exist_ok=True)
    for im in images:
        shutil.copyfile(split_dir / "images" / im["file_name"], out_dir / im["file_name"])
    subset = dict(coco, images=images, annotations=[a for a in coco["annotations"] if a["image_id"] in ids])
    path = out_dir / "annotations.json"
    path.write_text(json.dumps(subset))
    return path
