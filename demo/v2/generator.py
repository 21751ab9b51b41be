"""Compose recipe-v2 images and write them as COCO splits: train, val, test (the seen domain) and
unseen (surface families, crack styles and distractor kinds that the other splits never hold)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from demo.coco import annotation_entry, write_coco
from demo.cracks import MIN_MASK_AREA
from demo.distractors import Overlay
from demo.noise import value_noise
from demo.v2 import camera
from demo.v2.cracks import CRACK_STYLES
from demo.v2.distractors import DISTRACTORS, UNDER_CRACKS
from demo.v2.recipe import RECIPE_V2, Domain, Recipe
from demo.v2.surfaces import SURFACES, rescaled

SPLITS = ("train", "val", "test", "unseen")
CRACK_TRIES = 5
HIDDEN_ALPHA = 0.7  # a crack pixel under an overlay at least this opaque is not visible: not in the mask
RECIPE_KEY = 2      # seeds of recipe v2 live apart from recipe v1's


@dataclass
class SampleV2:
    image: np.ndarray          # HxWx3 uint8 RGB, exactly what the JPEG file decodes to
    masks: list[np.ndarray]    # one HxW bool mask per crack; [] for negatives
    surface: str
    crack_styles: list[str]    # one per mask
    distractors: list[str] = field(default_factory=list)
    encoded: bytes = b""       # the JPEG file
    camera: dict = field(default_factory=dict)  # jpeg quality, perspective, blur, shadow, unit


def sample_seed(seed: int, split: str, index: int) -> np.random.SeedSequence:
    """Seed of image `index` of `split`; independent of the size of any split."""
    return np.random.SeedSequence(seed, spawn_key=(RECIPE_KEY, SPLITS.index(split), index))


def _pick(rng: np.random.Generator, weights: Mapping) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], float)
    return str(names[int(rng.choice(len(names), p=p / p.sum()))])


def draw_size(rng: np.random.Generator, recipe: Recipe) -> tuple[int, int]:
    """(height, width) of a photo-like image: the recipe's long sides and aspect ratios."""
    long_side = int(_pick(rng, {str(k): v for k, v in recipe.long_sides.items()}))
    aspect = float(_pick(rng, {str(k): v for k, v in recipe.aspects.items()}))
    short = int(round(long_side / aspect))
    return (long_side, short) if rng.random() < recipe.p_portrait else (short, long_side)


def _occluder(rng: np.random.Generator, shape: tuple[int, int], mask: np.ndarray, base: np.ndarray,
              unit: float) -> Overlay:
    """An opaque irregular blob (dirt, paint, tape) over a random point of the crack."""
    h, w = shape
    idx = np.flatnonzero(mask)
    cy, cx = divmod(int(idx[rng.integers(len(idx))]), w)
    r = unit * rng.uniform(6, 25)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.sqrt(((xs - cx) / (r * rng.uniform(0.6, 1.6))) ** 2 + ((ys - cy) / r) ** 2)
    d += 0.3 * value_noise(rng, shape, max(2, int(r / 3)))
    alpha = np.clip((1 - d) * 4, 0, 1) * rng.uniform(0.9, 1.0)
    colour = np.clip(base * rng.uniform(0.4, 1.4, 3), 0, 1).astype(np.float32)
    return Overlay(alpha.astype(np.float32), colour)


def make_sample(rng: np.random.Generator, domain: Domain, recipe: Recipe = RECIPE_V2, *,
                size: tuple[int, int] | None = None, draw_cracks: bool = True) -> SampleV2:
    """One image of `domain`, of `size` (height, width) or a size drawn from the recipe.

    draw_cracks=False renders the very same image without the cracks (same random draws, masks
    still returned): comparing the two shows which pixels the cracks changed.
    """
    size = tuple(size) if size is not None else draw_size(rng, recipe)
    unit = min(size) / 320 * rng.uniform(*recipe.unit_jitter)
    surface = _pick(rng, domain.surfaces)
    draw_surface = SURFACES[surface]
    if not surface.endswith("_photo"):  # photos choose their own zoom
        draw_surface = rescaled(draw_surface, rng.uniform(*recipe.surface_zoom))
    scene = draw_surface(rng, size).astype(np.float32) / 255
    base = np.array(cv2.mean(scene)[:3], np.float32)

    negative = rng.random() < recipe.p_negative
    weights = 0.5 ** np.arange(1, recipe.max_cracks + 1)  # 1 crack is the most common
    n_cracks = 0 if negative else int(rng.choice(np.arange(1, recipe.max_cracks + 1), p=weights / weights.sum()))
    counts = np.array(recipe.distractor_counts_negative if negative else recipe.distractor_counts_positive)
    names = [_pick(rng, domain.distractors) for _ in range(int(rng.choice(len(counts), p=counts / counts.sum())))]
    layers = {"under": [], "over": []}
    for name in names:
        layers["under" if name in UNDER_CRACKS else "over"] += DISTRACTORS[name](rng, size, base)

    for overlay in layers["under"]:
        scene = overlay.apply(scene)
    masks, styles, occluded = [], [], 0
    for _ in range(n_cracks):
        style = _pick(rng, domain.crack_styles)
        for _ in range(CRACK_TRIES):
            crack = CRACK_STYLES[style](rng, size, unit)
            if crack is not None:
                break
        if crack is None:
            continue
        if draw_cracks:
            scene = crack.apply(scene)
        mask = crack.mask
        if rng.random() < recipe.p_occlusion:
            cover = _occluder(rng, size, mask, base, unit)
            visible = mask & (cover.alpha < HIDDEN_ALPHA)
            if visible.sum() >= 0.5 * mask.sum():  # hide at most half of it
                scene, mask, occluded = cover.apply(scene), visible, occluded + 1
        masks.append(mask)
        styles.append(style)
    for overlay in layers["over"]:
        scene = overlay.apply(scene)
        masks = [m & (overlay.alpha < HIDDEN_ALPHA) for m in masks]

    tilted = rng.random() < recipe.p_perspective
    if tilted:
        scene, masks = camera.warp(scene, masks, camera.perspective(rng, size, recipe.perspective_strength))
    kept = [i for i, m in enumerate(masks) if m.sum() >= MIN_MASK_AREA]
    masks, styles = [masks[i] for i in kept], [styles[i] for i in kept]
    image, effects = camera.photograph(rng, scene, unit)
    encoded, image, quality = camera.jpeg(rng, image)
    info = {"jpeg_quality": quality, "perspective": tilted, "occluded": occluded, "unit": round(unit, 3), **effects}
    return SampleV2(image, masks, surface, styles, names, encoded, info)


def generate_dataset(out_dir: str | Path, *, n_train: int, n_val: int, n_test: int, n_unseen: int,
                     seed: int = 0, size: tuple[int, int] | None = None, recipe: Recipe = RECIPE_V2,
                     progress: Callable[[int, int], None] | None = None) -> dict:
    """Write out_dir/{train,val,test,unseen}/images/*.jpg and annotations.json (COCO).

    size: every image (height, width); None draws photo-like sizes from the recipe.
    Returns {split: {"images", "annotations", "negatives", "annotation_file"}}.
    """
    out_dir = Path(out_dir)
    counts = dict(zip(SPLITS, (n_train, n_val, n_test, n_unseen)))
    total, done = sum(counts.values()), 0
    summary = {}
    for split, n in counts.items():
        domain_name = recipe.splits[split]
        domain = recipe.domains[domain_name]
        image_dir = out_dir / split / "images"
        image_dir.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for i in range(n):
            sample = make_sample(np.random.default_rng(sample_seed(seed, split, i)), domain, recipe, size=size)
            file_name = f"{i:06d}.jpg"
            (image_dir / file_name).write_bytes(sample.encoded)
            h, w = sample.image.shape[:2]
            images.append({"id": i + 1, "file_name": file_name, "height": h, "width": w,
                           "surface": sample.surface, "crack_styles": sample.crack_styles,
                           "distractors": sample.distractors, "camera": sample.camera})
            for mask, style in zip(sample.masks, sample.crack_styles):
                annotations.append({**annotation_entry(len(annotations) + 1, i + 1, mask), "crack_style": style})
            done += 1
            if progress is not None:
                progress(done, total)
        ann_file = out_dir / split / "annotations.json"
        info = {"description": f"synthetic cracks, recipe {recipe.name}", "recipe": recipe.name, "split": split,
                "seed": seed, "size": list(size) if size else "drawn per image", "domain": domain_name,
                "surfaces": sorted(domain.surfaces), "crack_styles": sorted(domain.crack_styles),
                "distractors": sorted(domain.distractors)}
        write_coco(ann_file, images, annotations, info)
        summary[split] = {
            "images": n,
            "annotations": len(annotations),
            "negatives": n - len({a["image_id"] for a in annotations}),
            "annotation_file": str(ann_file),
        }
    return summary
