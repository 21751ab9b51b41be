"""Reading untrusted images into (H, W, 3) uint8 RGB, with readable errors.

Handles grayscale, RGBA (composited on white), palette, 16-bit and float images and EXIF
orientation. Refuses what is not an image, is empty or truncated, or is too large to analyse;
decompression bombs are caught before their pixels are decoded.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from models.limits import MAX_INPUT_SIDE

MAX_PIXELS = 40_000_000  # about 7000 x 5700: more would take minutes and gigabytes to analyse
# Images larger than this (longest side) are analysed downscaled, by every front end: the models
# see at most INPUT.MAX_SIZE_TEST pixels anyway (640 for the R-18 demo, 1333 for R-50), while
# full-size masks of a 12-megapixel photo would cost gigabytes per analysis.
ANALYSIS_MAX_SIDE = MAX_INPUT_SIDE
MAX_ASPECT = 50  # a 1 x 40000 strip would be 0 px high at the models' input size
FORMATS = ("JPEG", "PNG", "BMP", "TIFF", "WEBP")
BLOCK_VALUES = 1 << 22  # pixel values converted to uint8 at once (32 MB as float64)


class ImageError(ValueError):
    """An input that is not an image we can analyse; the message says why."""


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """16-bit / 32-bit integer or float pixels as uint8, a block of rows at a time: a 36-megapixel
    float TIFF decodes in a few hundred KB of file, and whole-image float64 temporaries would cost
    about a gigabyte."""
    if array.dtype == np.uint8:
        return array
    step = max(1, BLOCK_VALUES // max(1, array[:1].size))  # rows a block
    blocks = [slice(start, start + step) for start in range(0, len(array), step)]
    out = np.empty(array.shape, np.uint8)
    if np.issubdtype(array.dtype, np.integer):  # 16-bit and 32-bit integers: scale by the type's range
        scale = 255.0 / (65535 if array.max(initial=0) > 255 else 255)
        for rows in blocks:
            out[rows] = np.clip(np.rint(array[rows].astype(np.float64) * scale), 0, 255)
        return out
    lo, hi = 0.0, 1.0  # as min(initial=0) and max(initial=1) over the whole image
    for rows in blocks:
        block = np.nan_to_num(array[rows].astype(np.float64))
        lo, hi = min(lo, float(block.min(initial=0))), max(hi, float(block.max(initial=1)))
    scale = 255.0 if lo >= 0 and hi <= 1 else 255.0 / max(hi - lo, 1e-12)
    offset = 0 if scale == 255.0 else lo
    for rows in blocks:
        out[rows] = np.clip((np.nan_to_num(array[rows].astype(np.float64)) - offset) * scale, 0, 255)
    return out


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if image.mode in ("RGB", "L", "P", "CMYK", "YCbCr", "1"):
        return np.asarray(image.convert("RGB"))
    # 16-bit / 32-bit / float single-channel modes ("I;16", "I", "F"): keep the precision until scaling.
    gray = _to_uint8(np.asarray(image))
    return np.repeat(gray[..., None], 3, axis=2) if gray.ndim == 2 else gray[..., :3]


def load_image(source: str | Path | bytes, *, name: str | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """(H, W, 3) uint8 RGB from a path or the bytes of an upload."""
    name = name or (Path(source).name if not isinstance(source, bytes) else "upload")
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError as e:
        raise ImageError(f"{name}: cannot be read ({e.strerror or e}).") from None
    if not data:
        raise ImageError(f"{name}: the file is empty.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageError(f"{name}: {width} x {height} pixels is too large to analyse "
                                     f"(at most {max_pixels / 1e6:.0f} megapixels); resize it first.")
                if width == 0 or height == 0:
                    raise ImageError(f"{name}: the image has no pixels.")
                if max(width, height) > MAX_ASPECT * min(width, height):
                    raise ImageError(f"{name}: {width} x {height} pixels is too narrow to analyse (at most "
                                     f"{MAX_ASPECT} times longer than wide): its short side would vanish at the "
                                     f"models' input size.")
                image.load()
                ImageOps.exif_transpose(image, in_place=True)  # a returned copy would double the pixels held
                rgb = _to_rgb(image)
        except ImageError:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            if "decompression" in str(e).lower():
                raise ImageError(f"{name}: refused, its pixel count is far beyond what an image needs "
                                 f"(a decompression bomb?).") from None
            raise ImageError(f"{name}: not an image this app reads (JPEG, PNG, BMP, TIFF or WebP).") from None
        except (OSError, SyntaxError, ValueError) as e:
            raise ImageError(f"{name}: the image is damaged or truncated ({e}).") from None
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def fit_for_analysis(image: np.ndarray, max_side: int = ANALYSIS_MAX_SIDE) -> tuple[np.ndarray, str | None]:
    """(H, W, 3) uint8 -> the image to analyse (longest side at most `max_side`, area-averaged)
    and, where it had to be downscaled, a note saying so."""
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image, None
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return small, f"analysed at {size[0]} × {size[1]} pixels (downscaled from {w} × {h})"


def load_for_analysis(source: str | Path | bytes, *, name: str | None = None) -> tuple[np.ndarray, str | None]:
    """`load_image` then `fit_for_analysis`: the one rule every front end applies to an input image."""
    return fit_for_analysis(load_image(source, name=name))
