"""A labelled dataset brought in as one zip file (the app's "bring your own dataset"): a COCO
JSON with its images, or images with binary masks (made into COCO by training.import_masks).

Zips are hostile: every entry is checked before anything is written. Refused, one sentence each,
all listed: more than MAX_ENTRIES entries; an entry over MAX_FILE_BYTES or a total over
MAX_TOTAL_BYTES once uncompressed; a compression ratio over MAX_RATIO (images and JSON compress
far less; a zip bomb far more); absolute paths, `..`, links; files other than images, masks,
MATLAB masks and JSON (system clutter such as `__MACOSX/` and `.DS_Store` is skipped quietly).
Extraction counts the bytes it writes, so a header that under-states a size cannot overflow.

A COCO JSON may also come as a file of its own beside a zip of its images (`annotations=`); it
is then the dataset's annotations, whatever JSON the zip holds.

The dataset is labelled by the upload's name and a short hash of its content, so every result
made from it says which upload it came from. Extraction is content-addressed and safe to run twice
at once: each run works in its own staging folder and the first to finish is kept.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from training.data import DataProblemsError, read_dataset_json

MAX_ENTRIES = 5_000
MAX_FILE_BYTES = 64 << 20
MAX_TOTAL_BYTES = 1 << 30
MAX_RATIO = 100
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
ALLOWED_SUFFIXES = IMAGE_SUFFIXES + (".json", ".mat")
_CLUTTER = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini")
IMAGE_FOLDERS = ("images", "image", "imgs", "img", "photos", "JPEGImages")
MASK_FOLDERS = ("masks", "mask", "groundTruth", "ground_truth", "gt", "labels", "label", "annotations",
                "SegmentationClass")


class UploadProblemsError(ValueError):
    """The zip was refused; `problems` lists every reason, one sentence each. Nothing was kept."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class UploadedDataset:
    """A dataset extracted from an upload, ready for evaluation."""

    name: str           # the upload's file name
    digest: str         # the first 10 hex digits of its SHA-256
    json_path: Path
    image_dir: Path
    notes: tuple[str, ...] = field(default=())  # e.g. "made from 40 images and masks: 61 instances"

    @property
    def label(self) -> str:
        """What results made from it are labelled with, e.g. 'cracks.zip (3f9a0c12de)'."""
        return f"{self.name} ({self.digest})"


def content_digest(data: bytes, *more: bytes) -> str:
    """The first 10 hex digits of the SHA-256 of the upload's bytes (and of any further files)."""
    digest = hashlib.sha256(data)
    for part in more:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:10]


def _entry_problem(info: zipfile.ZipInfo) -> str | None:
    """Why one entry may not be extracted (None: fine). Directories and clutter are not asked."""
    name = info.filename
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return f"{name}: an absolute path; a zip's files must stay inside it."
    if ".." in path.parts:
        return f"{name}: a path with '..'; a zip's files must stay inside it."
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"{name}: a link; only plain files are read."
    if path.suffix.lower() not in ALLOWED_SUFFIXES:
        return f"{name}: not an image, a mask or a JSON file."
    if info.file_size > MAX_FILE_BYTES:
        return (f"{name}: {info.file_size / 2**20:.0f} MB uncompressed, more than the {MAX_FILE_BYTES >> 20} MB "
                "a file may have.")
    if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
        return (f"{name}: compressed {info.file_size / info.compress_size:.0f} times, far more than images or "
                f"annotations compress (a zip bomb?).")
    return None


def _is_clutter(info: zipfile.ZipInfo) -> bool:
    name = info.filename
    return info.is_dir() or any(part in name for part in _CLUTTER) or PurePosixPath(name).name.startswith("._")


def check_zip(data: bytes) -> tuple[list[zipfile.ZipInfo], list[str]]:
    """(the entries to extract, every problem found) of a zip's bytes, from its directory alone."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        return [], ["not a zip file (or a damaged one)."]
    with archive:
        infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        return [], [f"{len(infos):,} entries, more than the {MAX_ENTRIES:,} a dataset zip may have."]
    entries = [info for info in infos if not _is_clutter(info)]
    problems = [p for p in map(_entry_problem, entries) if p]
    total = sum(info.file_size for info in entries)
    if total > MAX_TOTAL_BYTES:
        problems.append(f"{total / 2**30:.1f} GB uncompressed, more than the {MAX_TOTAL_BYTES >> 30} GB a dataset "
                        "may have.")
    names = [PurePosixPath(i.filename).as_posix().lower() for i in entries]
    if len(set(names)) != len(names):
        problems.append("two entries share a name (perhaps differing only in case); keep one.")
    if not entries and not problems:
        problems.append("the zip holds no images.")
    return entries, problems


def _extract(data: bytes, entries: list[zipfile.ZipInfo], target: Path) -> None:
    """Write the checked entries under `target`, counting what is written: never more than each
    entry's declared size (nor the caps), whatever its data inflates to."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in entries:
            out = target.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with archive.open(info) as source, out.open("wb") as sink:
                while chunk := source.read(1 << 20):
                    written += len(chunk)
                    if written > min(info.file_size, MAX_FILE_BYTES):
                        raise UploadProblemsError([f"{info.filename}: holds more data than its header says."])
                    sink.write(chunk)


def _folder_named(root: Path, names: tuple[str, ...]) -> Path | None:
    wanted = {n.lower() for n in names}
    found = sorted(p for p in root.rglob("*") if p.is_dir() and p.name.lower() in wanted)
    return min(found, key=lambda p: len(p.parts)) if found else None


def _coco_image_dir(json_path: Path, root: Path) -> Path | None:
    """The folder a COCO file's `file_name`s are relative to: beside it, in images/ beside it, or
    in the zip's images folder, whichever holds its first images."""
    try:
        data = read_dataset_json(json_path)
    except DataProblemsError as e:
        raise UploadProblemsError(e.problems) from None
    images = data.get("images") if isinstance(data, dict) else None
    names = [img.get("file_name") for img in (images if isinstance(images, list) else [])[:20] if isinstance(img, dict)]
    names = [n for n in names if isinstance(n, str) and n]
    candidates = [json_path.parent / "images", json_path.parent, root / "images", root]
    candidates += [p for p in (_folder_named(root, IMAGE_FOLDERS),) if p]
    if names:  # any folder where the first file_name leads to a file (a JSON given beside a zip)
        tail = PurePosixPath(names[0]).parts
        candidates += sorted({Path(*found.parts[:len(found.parts) - len(tail)])
                              for found in root.rglob(tail[-1]) if found.parts[-len(tail):] == tail})
    for folder in candidates:
        if names and all((folder / n).is_file() for n in names):
            return folder
    return None


def extract_dataset(data: bytes, name: str, out_root: Path, *, annotations: tuple[str, bytes] | None = None,
                    progress: Callable[[int, int], None] | None = None) -> UploadedDataset:
    """Check and extract an uploaded dataset zip into `out_root/<digest>/`; make COCO from masks
    where it holds no JSON. The same content again is extracted once (its folder is reused).

    Args:
        data: the zip's bytes.
        name: the upload's file name (for messages and labels).
        out_root: where datasets are kept (one folder per content digest).
        annotations: (file name, bytes) of a COCO JSON uploaded beside the zip (of its images).
        progress: passed to training.import_masks when masks are imported.

    Returns:
        The UploadedDataset.

    Raises:
        UploadProblemsError: every reason the zip cannot be used, one sentence each; nothing is
            kept of it.
    """
    from training.import_masks import ImportProblemsError, import_masks

    digest = content_digest(data, *((annotations[1],) if annotations else ()))
    final = Path(out_root) / digest
    if (final / "dataset.txt").is_file():  # extracted before: the same content, the same dataset
        return _extracted(name, digest, final)
    entries, problems = check_zip(data)
    problems = [f"{name}: {p}" for p in problems]
    if annotations:
        problems += _json_problems(*annotations)
    if problems:
        raise UploadProblemsError(problems)
    Path(out_root).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=out_root))
    try:
        files = staging / "files"
        _extract(data, entries, files)
        jsons = sorted(files.rglob("*.json"), key=lambda p: (len(p.parts), str(p)))
        if annotations:  # the JSON given beside the zip is the dataset's
            jsons = [staging / "annotations" / "annotations.json"]
            jsons[0].parent.mkdir()
            jsons[0].write_bytes(annotations[1])
        notes: tuple[str, ...] = ()
        if jsons:
            json_path, image_dir = jsons[0], _coco_image_dir(jsons[0], files)
            if image_dir is None:
                named = annotations[0] if annotations else jsons[0].name
                raise UploadProblemsError([f"{name}: the images {named} names are not in the zip (looked "
                                           f"beside it, in images/ beside it and in the zip's folders)."])
        else:
            images, masks = _folder_named(files, IMAGE_FOLDERS), _folder_named(files, MASK_FOLDERS)
            if images is None or masks is None:
                raise UploadProblemsError([f"{name}: holds no COCO JSON, and no pair of folders of images "
                                           f"({', '.join(IMAGE_FOLDERS[:3])}, ...) and masks "
                                           f"({', '.join(MASK_FOLDERS[:3])}, ...) to make one from."])
            try:
                summary = import_masks(images, masks, staging / "coco", progress=progress)
            except ImportProblemsError as e:
                raise UploadProblemsError([f"{name}: {p}" for p in e.problems]) from None
            made = summary.splits[0]
            json_path, image_dir = made.folder / "annotations.json", made.folder / "images"
            notes = (f"made from {made.images} images and their masks: {made.instances} crack instances, "
                     f"{made.negatives} images without any",)
        (staging / "dataset.txt").write_text("\n".join([str(json_path.relative_to(staging)),
                                                        str(image_dir.relative_to(staging)), *notes]) + "\n")
        try:
            staging.rename(final)  # atomic; refused where another extraction of the same content finished first
        except OSError:
            if not (final / "dataset.txt").is_file():
                raise
            shutil.rmtree(staging, ignore_errors=True)  # the same content is there already: keep that one
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _extracted(name, digest, final)


def _extracted(name: str, digest: str, folder: Path) -> UploadedDataset:
    """The dataset an extraction left in `folder` (its dataset.txt: JSON, image folder, notes)."""
    json_path, image_dir, *notes = (folder / "dataset.txt").read_text().splitlines()
    return UploadedDataset(name, digest, folder / json_path, folder / image_dir, tuple(notes))


def _json_problems(name: str, data: bytes) -> list[str]:
    """Why a COCO JSON uploaded beside a zip cannot be used, one sentence each ([]: fine)."""
    from training.data import MAX_DATASET_JSON_BYTES

    if not name.lower().endswith(".json"):
        return [f"{name}: not a JSON file; give the COCO annotations as .json."]
    if len(data) > MAX_DATASET_JSON_BYTES:
        return [f"{name}: {len(data) / 2**20:.0f} MB, more than the {MAX_DATASET_JSON_BYTES >> 20} MB an annotation "
                "file may have."]
    return []
