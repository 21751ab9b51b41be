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

import numpy as np
import torch
from PIL import Image

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
    Image.new("P", size).save(path, format="GIF")
    return path


def polygon_far_outside(reach: float) -> list[list[float]]:
    """A COCO segmentation: one triangle with a point at (reach, reach); reach 1e9 made pycocotools
    draw an outline of billions of pixels (gigabytes, or a crash)."""
    return [[10.0, 10.0, 20.0, 10.0, reach, reach]]


# ---------------------------------------------------------------------------------------------
# Round two (issue 22): files of a few KB that cost gigabytes or minutes once read.


class _Hex:
    """Pickles as _codecs.encode(inner, "hex"): allowed by torch's weights-only unpickler."""

    def __init__(self, inner):
        self.inner = inner

    def __reduce__(self):
        import _codecs

        return _codecs.encode, (self.inner, "hex")


def weights_doubling_strings(folder: Path, levels: int = 24) -> Path:
    """~3 KB: a string hex-encoded `levels` times, each level doubling it (2^24 KB = 16 GB)."""
    payload: object = b"a" * 1024
    for _ in range(levels):
        payload = _Hex(payload)
    path = folder / "doubling.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "notes": payload}, path)
    return path


def weights_shared_references(folder: Path, levels: int = 7) -> Path:
    """~2 KB of nested dicts whose values are the same dict ten times: 10^levels leaves once copied out."""
    node: object = {"w": torch.zeros(1)}
    for _ in range(levels):
        node = {f"k{i}": node for i in range(10)}
    path = folder / "shared.pth"
    torch.save({"model": node}, path)
    return path


def weights_many_tensors(folder: Path, count: int = 750_000) -> Path:
    """A .pth of `count` one-element views of one storage (tens of MB of index)."""
    base = torch.zeros(count)
    path = folder / "many.pth"
    torch.save({"model": {f"t{i}": base[i:i + 1] for i in range(count)}}, path)
    return path


def weights_with_nan(folder: Path, model: torch.nn.Module) -> Path:
    """The model's own weights with NaN in one tensor and inf in another (a diverged run)."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    floats = [k for k, v in state.items() if v.is_floating_point()]
    state[floats[0]].view(-1)[0] = float("nan")
    state[floats[-1]].view(-1)[0] = float("inf")
    path = folder / "diverged.pth"
    torch.save({"model": state}, path)
    return path


def zoo_pickle_without_array_data(folder: Path) -> Path:
    """A .pkl whose numpy array is built by _reconstruct with a shape and no state: uninitialised
    memory of any size (here 10^9 float64 = 8 GB)."""
    path = folder / "uninitialised.pkl"
    body = (b"\x80\x02}q\x00X\x05\x00\x00\x00modelq\x01}q\x02X\x01\x00\x00\x00wq\x03"
            b"cnumpy.core.multiarray\n_reconstruct\nq\x04cnumpy\nndarray\nq\x05J\x00\xca\x9a;\x85q\x06"
            b"cnumpy\ndtype\nq\x07X\x02\x00\x00\x00f8q\x08K\x00K\x01\x87q\tRq\n\x87q\x0bRq\x0css.")
    path.write_bytes(body)
    return path


def pickle_holding_itself(folder: Path) -> Path:
    node: dict = {"w": torch.zeros(1)}
    node["self"] = node
    path = folder / "loop.pth"
    torch.save({"model": node}, path)
    return path


def config_with(folder: Path, name: str, yaml_body: str) -> Path:
    """A config on the shipped R-18 BAM one, with `yaml_body` (YAML text) on top."""
    path = folder / name
    path.write_text(f'_BASE_: "{models.CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml"}"\n{yaml_body}')
    return path


def config_base_fan_out(folder: Path, levels: int = 5, fan: int = 10) -> Path:
    """`levels` configs of a few hundred bytes, each naming the next `fan` times: fvcore would read
    the last one fan^levels times."""
    last = config_with(folder, f"fan{levels}.yaml", "")
    for i in range(levels - 1, -1, -1):
        (folder / f"fan{i}.yaml").write_text("_BASE_: [" + ", ".join([f'"fan{i + 1}.yaml"'] * fan) + "]\n")
    assert last.is_file()
    return folder / "fan0.yaml"


def deep_yaml(folder: Path, depth: int = 20_000) -> Path:
    path = folder / "deep.yaml"
    path.write_text("MODEL: " + "[" * depth + "]" * depth + "\n")
    return path


def png_strip(width: int = 40_000, height: int = 1) -> bytes:
    """A valid PNG of a 1-pixel-high strip: its short side vanishes at any model's input size."""
    return png_header_only(width, height)


def float_tiff(path: Path, side: int = 6000) -> Path:
    """A side x side single-channel float32 TIFF (36 MP by default) of one value, deflated to a few
    hundred KB: its decoding is what costs."""
    Image.fromarray(np.full((side, side), 0.25, np.float32), mode="F").save(path, compression="tiff_adobe_deflate")
    return path
