"""Untrusted images: every promised format and mode, and clear refusals."""

import io

import numpy as np
import pytest
from PIL import Image

from viz.images import ImageError, fit_for_analysis, load_image


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "TIFF", "WEBP"])
def test_formats(fmt):
    rgb = load_image(encode(Image.new("RGB", (30, 20), (200, 40, 10)), fmt))
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8
    assert rgb[..., 0].mean() > rgb[..., 2].mean()


def test_grayscale_rgba_and_16_bit():
    assert load_image(encode(Image.new("L", (8, 6), 90), "PNG"))[0, 0].tolist() == [90, 90, 90]
    transparent = load_image(encode(Image.new("RGBA", (8, 6), (0, 0, 0, 0)), "PNG"))
    assert transparent[0, 0].tolist() == [255, 255, 255]  # composited on white
    ramp = (np.arange(60).reshape(6, 10) * 1000).astype(np.uint16)
    rgb = load_image(encode(Image.fromarray(ramp), "PNG"))
    assert rgb.dtype == np.uint8 and rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == round(59000 * 255 / 65535)


def test_exif_orientation_is_respected():
    image = Image.new("RGB", (40, 20))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    assert load_image(encode(image, "JPEG", exif=exif)).shape == (40, 20, 3)


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"GIF89a not really", "not an image"),
    (b"%PDF-1.4 hello", "not an image"),
])
def test_refusals(data, words):
    with pytest.raises(ImageError, match=words):
        load_image(data, name="upload.png")


def test_truncated_image():
    data = encode(Image.new("RGB", (200, 200)), "PNG")
    with pytest.raises(ImageError, match="upload.png: the image is damaged or truncated"):
        load_image(data[: len(data) // 2], name="upload.png")


def test_too_large_and_decompression_bombs():
    small_file = encode(Image.new("1", (9000, 9000)), "PNG")  # 81 megapixels in a few kB
    assert len(small_file) < 200_000
    with pytest.raises(ImageError, match="too large"):
        load_image(small_file, name="huge.png")
    bomb = encode(Image.new("1", (20000, 20000)), "PNG")
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(bomb, name="bomb.png")


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="cannot be read"):
        load_image(tmp_path / "nope.jpg")


def test_fit_for_analysis_downscales_only_large_images():
    small = np.zeros((100, 200, 3), np.uint8)
    assert fit_for_analysis(small) == (small, None)
    big, note = fit_for_analysis(np.zeros((3000, 4000, 3), np.uint8), 1000)
    assert big.shape == (750, 1000, 3) and "4000 × 3000" in note


def test_a_strip_too_narrow_to_analyse_is_one_sentence():
    """A 40000 x 1 PNG: its short side would be 0 px at any model's input size (issue 22)."""
    from tests import hostile

    with pytest.raises(ImageError, match=r"^strip.png: 40000 x 1 pixels is too narrow to analyse"):
        load_image(hostile.png_strip(), name="strip.png")


def test_a_small_float_tiff_of_36_megapixels_decodes_without_gigabytes(tmp_path):
    """Issue 22 case 12: 36 MP of float pixels in a few hundred KB cost 1.1 GB to decode (whole-image
    float64 copies); measured in a fresh process, against the same process importing only."""
    import subprocess
    import sys
    import textwrap

    from tests import hostile

    path = hostile.float_tiff(tmp_path / "float.tif")
    assert path.stat().st_size < 1 << 20
    code = textwrap.dedent(f"""
        import resource
        from viz.images import load_for_analysis
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        image, note = load_for_analysis({str(path)!r})
        grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024
        print(image.shape[0], image.shape[1], int(image[0, 0, 0]), grew)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    height, width, value, grew = map(int, run.stdout.split()[-4:])
    assert (height, width, value) == (1333, 1333, 63)  # 0.25 of 255, downscaled for analysis
    # Pillow's float pixels (144 MB), their array, the uint8 RGB (108 MB): about 420 MB measured
    assert grew < 600, f"decoding grew the process by {grew} MB"
