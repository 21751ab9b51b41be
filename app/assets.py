"""Where the app finds its built-in demo: model pair, sample images (with their annotations), test
split. The app takes every such path from here. Plain Python (no Streamlit).

The demo weights (models.zoo.WEIGHTS_DIR) may be missing from a checkout, the test split is
generated on first use (demo.dataset) and the gallery could be empty; then the app says so and
falls back: random weights (seeded: models.loaded.RANDOM_WEIGHTS_SEED, so every run shows the same),
a few generated sample images.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from demo import dataset as demo_dataset

ROOT = Path(__file__).resolve().parent.parent
SAMPLES_DIR = demo_dataset.SAMPLES_DIR  # demo/samples: images + annotations.json (COCO)
SAMPLE_ANNOTATIONS = SAMPLES_DIR / "annotations.json"
TEST_SPLIT = "test"  # demo/data/test: annotations.json + images/, generated on first use
TEST_SPLIT_JSON = demo_dataset.DATA_DIR / TEST_SPLIT / "annotations.json"
TEST_SPLIT_IMAGES = demo_dataset.DATA_DIR / TEST_SPLIT / "images"
TEST_SPLIT_SIZE = demo_dataset.DEMO_COUNTS[TEST_SPLIT]
# The built-in pair: keys of models.zoo.NAMED (configs in configs/, weights in demo/weights/).
DEMO_WITH, DEMO_WITHOUT = "demo-bam", "demo-baseline"
GENERATED_SAMPLES = 4  # how many images to draw when demo/samples/ holds none
# Upload types offered (viz.images.load_image reads them; it decides, not the extension).
IMAGE_TYPES = ("png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp")
CONFIG_TYPES = ("yaml", "yml")
WEIGHTS_TYPES = ("pth", "pt", "pkl")  # .pkl: detectron2 model-zoo files (numpy only)


@dataclass(frozen=True)
class ImageSource:
    """An image as the user chose it: a sample or an upload, as bytes (decoded later, checked)."""

    name: str
    data: bytes
    origin: str  # "sample" | "generated" | "upload"

    @cached_property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()[:20]


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def sample_images(folder: Path = SAMPLES_DIR, *, generated: int = GENERATED_SAMPLES) -> list[ImageSource]:
    """The demo's sample images (sorted by name); where there are none, `generated` synthetic crack
    images drawn by demo.generator (image i from seed i)."""
    suffixes = {f".{t}" for t in IMAGE_TYPES}
    found = folder.glob("*") if folder.is_dir() else []
    files = sorted(p for p in found if p.is_file() and p.suffix.lower() in suffixes)
    if files:
        return [ImageSource(p.name, p.read_bytes(), "sample") for p in files]
    from demo.generator import make_sample

    return [ImageSource(f"generated-{i}.png", _png(make_sample(np.random.default_rng(i)).image), "generated")
            for i in range(generated)]


def demo_split_ready(json_path: Path = TEST_SPLIT_JSON, image_dir: Path = TEST_SPLIT_IMAGES) -> bool:
    return json_path.is_file() and image_dir.is_dir()


def make_demo_split(progress=None) -> tuple[Path, Path]:
    """Generate the demo test split where it is missing (demo.dataset; a few seconds);
    `progress(done, total)` is called as images are written."""
    return demo_dataset.demo_split(TEST_SPLIT, progress=progress)


def sample_credits(annotations: Path = SAMPLE_ANNOTATIONS) -> dict[str, list[str]]:
    """{source: the sample file names from it}: the `source` of each sample's image entry (e.g. a
    public dataset with its licence), what the gallery says beside the pictures."""
    if not annotations.is_file():
        return {}
    credits: dict[str, list[str]] = {}
    for image in json.loads(annotations.read_text(encoding="utf-8")).get("images", []):
        if isinstance(image.get("source"), str):
            credits.setdefault(image["source"], []).append(image["file_name"])
    return credits


@dataclass(frozen=True)
class GroundTruth:
    """A sample's annotations: instance masks and what the generator put in the picture."""

    masks: tuple[np.ndarray, ...]  # (H, W) bool, one per annotated instance
    class_ids: tuple[int, ...]  # 0-based, in the order of the file's categories
    details: dict  # the image entry's extra fields, e.g. {"surface": "plastic", "distractors": [...]}


def sample_ground_truth(name: str, annotations: Path = SAMPLE_ANNOTATIONS) -> GroundTruth | None:
    """The annotations of sample image `name` (a COCO file beside the samples), or None."""
    if not annotations.is_file():
        return None
    import pycocotools.mask as mask_util

    coco = json.loads(annotations.read_text(encoding="utf-8"))
    image = next((im for im in coco.get("images", []) if im.get("file_name") == name), None)
    if image is None:
        return None
    categories = [c["id"] for c in coco.get("categories", [])]
    masks, classes = [], []
    for ann in coco.get("annotations", []):
        if ann.get("image_id") != image["id"]:
            continue
        segmentation = ann["segmentation"]
        if isinstance(segmentation, list):  # polygons
            rle = mask_util.merge(mask_util.frPyObjects(segmentation, image["height"], image["width"]))
        elif isinstance(segmentation.get("counts"), list):  # uncompressed RLE
            rle = mask_util.frPyObjects(segmentation, image["height"], image["width"])
        else:
            rle = segmentation
        with warnings.catch_warnings():  # pycocotools' own NumPy 2 deprecation notice
            warnings.simplefilter("ignore", DeprecationWarning)
            masks.append(mask_util.decode(rle).astype(bool))
        classes.append(categories.index(ann["category_id"]) if ann["category_id"] in categories else 0)
    extra = {k: v for k, v in image.items() if k not in ("id", "file_name", "width", "height")}
    return GroundTruth(tuple(masks), tuple(classes), extra)
