"""Binary crack masks in, COCO instances out: how public crack datasets (CrackForest, Crack500,
DeepCrack, CrackTree, ...) and most users' own labels arrive.

`import_masks(images_dir, masks_dir, out_dir)` pairs each image with its mask, turns each mask into
instances and writes `out_dir/annotations.json` (COCO instances, RLE masks) and `out_dir/images/`
(or one such folder per split). The rules:

- Pairing: by file stem, the mask's stem optionally followed by a suffix (`_mask`, `_gt`, ...,
  MASK_SUFFIXES, or the one given): `001.jpg` pairs with `001.png`, `001_mask.png` or `001.mat`.
- Masks: image files (PNG, BMP, TIFF, JPEG): crack = a value above half the range of the file's
  type (a 0/1 label image counts its 1s; a palette image its non-zero indices); or CrackForest's
  MATLAB files (`groundTruth.Segmentation == 2`), or a MATLAB file holding one 2-D array of the
  image's size (its non-zero values).
- Instances: the mask is closed with a `close` x `close` square, so hand-drawn fragments that
  touch or nearly touch join; each 8-connected component of the closed mask is one instance, whose
  pixels are the mask's own (the closing groups, it adds no pixel); instances of fewer than
  `min_area` pixels are dropped.
- Everything is checked first: an image without a mask, a mask without an image, sizes that
  differ, an unreadable or hostile file (links, decompression bombs, oversized MATLAB payloads)
  are one sentence each, all listed together in a DataProblemsError, and nothing is written.
  The output is built in a temporary folder beside `out_dir` and moved into place at the end.
- Tiles (`tile`): the same, for `tile` x `tile` crops at native scale, kept only when clearly
  positive (at least `tile_min_crack` crack pixels) or clearly negative (no crack pixel within
  `tile_margin` px of the crop), as many of each, evenly spread: an image-level crack / no-crack
  test from photos that all hold cracks (the CrackForest README's rule).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import tempfile
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from viz.images import FORMATS, MAX_PIXELS

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
MASK_IMAGE_EXTENSIONS = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")
MAT_EXTENSION = ".mat"
MASK_SUFFIXES = ("_mask", "_masks", "_gt", "_label", "_labels", "_seg", "-mask", "-gt", "_crack")
MAX_MAT_BYTES = 64 * 2**20  # a MATLAB mask file larger than this is not a mask
CATEGORY_ID = 1
_BOMB = "refused: it claims far more pixels than an image may have (a decompression bomb?)."


class ImportProblemsError(ValueError):
    """The import found problems; `problems` lists them all, one sentence each. Nothing was written."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        n = len(self.problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} in the images and masks:\n"
                         + "\n".join(f"- {p}" for p in self.problems))


@dataclass(frozen=True)
class InstanceRule:
    """How a binary mask becomes instances (see the module docstring)."""
    close: int = 5       # side of the closing's square, in pixels (0 or 1: no closing)
    min_area: int = 30   # instances with fewer pixels are dropped


@dataclass(frozen=True)
class TileRule:
    """How photos are cut into an image-level test set (see the module docstring)."""
    size: int = 160
    min_crack: int = 40  # a positive tile holds at least this many crack pixels
    margin: int = 12     # a negative tile has no crack pixel within this many pixels


@dataclass
class SplitSummary:
    name: str
    folder: Path
    images: int = 0
    instances: int = 0
    negatives: int = 0


@dataclass
class ImportSummary:
    splits: list[SplitSummary]
    ignored: list[str] = field(default_factory=list)  # files in the folders that are neither images nor masks
    left_out: list[str] = field(default_factory=list)  # image stems in no split


@dataclass(frozen=True)
class _Pair:
    stem: str
    image: Path
    mask: Path


# ---------------------------------------------------------------------------------------------
# Reading masks


def instances_from_mask(mask: np.ndarray, rule: InstanceRule = InstanceRule()) -> list[np.ndarray]:
    """The instances (bool H x W arrays, largest first) of a bool mask under `rule`."""
    mask = np.asarray(mask, dtype=bool)
    grouped = mask.astype(np.uint8)
    if rule.close > 1:
        kernel = np.ones((rule.close, rule.close), np.uint8)
        grouped = cv2.morphologyEx(grouped, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        grouped |= mask  # the closing never removes a labelled pixel from its group
    count, labels = cv2.connectedComponents(grouped, connectivity=8)
    found = []
    for label in range(1, count):
        instance = (labels == label) & mask
        if int(instance.sum()) >= rule.min_area:
            found.append(instance)
    return sorted(found, key=lambda m: -int(m.sum()))


def read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """The bool (H, W) crack mask in `path` (an image file or a MATLAB file) for an image of
    `size` = (width, height). Raises ValueError with one sentence."""
    if path.suffix.lower() == MAT_EXTENSION:
        return _read_mat_mask(path, size)
    return _read_image_mask(path, size)


def _read_image_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path, formats=FORMATS) as im:
                if im.size != size:  # from the header: a wrong size is refused before decoding
                    raise ValueError(f"the mask is {im.width} x {im.height} pixels, its image "
                                     f"{size[0]} x {size[1]}.")
                im = ImageOps.exif_transpose(im)
                if im.mode == "1":
                    return np.asarray(im, dtype=bool)
                if im.mode == "P":  # palette labels: index 0 is the background
                    return np.asarray(im) != 0
                if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                    values = np.asarray(im)
                else:
                    values = np.asarray(im.convert("L"))
        except ValueError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValueError(_BOMB) from None
        except (OSError, SyntaxError):
            raise ValueError("cannot be read as a mask image (PNG, BMP, TIFF or JPEG).") from None
    return _binarize(values)


def _binarize(values: np.ndarray) -> np.ndarray:
    """Crack where the value is above half the range of its type; a 0/1 label image: its 1s."""
    if values.dtype.kind == "f":
        values = np.nan_to_num(values)
        top = 1.0 if values.max(initial=0) <= 1.0 else 255.0
    else:
        top = 65535 if values.dtype.itemsize > 1 and values.max(initial=0) > 255 else 255
        if values.max(initial=0) == 1:
            top = 1
    return values > top / 2


def _read_mat_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    import scipy.io

    width, height = size
    _check_mat_payload(path, budget=16 * width * height + 2**20)
    try:
        data = scipy.io.loadmat(str(path))
    except (ValueError, TypeError, OSError, NotImplementedError, zlib.error, struct.error) as e:
        raise ValueError(f"cannot be read as a MATLAB mask ({_one_line(e)}).") from None
    mask = _crackforest_mask(data)
    if mask is None:
        arrays = [v for k, v in data.items() if not k.startswith("__") and isinstance(v, np.ndarray)
                  and v.ndim == 2 and v.dtype.kind in "biuf" and v.shape == (height, width)]
        if len(arrays) != 1:
            raise ValueError("holds neither CrackForest's groundTruth.Segmentation nor exactly one "
                             f"{width} x {height} array.")
        mask = arrays[0] != 0
    if mask.shape != (height, width):
        raise ValueError(f"the mask is {mask.shape[1]} x {mask.shape[0]} pixels, its image {width} x {height}.")
    return mask


def _crackforest_mask(data: dict) -> np.ndarray | None:
    """CrackForest's `groundTruth` struct: Segmentation 1 = background, 2 = crack."""
    truth = data.get("groundTruth")
    try:
        segmentation = truth[0, 0]["Segmentation"]
    except (TypeError, KeyError, IndexError, ValueError):
        return None
    segmentation = np.asarray(segmentation)
    if segmentation.ndim != 2 or segmentation.dtype.kind not in "biuf":
        return None
    return segmentation == 2


def _check_mat_payload(path: Path, budget: int) -> None:
    """Refuse a MATLAB v5 file whose data would expand beyond `budget` bytes, before scipy reads
    it: zlib-compressed elements are inflated here with a cap, so a small file cannot claim
    gigabytes. MATLAB 7.3 files (HDF5) are refused: scipy does not read them."""
    file_size = path.stat().st_size
    if file_size > MAX_MAT_BYTES:
        raise ValueError(f"{file_size / 2**20:.0f} MB is far more than a mask needs.")
    with open(path, "rb") as f:
        header = f.read(128)
        if len(header) < 128 or header[:6] != b"MATLAB":
            raise ValueError("not a MATLAB file.")
        if header[126:128] not in (b"IM", b"MI"):
            raise ValueError("not a MATLAB 5 file (save it with -v7, not -v7.3).")
        order = "<" if header[126:128] == b"IM" else ">"
        if struct.unpack(order + "H", header[124:126])[0] != 0x0100:
            raise ValueError("a MATLAB 7.3 (HDF5) file; save it with -v7.")
        total = 0
        while tag := f.read(8):
            if len(tag) < 8:
                raise ValueError("truncated MATLAB file.")
            kind, nbytes = struct.unpack(order + "II", tag)
            if kind >> 16:  # a small data element packs its data into the tag
                continue
            payload = f.read(nbytes)
            if len(payload) < nbytes:
                raise ValueError("truncated MATLAB file.")
            if kind == 15:  # miCOMPRESSED
                inflater = zlib.decompressobj()
                try:
                    total += len(inflater.decompress(payload, max(1, budget - total + 1)))
                except zlib.error as e:
                    raise ValueError(f"damaged compressed data ({e}).") from None
                if inflater.unconsumed_tail or total > budget:
                    raise ValueError(f"its data would expand to more than {budget / 2**20:.0f} MB, far more "
                                     f"than a mask of its image needs (a compression bomb?).")
            else:
                total += nbytes
            f.seek((-nbytes) % 8, os.SEEK_CUR)  # elements are padded to 8 bytes


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) as detectron2 will see the image (EXIF orientation applied), decoding the
    whole file so truncated ones are caught. Raises ValueError with one sentence."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path, formats=FORMATS) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise ValueError(f"{im.width} x {im.height} pixels, more than the "
                                     f"{MAX_PIXELS / 1e6:.0f} megapixels an image may have here.")
                im.load()
                return ImageOps.exif_transpose(im).size
        except ValueError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValueError(_BOMB) from None
        except (OSError, SyntaxError):  # PIL's messages name the full path: not shown
            raise ValueError("cannot be read as an image (JPEG, PNG, BMP, TIFF or WebP).") from None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# ---------------------------------------------------------------------------------------------
# Pairing and splits


def _files(folder: Path, extensions: tuple[str, ...], problems: list[str], ignored: list[str],
           what: str) -> dict[str, Path]:
    """stem -> file of `folder` with one of `extensions` (links refused; others ignored)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_symlink():
            problems.append(f"{folder.name}/{path.name}: a link; give the file itself.")
            continue
        if not path.is_file() or path.suffix.lower() not in extensions:
            ignored.append(f"{folder.name}/{path.name}")
            continue
        if path.stem in found:
            problems.append(f"{what} {found[path.stem].name} and {path.name} share the stem '{path.stem}'; keep one.")
            continue
        found[path.stem] = path
    return found


def _image_stem(mask_stem: str, image_stems: set[str], suffixes: tuple[str, ...]) -> str | None:
    if mask_stem in image_stems:
        return mask_stem
    lowered = mask_stem.lower()
    for suffix in suffixes:
        if lowered.endswith(suffix.lower()) and mask_stem[: -len(suffix)] in image_stems:
            return mask_stem[: -len(suffix)]
    return None


def pair_files(images_dir: Path, masks_dir: Path, *, mask_suffix: str | None = None,
               problems: list[str], ignored: list[str]) -> list[_Pair]:
    """The (image, mask) pairs of the two folders, sorted by stem; pairing problems appended."""
    images = _files(images_dir, IMAGE_EXTENSIONS, problems, ignored, "images")
    masks = _files(masks_dir, MASK_IMAGE_EXTENSIONS + (MAT_EXTENSION,), problems, ignored, "masks")
    suffixes = (mask_suffix,) if mask_suffix else MASK_SUFFIXES
    by_image: dict[str, Path] = {}
    for mask_stem, mask in masks.items():
        stem = _image_stem(mask_stem, set(images), suffixes)
        if stem is None:
            examples = ", ".join(suffixes[:3])
            problems.append(f"mask {mask.name}: no image with the stem '{mask_stem}' (or '{mask_stem}' less a "
                            f"suffix such as {examples}) in {images_dir.name}/.")
        elif stem in by_image:
            problems.append(f"image {images[stem].name} has two masks, {by_image[stem].name} and {mask.name}; "
                            "keep one.")
        else:
            by_image[stem] = mask
    for stem, image in images.items():
        if stem not in by_image:
            problems.append(f"image {image.name}: no mask for it in {masks_dir.name}/ "
                            f"(looked for {stem}.png, {stem}_mask.png, {stem}.mat, ...).")
    return [_Pair(stem, images[stem], by_image[stem]) for stem in sorted(by_image)]


def parse_split(text: str) -> tuple[str, float | list[str]]:
    """"NAME=0.8" -> (NAME, 0.8); "NAME=001-064,070" -> (NAME, ['001', ..., '064', '070'])."""
    name, sep, spec = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z0-9_-]+", name) or not spec:
        raise ValueError(f"{text!r}: give a split as NAME=FRACTION (train=0.8) or NAME=STEMS (test=073-118,120).")
    try:
        fraction = float(spec)
    except ValueError:
        fraction = None
    if fraction is not None and "-" not in spec and "," not in spec:
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"{text!r}: a fraction must be above 0 and at most 1.")
        return name, fraction
    stems: list[str] = []
    for item in spec.split(","):
        match = re.fullmatch(r"(\d+)-(\d+)", item.strip())
        if match:
            first, last = match.groups()
            if int(last) < int(first) or int(last) - int(first) > 1_000_000:
                raise ValueError(f"{text!r}: the range {item} is empty or too long.")
            stems += [str(i).zfill(len(first)) for i in range(int(first), int(last) + 1)]
        elif item.strip():
            stems.append(item.strip())
        else:
            raise ValueError(f"{text!r}: an empty item in the list of stems.")
    return name, stems


def assign_splits(stems: Sequence[str], splits: Sequence[tuple[str, float | list[str]]], *, seed: int = 0,
                  problems: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """split name -> its stems (in sorted order), and the stems in no split. No splits: one
    unnamed split ("") with every stem."""
    if not splits:
        return {"": sorted(stems)}, []
    names = [name for name, _ in splits]
    if len(set(names)) != len(names):
        problems.append(f"a split is named twice ({', '.join(names)}).")
        return {}, []
    kinds = {isinstance(spec, float) for _, spec in splits}
    if len(kinds) > 1:
        problems.append("give every split as a fraction or every split as a list of stems, not a mix.")
        return {}, []
    if kinds == {True}:
        total = sum(spec for _, spec in splits)
        if abs(total - 1.0) > 1e-6:
            problems.append(f"the split fractions add up to {total:g}, not 1.")
            return {}, []
        order = sorted(stems)
        np.random.default_rng(seed).shuffle(order)
        bounds = np.rint(np.cumsum([0.0] + [spec for _, spec in splits]) * len(order)).astype(int)
        out = {name: sorted(order[a:b]) for (name, _), a, b in zip(splits, bounds[:-1], bounds[1:])}
        return out, []
    known, taken, out = set(stems), {}, {}
    for name, listed in splits:
        missing = [s for s in listed if s not in known]
        if missing:
            problems.append(f"split {name}: no image (with its mask) has the stem"
                            f"{'s' if len(missing) > 1 else ''} {_some(missing)}.")
        for stem in listed:
            if stem in taken and taken[stem] != name:
                problems.append(f"the stem {stem} is in both split {taken[stem]} and split {name}.")
            taken.setdefault(stem, name)
        out[name] = sorted({s for s in listed if s in known})
    return out, sorted(known - set(taken))


def stem_ranges(stems: Sequence[str]) -> str:
    """"001-072, 080, 1a": runs of consecutive numeric stems (of one width) written as ranges."""
    parts: list[str] = []
    run: list[str] = []
    for stem in sorted(stems):
        if run and stem.isdigit() and run[-1].isdigit() and len(stem) == len(run[-1]) and int(stem) == int(run[-1]) + 1:
            run.append(stem)
            continue
        if run:
            parts.append(run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [stem]
    if run:
        parts.append(run[0] if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(parts)


def _some(items: Sequence[str], limit: int = 6) -> str:
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


# ---------------------------------------------------------------------------------------------
# Writing


def _tiles(mask: np.ndarray, rule: TileRule) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Top-left corners (y, x) of the clearly positive and clearly negative tiles of `mask`."""
    h, w = mask.shape
    if rule.margin > 0:
        near = cv2.dilate(mask.astype(np.uint8), np.ones((2 * rule.margin + 1,) * 2, np.uint8)).astype(bool)
    else:
        near = mask
    positives, negatives = [], []
    for y in range(0, h - rule.size + 1, rule.size):
        for x in range(0, w - rule.size + 1, rule.size):
            crack = int(mask[y:y + rule.size, x:x + rule.size].sum())
            if crack >= rule.min_crack:
                positives.append((y, x))
            elif not near[y:y + rule.size, x:x + rule.size].any():
                negatives.append((y, x))
    return positives, negatives


def evenly(items: list, n: int) -> list:
    """n of `items`, evenly spread over the list (its order kept)."""
    if n >= len(items):
        return list(items)
    if n <= 0:
        return []
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, n).round()]


class _SplitWriter:
    def __init__(self, folder: Path, name: str, category: str, info: dict):
        self.folder, self.category, self.info = folder, category, info
        (folder / "images").mkdir(parents=True)
        self.images: list[dict] = []
        self.annotations: list[dict] = []
        self.summary = SplitSummary(name, folder)

    def add(self, file_name: str, image_bytes: bytes, mask: np.ndarray, rule: InstanceRule) -> None:
        from demo.coco import encode_mask, mask_bbox

        (self.folder / "images" / file_name).write_bytes(image_bytes)
        image_id = len(self.images) + 1
        h, w = mask.shape
        self.images.append({"id": image_id, "file_name": file_name, "height": h, "width": w})
        found = instances_from_mask(mask, rule)
        for instance in found:
            self.annotations.append({"id": len(self.annotations) + 1, "image_id": image_id,
                                     "category_id": CATEGORY_ID, "segmentation": encode_mask(instance),
                                     "area": float(instance.sum()), "bbox": mask_bbox(instance), "iscrowd": 0})
        self.summary.images += 1
        self.summary.instances += len(found)
        self.summary.negatives += not found

    def close(self) -> None:
        data = {"info": self.info, "licenses": [],
                "categories": [{"id": CATEGORY_ID, "name": self.category}],
                "images": self.images, "annotations": self.annotations}
        (self.folder / "annotations.json").write_text(json.dumps(data))


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def import_masks(images_dir: str | Path, masks_dir: str | Path, out_dir: str | Path, *,
                 rule: InstanceRule = InstanceRule(), splits: Sequence[tuple[str, float | list[str]]] = (),
                 seed: int = 0, category: str = "crack", mask_suffix: str | None = None,
                 tiles: TileRule | None = None, skip_problems: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> ImportSummary:
    """Write the COCO dataset made of `images_dir` and `masks_dir` into `out_dir` (see the module
    docstring).

    Args:
        splits: (name, fraction) pairs (adding up to 1, drawn with `seed`) or (name, [stems]) pairs;
            none: one dataset in out_dir itself, else one folder per split.
        tiles: cut the images into tiles instead of keeping them whole.
        skip_problems: write the good pairs and list the bad ones in the summary's `ignored`,
            instead of refusing the whole import.
        progress: called with (done, total) as images are written.

    Returns:
        An ImportSummary (per split: folder, images, instances, images without any).

    Raises:
        ImportProblemsError: every problem found, one sentence each; nothing was written.
    """
    images_dir, masks_dir, out_dir = Path(images_dir), Path(masks_dir), Path(out_dir)
    problems: list[str] = []
    for folder, what in ((images_dir, "images"), (masks_dir, "masks")):
        if not folder.is_dir():
            problems.append(f"{folder.name or folder}: the {what} folder is not there.")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        problems.append(f"{out_dir.name}: the output folder already exists and is not empty; choose a new one.")
    if rule.close < 0 or rule.min_area < 1:
        problems.append("the closing must be 0 or more pixels and the minimum area at least 1 pixel.")
    if not category.strip():
        problems.append("the category name is empty.")
    if problems:
        raise ImportProblemsError(problems)

    ignored: list[str] = []
    pairs = pair_files(images_dir, masks_dir, mask_suffix=mask_suffix, problems=problems, ignored=ignored)
    checked: list[tuple[_Pair, np.ndarray]] = []
    bad: list[str] = []
    for pair in pairs:  # read every mask before writing anything
        try:
            size = _image_size(pair.image)
        except ValueError as e:
            bad.append(f"image {pair.image.name}: {e}")
            continue
        try:
            checked.append((pair, read_mask(pair.mask, size)))
        except ValueError as e:
            bad.append(f"mask {pair.mask.name} (of {pair.image.name}): {e}")
    problems += bad
    assignment, left_out = assign_splits([p.stem for p, _ in checked], splits, seed=seed, problems=problems)
    if problems and not skip_problems:
        raise ImportProblemsError(problems)
    if not checked:
        raise ImportProblemsError(problems + ["no image with a readable mask: nothing to import."])

    info = {"description": f"imported from {images_dir.name}/ and {masks_dir.name}/ by python -m app import-masks",
            "instances": f"8-connected components after a {rule.close} x {rule.close} closing, "
                         f"at least {rule.min_area} px",
            **({"tiles": f"{tiles.size} px, positive >= {tiles.min_crack} crack px, negative: none within "
                         f"{tiles.margin} px, balanced"} if tiles else {})}
    by_stem = {p.stem: (p, m) for p, m in checked}
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        total, done = sum(len(s) for s in assignment.values()), 0
        summaries = []
        for name, stems in assignment.items():
            writer = _SplitWriter(staging / name if name else staging, name, category.strip(), info)
            if tiles is None:
                for stem in stems:
                    pair, mask = by_stem[stem]
                    writer.add(pair.image.name, pair.image.read_bytes(), mask, rule)
                    done += 1
                    if progress:
                        progress(done, total)
            else:
                _write_tiles(writer, [by_stem[s] for s in stems], rule, tiles)
            writer.close()
            summaries.append(writer.summary)
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for s in summaries:
        s.folder = out_dir / s.folder.relative_to(staging)
    return ImportSummary(summaries, ignored=ignored + (problems if skip_problems else []), left_out=left_out)


def _write_tiles(writer: _SplitWriter, pairs: list[tuple[_Pair, np.ndarray]], rule: InstanceRule,
                 tiles: TileRule) -> None:
    from viz.images import load_image

    positives, negatives = [], []
    for pair, mask in pairs:
        pos, neg = _tiles(mask, tiles)
        # a positive tile must keep an instance under the rule (fragments under min_area do not count)
        positives += [(pair, mask, (y, x)) for y, x in pos
                      if instances_from_mask(mask[y:y + tiles.size, x:x + tiles.size], rule)]
        negatives += [(pair, mask, corner) for corner in neg]
    n = min(len(positives), len(negatives))
    chosen = sorted(evenly(positives, n) + evenly(negatives, n), key=lambda t: (t[0].stem, t[2]))
    images: dict[str, np.ndarray] = {}
    for pair, mask, (y, x) in chosen:
        if pair.stem not in images:
            images = {pair.stem: load_image(pair.image)}  # tiles come sorted by image: one in memory
        crop = np.ascontiguousarray(images[pair.stem][y:y + tiles.size, x:x + tiles.size])
        writer.add(f"{pair.stem}_y{y}_x{x}.png", _png(crop), mask[y:y + tiles.size, x:x + tiles.size], rule)
