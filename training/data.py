"""COCO instance-segmentation datasets: checking them before use, registering them with detectron2,
and the augmentation sets a training run can use.

`check_coco_dataset` reads an annotation file the way training will use it and lists every problem
in words (which file, which image, which annotation), so a user fixes them all at once instead of
meeting them one by one as tracebacks deep inside a training run. `register_coco_dataset` makes
a dataset known to detectron2's DatasetCatalog / MetadataCatalog under a stable name.

Negative images (no annotations) are valid and matter here: they are the "no crack" half of a
crack / no-crack experiment.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

import models  # noqa: F401  (makes detectron2 importable; must precede it)
from viz.images import FORMATS, MAX_PIXELS

from detectron2.data import DatasetCatalog, DatasetMapper, MetadataCatalog
from detectron2.data import transforms as T
from detectron2.data.datasets import register_coco_instances
from detectron2.data.detection_utils import _apply_exif_orientation, convert_PIL_to_numpy

_REQUIRED_LISTS = ("images", "annotations", "categories")
# What reading a bad image file raises (PIL's UnidentifiedImageError is an OSError; a decompression
# bomb beyond PIL's own limit is PIL's DecompressionBombError).
IMAGE_READ_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)
_NAME_PREFIX = "bamviz"
# A COCO file is read whole into memory (several times its size once parsed): larger ones are refused
# unread. 256 MB holds about a million polygon annotations.
MAX_DATASET_JSON_BYTES = 256 << 20
# Polygon points may lie outside the image (annotation tools clip them late), but at most this many
# image widths / heights beyond its edges: pycocotools draws every pixel of an outline, so a point at
# 1e9 costs gigabytes (or crashes it) before the mask is clipped to the image.
POLYGON_MARGIN = 1.0
# The outlines of one annotation's polygons, in pixels (the longer of dx, dy per edge, summed): what
# pycocotools allocates for, about 50 bytes a pixel (measured: 1e6 pixels, +50 MB, 0.1 s). A crack
# traced pixel by pixel across a 7000 px photo is some 20,000.
MAX_POLYGON_OUTLINE = 1_000_000


class DataProblemsError(ValueError):
    """One or more datasets have problems; `problems` lists them all, one sentence each."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the data:\n"
                         + "\n".join(f"- {p}" for p in self.problems))


def require_valid(*datasets: tuple[str | Path, str | Path]) -> None:
    """Check each (json_path, image_dir); raise DataProblemsError listing every problem found."""
    problems = [p for json_path, image_dir in datasets for p in check_coco_dataset(json_path, image_dir)]
    if problems:
        raise DataProblemsError(problems)


# ---------------------------------------------------------------------------------------------
# Checking


def check_coco_dataset(json_path: str | Path, image_dir: str | Path) -> list[str]:
    """Every problem that would stop (or silently spoil) training or evaluation on this dataset.

    Checked: the JSON file (exists, at most MAX_DATASET_JSON_BYTES, parses, has `images`,
    `annotations` and `categories` lists); categories (integer ids, unique); images (unique ids, a
    `file_name` inside `image_dir` (`dataset_image_path`), a file that decodes as one of the upload
    formats within the pixel-count rule (`read_dataset_image`), with the width and height the JSON
    says); annotations (unique ids, an existing `image_id` and `category_id`, a bbox [x, y, w, h]
    with w, h > 0 that overlaps the image, `area` a number and `iscrowd` 0 or 1 where given, and a
    mask, polygons within POLYGON_MARGIN of the image or RLE of the image's size, that is not empty).

    Files are named as the JSON names them (its own name, image file names as given), never by
    their full path on the server. Returns every problem, one sentence each; [] means none.
    """
    json_path, image_dir = Path(json_path), Path(image_dir)
    name = json_path.name
    data, problems = _read_json(json_path)
    if data is None:
        return problems
    if not image_dir.is_dir():
        problems.append(f"{image_dir.name or image_dir}: image folder not found (images of {name}).")
        image_dir = None

    category_ids = _check_categories(name, data["categories"], problems)
    images = _check_images(name, data["images"], image_dir, problems)
    _check_annotations(name, data["annotations"], images, category_ids, problems)
    return problems


def coco_subset(data: dict, images: list) -> dict:
    """A COCO file's content cut to `images` (entries of its own "images") and their annotations;
    what is not a dict among the annotations is kept for the dataset check to report."""
    ids = {im.get("id") for im in images if isinstance(im, dict)}
    return {**data, "images": images,
            "annotations": [a for a in data["annotations"] if not isinstance(a, dict) or a.get("image_id") in ids]}


def read_dataset_json(json_path: str | Path):
    """The parsed content of a dataset's JSON file, read only if it is at most
    MAX_DATASET_JSON_BYTES. Raises DataProblemsError with one sentence (naming the file by its
    name only) where it is missing, too large, not UTF-8, not JSON or nested too deep."""
    json_path = Path(json_path)
    name = json_path.name
    too_large = DataProblemsError([f"{name}: larger than the {MAX_DATASET_JSON_BYTES >> 20} MB an annotation "
                                   f"file may have here; refused unread."])
    try:
        if not json_path.is_file():
            raise DataProblemsError([f"{name}: annotation file not found."])
        if json_path.stat().st_size > MAX_DATASET_JSON_BYTES:
            raise too_large
        with json_path.open("rb") as f:
            raw = f.read(MAX_DATASET_JSON_BYTES + 1)  # never more, even if the file grew meanwhile
    except OSError as e:
        raise DataProblemsError([f"{name}: cannot be read ({e.strerror or type(e).__name__})."]) from None
    if len(raw) > MAX_DATASET_JSON_BYTES:
        raise too_large
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DataProblemsError([f"{name}: not a text (UTF-8) file, so not COCO JSON."]) from None
    except json.JSONDecodeError as e:
        raise DataProblemsError([f"{name}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})."]) from None
    except RecursionError:  # [[[[...: the parser's depth limit; a COCO file is 5 levels deep
        raise DataProblemsError([f"{name}: its JSON is nested far deeper than a COCO file is."]) from None


def _read_json(json_path: Path) -> tuple[dict | None, list[str]]:
    name = json_path.name
    try:
        data = read_dataset_json(json_path)
    except DataProblemsError as e:
        return None, e.problems
    if not isinstance(data, dict):
        return None, [f"{name}: a COCO file is a JSON object with images, annotations and "
                      f"categories; this one is a {type(data).__name__}."]
    problems = []
    for key in _REQUIRED_LISTS:
        if key not in data:
            problems.append(f"{name}: has no '{key}' list (a COCO instances file needs "
                            f"{', '.join(_REQUIRED_LISTS)}).")
        elif not isinstance(data[key], list):
            problems.append(f"{name}: '{key}' should be a list, not a {type(data[key]).__name__}.")
    if problems:
        return None, problems
    if not data["images"]:
        problems.append(f"{name}: the 'images' list is empty.")
    if not data["categories"]:
        problems.append(f"{name}: the 'categories' list is empty (e.g. [{{\"id\": 1, \"name\": \"crack\"}}]).")
    return data, problems


class TooManyPixels(ValueError):
    """An image beyond MAX_PIXELS, known from its header."""


class DatasetPathError(ValueError):
    """An image `file_name` that does not lead inside the image folder; `reason` is the sentence
    without the file name."""

    def __init__(self, file_name: str, reason: str):
        self.reason = reason
        super().__init__(f"'{file_name}': {reason}")


def dataset_image_path(image_dir: str | Path, file_name: str) -> Path:
    """Where the image `file_name` of a dataset is: inside `image_dir`, or DatasetPathError.

    Refused: absolute names, names with a '..' part, and names that reach outside the folder
    through a symbolic link (in the folder or below it). The refusal is the same sentence whether
    or not something exists at the place named, and never names the server's folders.
    """
    reason = "refused: an image's file_name must lead to a file inside the image folder (no absolute path, " \
             "no '..', no link out of it)."
    relative = Path(file_name)
    if relative.is_absolute() or ".." in relative.parts:
        raise DatasetPathError(file_name, reason)
    try:
        folder = Path(image_dir).resolve()
        real = (folder / relative).resolve()  # follows every link, existing target or not
    except (OSError, RuntimeError, ValueError):  # a link loop, a NUL byte
        raise DatasetPathError(file_name, reason) from None
    if folder not in real.parents:
        raise DatasetPathError(file_name, reason)
    return Path(image_dir) / relative


def read_dataset_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a dataset image, as detectron2's `read_image(path, "RGB")` gives it
    (EXIF orientation applied), so evaluation sees what training saw; but opened only as one of the
    upload formats (viz.images.FORMATS) and refused, from its header, beyond MAX_PIXELS. Raises one
    of IMAGE_READ_ERRORS; `unreadable_image` words it."""
    with Image.open(path, formats=FORMATS) as im:
        if im.width * im.height > MAX_PIXELS:  # known from the header: refused before decoding
            raise TooManyPixels(f"{im.width}x{im.height} pixels, more than the {MAX_PIXELS / 1e6:.0f} "
                                f"megapixels an image may have here")
        im.load()  # decodes, so truncated files are caught here
        return convert_PIL_to_numpy(_apply_exif_orientation(im), "RGB")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _duplicates(values) -> list:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def _check_categories(name: str, categories: list, problems: list[str]) -> set[int]:
    ids = []
    for i, cat in enumerate(categories):
        if not isinstance(cat, dict) or not _is_int(cat.get("id")):
            problems.append(f"{name}: category #{i + 1} has no integer 'id' ({_short(cat)}).")
            continue
        if not isinstance(cat.get("name"), str) or not cat["name"]:
            problems.append(f"{name}: category {cat['id']} has no 'name'.")
        ids.append(cat["id"])
    for dup in _duplicates(ids):
        problems.append(f"{name}: category id {dup} is used by more than one category.")
    return set(ids)


def _check_images(name: str, images: list, image_dir: Path | None,
                  problems: list[str]) -> dict[int, dict]:
    """The usable image entries by id (those with an id, a file name and a size)."""
    by_id: dict[int, dict] = {}
    ids = []
    for i, img in enumerate(images):
        if not isinstance(img, dict) or not _is_int(img.get("id")):
            problems.append(f"{name}: image #{i + 1} has no integer 'id' ({_short(img)}).")
            continue
        ids.append(img["id"])
        label = f"{name}: image {img['id']}"
        file_name = img.get("file_name")
        if not isinstance(file_name, str) or not file_name:
            problems.append(f"{label} has no 'file_name'.")
            continue
        label = f"{label} ('{file_name}')"
        width, height = img.get("width"), img.get("height")
        if not (_is_int(width) and _is_int(height) and width > 0 and height > 0):
            problems.append(f"{label}: 'width' and 'height' must be positive integers "
                            f"(found {_short(width)} x {_short(height)}).")
            continue
        if width * height > MAX_PIXELS:  # the masks of the annotations are drawn at this size
            problems.append(f"{label}: the JSON says {width}x{height} pixels, more than the "
                            f"{MAX_PIXELS / 1e6:.0f} megapixels an image may have here.")
            continue
        by_id.setdefault(img["id"], img)
        if image_dir is not None:
            problem = _check_image_file(image_dir, file_name, width, height)
            if problem:
                problems.append(f"{label}: {problem}")
    for dup in _duplicates(ids):
        problems.append(f"{name}: image id {dup} is used by more than one image.")
    return by_id


def _check_image_file(image_dir: Path, file_name: str, width: int, height: int) -> str | None:
    try:
        path = dataset_image_path(image_dir, file_name)
    except DatasetPathError as e:
        return e.reason
    try:
        if not path.is_file():
            return "file not found in the image folder."
        size = read_dataset_image(path).shape[1::-1]
    except IMAGE_READ_ERRORS as e:
        return unreadable_image(path, e)
    if size != (width, height):
        return (f"the file is {size[0]}x{size[1]} pixels but the JSON says {width}x{height} "
                f"(width x height); detectron2 refuses such images.")
    return None


def _check_annotations(name: str, annotations: list, images: dict[int, dict],
                       category_ids: set[int], problems: list[str]) -> None:
    ids = []
    for i, ann in enumerate(annotations):
        if not isinstance(ann, dict) or not _is_int(ann.get("id")):
            problems.append(f"{name}: annotation #{i + 1} has no integer 'id' ({_short(ann)}).")
            continue
        ids.append(ann["id"])
        label = f"{name}: annotation {ann['id']}"
        image = images.get(ann.get("image_id"))
        if image is None:
            problems.append(f"{label}: its image_id {ann.get('image_id')!r} is not an image in the file.")
        else:
            label = f"{label} (image {image['id']} '{image['file_name']}')"
        if ann.get("category_id") not in category_ids:
            problems.append(f"{label}: category_id {ann.get('category_id')!r} is not in 'categories' "
                            f"(ids: {sorted(category_ids)}).")
        size = (image["height"], image["width"]) if image is not None else None
        for problem in (_bbox_problem(ann.get("bbox"), size), _fields_problem(ann), _mask_problem(ann, size)):
            if problem:
                problems.append(f"{label}: {problem}")
    for dup in _duplicates(ids):
        problems.append(f"{name}: annotation id {dup} is used by more than one annotation.")


def _bbox_problem(bbox, size: tuple[int, int] | None) -> str | None:
    if bbox is None:
        return "has no 'bbox' ([x, y, width, height])."
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(v) for v in bbox)):
        return f"bbox {_short(bbox)} is not four finite numbers [x, y, width, height]."
    x, y, w, h = bbox
    if w <= 0 or h <= 0:
        return f"bbox {bbox} has a width or height <= 0."
    if size is not None:
        height, width = size
        if x >= width or y >= height or x + w <= 0 or y + h <= 0:
            return f"bbox {bbox} lies outside the {width}x{height} image."
    return None


def _fields_problem(ann: dict) -> str | None:
    """`area` and `iscrowd` of the wrong type: pycocotools compares and converts them mid-evaluation."""
    area, crowd = ann.get("area"), ann.get("iscrowd", 0)
    if area is None:  # COCO's evaluation sorts annotations by area; without it, it stops mid-run
        return "has no 'area' (the mask's pixel count, which COCO's evaluation needs)."
    if not (_is_number(area) and area >= 0):
        return f"'area' must be a number of pixels >= 0 (found {_short(area)})."
    if not (isinstance(crowd, int) and crowd in (0, 1)):
        return f"'iscrowd' must be 0 or 1 (found {_short(crowd)})."
    return None


def _mask_problem(ann: dict, size: tuple[int, int] | None) -> str | None:
    """What is wrong with an annotation's `segmentation` (polygons or RLE), if anything."""
    segm = ann.get("segmentation")
    if segm is None:
        return "has no 'segmentation' (Mask R-CNN needs a mask, polygons or RLE, for each instance)."
    if isinstance(segm, dict):
        return _rle_problem(segm, size)
    if isinstance(segm, list):
        return _polygons_problem(segm, size)
    return f"segmentation is a {type(segm).__name__}; expected a list of polygons or an RLE dict."


def _polygons_problem(polygons: list, size: tuple[int, int] | None) -> str | None:
    if not polygons:
        return "segmentation is an empty list of polygons (empty mask)."
    for k, poly in enumerate(polygons):
        if not (isinstance(poly, list) and all(_is_number(v) for v in poly)):
            return f"polygon {k + 1} of the segmentation is not a flat list of numbers [x1, y1, x2, y2, ...]."
        if len(poly) % 2 or len(poly) < 6:
            return (f"polygon {k + 1} of the segmentation has {len(poly)} coordinates; a polygon needs "
                    f"an even number, at least 6 (3 points).")
    if size is None:
        return None
    # Bounded here, before pycocotools: it draws each outline pixel by pixel, unchecked.
    height, width = size
    outline = 0.0
    for k, poly in enumerate(polygons):
        xs, ys = poly[0::2], poly[1::2]
        for x, y in zip(xs, ys):
            if not (-POLYGON_MARGIN * width <= x <= (1 + POLYGON_MARGIN) * width
                    and -POLYGON_MARGIN * height <= y <= (1 + POLYGON_MARGIN) * height):
                return (f"polygon {k + 1} has the point ({x:g}, {y:g}), far outside the {width}x{height} image "
                        f"(points may lie at most {POLYGON_MARGIN:g} image width / height beyond its edges).")
        outline += sum(max(abs(x1 - x0), abs(y1 - y0))
                       for x0, y0, x1, y1 in zip(xs, ys, xs[1:] + xs[:1], ys[1:] + ys[:1]))
    if outline > MAX_POLYGON_OUTLINE:
        return (f"its polygons' outlines add up to {outline:,.0f} pixels, more than the "
                f"{MAX_POLYGON_OUTLINE:,} a mask may have here.")
    from pycocotools import mask as mask_util

    rle = mask_util.merge(mask_util.frPyObjects(polygons, height, width))
    if int(mask_util.area(rle)) == 0:
        return "mask is empty (its polygons cover no pixel of the image)."
    return None


def _rle_problem(rle: dict, size: tuple[int, int] | None) -> str | None:
    rle_size, counts = rle.get("size"), rle.get("counts")
    if not (isinstance(rle_size, list) and len(rle_size) == 2 and all(_is_int(v) for v in rle_size)):
        return f"RLE mask has no valid 'size' [height, width] (found {_short(rle_size)})."
    if size is not None and tuple(rle_size) != tuple(size):
        return (f"RLE mask size {rle_size} (height, width) differs from the image's "
                f"{[size[0], size[1]]}.")
    if isinstance(counts, str):
        runs = decode_rle_string(counts)
        if runs is None:
            return "RLE mask 'counts' is not a valid compressed COCO RLE string."
    elif isinstance(counts, list) and all(_is_int(v) for v in counts):
        runs = counts
    else:
        return "RLE mask 'counts' must be a compressed string or a list of integers."
    if any(r < 0 for r in runs):
        return "RLE mask has negative run lengths (corrupt 'counts')."
    if sum(runs) != rle_size[0] * rle_size[1]:
        return (f"RLE mask runs add up to {sum(runs)} pixels, but its size {rle_size} has "
                f"{rle_size[0] * rle_size[1]} (corrupt 'counts').")
    if sum(runs[1::2]) == 0:
        return "mask is empty (its RLE has no foreground pixel)."
    return None


def decode_rle_string(counts: str) -> list[int] | None:
    """The run lengths of a compressed COCO RLE string (pycocotools' format), or None if malformed.

    Decoded here, in Python, to check it before pycocotools sees it: pycocotools' decoder writes
    as many pixels as the runs say, with no check against the mask size.
    """
    runs: list[int] = []
    pos, n = 0, len(counts)
    while pos < n:
        value, shift, more = 0, 0, True
        while more:
            if pos >= n:
                return None  # the string ends inside a number
            c = ord(counts[pos]) - 48
            if not 0 <= c < 64:
                return None
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            pos += 1
            shift += 5
            if not more and c & 0x10:
                value |= -1 << shift  # negative: sign-extend
        if len(runs) > 2:
            value += runs[-2]  # runs after the third are stored as differences
        runs.append(value)
    return runs


def _short(value, limit: int = 60) -> str:
    try:
        text = json.dumps(value) if not isinstance(value, str) else repr(value)
    except RecursionError:  # nested near the parser's limit: deeper than dumps may go
        text = f"a deeply nested {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unreadable_image(path: str | Path, error: Exception) -> str:
    """The sentence for an image file that does not decode (`read_dataset_image`'s errors), naming
    the file by its name only: some errors' own text holds the full path."""
    name = Path(path).name
    if isinstance(error, TooManyPixels):
        return f"{error}."
    if isinstance(error, UnidentifiedImageError):
        return f"cannot be read as an image ({name}: not JPEG, PNG, BMP, TIFF or WebP)."
    if isinstance(error, OSError) and error.strerror:  # the file itself: missing, unreadable, ...
        return f"cannot be read ({name}: {error.strerror})."
    return f"cannot be read as an image ({name}: {_one_line(error)})."


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# ---------------------------------------------------------------------------------------------
# Registration with detectron2


def dataset_name(json_path: str | Path, image_dir: str | Path) -> str:
    """The detectron2 dataset name for (json_path, image_dir): stable for the same paths,
    different for different ones."""
    json_path, image_dir = Path(json_path).resolve(), Path(image_dir).resolve()
    digest = hashlib.sha1(f"{json_path}\n{image_dir}".encode()).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9]+", "_", f"{json_path.parent.name}_{json_path.stem}").strip("_")
    return f"{_NAME_PREFIX}_{slug}_{digest}"


def register_coco_dataset(json_path: str | Path, image_dir: str | Path) -> str:
    """Register a COCO instances dataset with detectron2 and return its name.

    Idempotent: the same paths give the same name, and registering again replaces the earlier
    entry (and its metadata), so a file edited in between is read afresh.
    """
    name = dataset_name(json_path, image_dir)
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
    if name in MetadataCatalog.list():
        MetadataCatalog.remove(name)
    register_coco_instances(name, {}, str(Path(json_path).resolve()), str(Path(image_dir).resolve()))
    return name


def read_categories(json_path: str | Path) -> list[dict]:
    """The `categories` of a COCO file, sorted by id (the order detectron2 gives class indices)."""
    data = read_dataset_json(json_path)
    return sorted(data["categories"], key=lambda c: c["id"])


def uses_rle(json_path: str | Path) -> bool:
    """Whether any annotation's mask is RLE (detectron2 then needs INPUT.MASK_FORMAT bitmask)."""
    data = read_dataset_json(json_path)
    return any(isinstance(a.get("segmentation"), dict) for a in data["annotations"])



# ---------------------------------------------------------------------------------------------
# Augmentations at training time


def photo_augmentations(cfg) -> list[T.Augmentation]:
    """Geometric and photometric variety for photo-like data (recipe v2 of the demo data):
    sometimes a zoom into half the image (a crack in a large photo seen closer), the config's
    resize, flips both ways, a small rotation, and brightness, contrast and saturation changes."""
    return [
        T.RandomApply(T.RandomCrop("relative_range", (0.5, 0.5)), prob=0.3),
        T.ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MAX_SIZE_TRAIN, cfg.INPUT.MIN_SIZE_TRAIN_SAMPLING),
        T.RandomFlip(horizontal=True, vertical=False),
        T.RandomFlip(horizontal=False, vertical=True),
        T.RandomApply(T.RandomRotation([-15, 15], expand=False), prob=0.3),
        T.RandomBrightness(0.75, 1.25),
        T.RandomContrast(0.75, 1.25),
        T.RandomSaturation(0.6, 1.4),
    ]


def zoom_augmentations(cfg) -> list[T.Augmentation]:
    """`photo_augmentations` with more and closer zoom-ins (half the time, to 30-100 % of each
    side): a model that must also judge small crops of a photo (CrackForest's 160-px tiles of
    480 x 320 photos, seen twice as large) sees such crops in training."""
    return [T.RandomApply(T.RandomCrop("relative_range", (0.3, 0.3)), prob=0.5), *photo_augmentations(cfg)[1:]]


# name -> the augmentations, or None for detectron2's own from the config (INPUT.MIN_SIZE_TRAIN,
# INPUT.RANDOM_FLIP, INPUT.CROP): what the v1 demo pair was trained with.
AUGMENTATIONS = {"standard": None, "photo": photo_augmentations, "zoom": zoom_augmentations}


class _TightBoxMapper(DatasetMapper):
    """DatasetMapper whose boxes are taken again from the masks after augmentation (rotations
    and crops move mask pixels). detectron2's own `recompute_boxes` fails on images without
    instances, which are the negatives here."""

    def __call__(self, dataset_dict: dict) -> dict:
        out = super().__call__(dataset_dict)
        instances = out.get("instances")
        if instances is not None and instances.has("gt_masks"):
            instances.gt_boxes = instances.gt_masks.get_bounding_boxes()
        return out


def train_mapper(cfg, augment: str = "standard") -> DatasetMapper:
    """detectron2's training DatasetMapper with the augmentation set `augment` (a key of
    AUGMENTATIONS). Raises ValueError for an unknown name."""
    if augment not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation set {augment!r}; choose one of {', '.join(AUGMENTATIONS)}.")
    build = AUGMENTATIONS[augment]
    if build is None:
        return DatasetMapper(cfg, is_train=True)
    mapper_class = _TightBoxMapper if cfg.MODEL.MASK_ON else DatasetMapper
    return mapper_class(cfg, is_train=True, augmentations=build(cfg))
