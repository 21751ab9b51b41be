"""Hostile and careless inputs, built by the tests themselves (issue: no file may run code, no
upload may exhaust the server). Each function writes one file and returns its path; the files
that would run code touch `marker` if they ever did."""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import torch

import models


def yaml_running_code(folder: Path, marker: Path, name: str = "evil.yaml") -> Path:
    """A config whose YAML tag calls os.system when loaded with yaml.unsafe_load."""
    path = folder / name
    path.write_text(f'_BASE_: "{models.CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml"}"\n'
                    f'MODEL:\n  DEVICE: !!python/object/apply:os.system ["touch {marker}"]\n')
    return path


def yaml_with_evil_base(folder: Path, marker: Path) -> Path:
    """A harmless-looking config whose _BASE_ is the code-running one."""
    yaml_running_code(folder, marker, "base.yaml")
    path = folder / "innocent.yaml"
    path.write_text('_BASE_: "base.yaml"\nMODEL:\n  ROI_HEADS:\n    NUM_CLASSES: 1\n')
    return path


def yaml_billion_laughs(folder: Path) -> Path:
    """Nested aliases: a few hundred bytes that expand to 10^9 items once the config is built."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 10) + "]")
    path = folder / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class _RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def pickle_running_code(folder: Path, marker: Path, name: str = "evil.pth") -> Path:
    """A PyTorch-style checkpoint whose unpickling would call os.system."""
    path = folder / name
    torch.save({"model": {"x": torch.zeros(1)}, "payload": _RunsCode(marker)}, path)
    return path


def zoo_pickle_running_code(folder: Path, marker: Path) -> Path:
    """A detectron2 model-zoo style .pkl with a code-running payload beside its arrays."""
    import numpy as np

    path = folder / "evil_zoo.pkl"
    with path.open("wb") as f:
        pickle.dump({"model": {"w": np.zeros(2, np.float32)}, "__author__": _RunsCode(marker)}, f)
    return path


def zip_bomb_weights(folder: Path, expanded: int = 2 << 30) -> Path:
    """A ~2 MB PyTorch zip checkpoint whose one tensor record (deflated) expands to `expanded`
    bytes (2 GiB): PyTorch allocates all of it before it notices the size is wrong."""
    buffer = io.BytesIO()
    torch.save({"model": {"w": torch.zeros(4)}}, buffer)
    path = folder / "bomb.pth"
    chunk = bytes(16 << 20)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, \
            zipfile.ZipFile(path, "w", compresslevel=1) as out:
        for info in source.infolist():
            if info.filename.endswith("data/0"):
                record = zipfile.ZipInfo(info.filename)
                record.compress_type = zipfile.ZIP_DEFLATED
                with out.open(record, "w", force_zip64=True) as f:
                    for _ in range(expanded // len(chunk)):
                        f.write(chunk)
            else:
                out.writestr(info, source.read(info))
    return path


def text_as_weights(folder: Path) -> Path:
    path = folder / "notes.pth"
    path.write_text("these are my training notes, not weights\n" * 10)
    return path


def image_as_weights(folder: Path) -> Path:
    """A JPEG photo picked by mistake as the weights file."""
    import numpy as np
    from PIL import Image

    path = folder / "photo.pth"
    Image.fromarray(np.full((32, 48, 3), 128, np.uint8)).save(path, format="JPEG")
    return path


def config_with_missing_base(folder: Path) -> Path:
    path = folder / "orphan.yaml"
    path.write_text('_BASE_: "Base-RCNN-FPN.yaml"\nMODEL:\n  MASK_ON: True\n')
    return path


def config_asking_for_cuda(folder: Path) -> Path:
    """A user's config as detectron2's zoo writes it: the device named, "cuda"."""
    path = folder / "gpu_model.yaml"
    path.write_text(f'_BASE_: "{models.CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml"}"\nMODEL:\n  DEVICE: "cuda"\n')
    return path


def png_header_only(width: int, height: int, *, color: bool = True, decodable: bool = True) -> bytes:
    """A PNG that claims width x height pixels: its IDAT holds a small, valid zlib stream of
    zero rows, so it decodes (to black) at a cost far above its size. decodable=False: a few
    bytes of data only (quick to build at any size; only the header can be read)."""
    channels = 3 if color else 1
    if decodable:
        row, packer = b"\0" + bytes(width * channels), zlib.compressobj(9)
        raw = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    else:
        raw = zlib.compress(b"\0" * 64)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2 if color else 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def deeply_nested_json(folder: Path, depth: int = 20_000, name: str = "deep.json") -> Path:
    """A JSON file of `depth` nested lists (40 KB): beyond the parser's recursion limit."""
    path = folder / name
    path.write_text("[" * depth + "]" * depth)
    return path


def gif_named(path: Path, size: tuple[int, int] = (128, 128)) -> Path:
    """A GIF (a Pillow format the app does not read) written under `path`'s name, e.g. x.png."""
    from PIL import Image

    Image.new("P", size).save(path, format="GIF")
    return path


def polygon_far_outside(reach: float) -> list[list[float]]:
    """A COCO segmentation: one triangle with a point at (reach, reach); reach 1e9 made pycocotools
    draw an outline of billions of pixels (gigabytes, or a crash)."""
    return [[10.0, 10.0, 20.0, 10.0, reach, reach]]
