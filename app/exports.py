"""Files the pages offer for download, and file names. Plain Python (no Streamlit)."""

from __future__ import annotations

import csv
import io
import zipfile

import cv2
import numpy as np
from matplotlib.figure import Figure
from PIL import Image


def thumbnail(image: np.ndarray, side: int = 160) -> np.ndarray:
    """The (H, W, 3) image shrunk so that its longer side is at most `side` (never enlarged)."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def png_bytes(rgb: np.ndarray) -> bytes:
    """An (H, W, 3) uint8 picture as a PNG file."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG")
    return buffer.getvalue()


def rows_csv(rows: list[dict]) -> str:
    """Rows of one table as CSV text (None: empty cell); "" without rows."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def pdf_pages(figures: list[Figure]) -> bytes:
    """Figures as one multi-page PDF."""
    # Imported here: it pulls fontTools, which only this export needs (not the app's first view).
    from matplotlib.backends.backend_pdf import PdfPages

    buffer = io.BytesIO()
    with PdfPages(buffer) as pdf:
        for fig in figures:
            pdf.savefig(fig)
    return buffer.getvalue()


def zip_files(files: dict[str, bytes]) -> bytes:
    """{file name: content} as one zip archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def unique_names(names: list[str]) -> list[str]:
    """File names made distinct: a repeated 'a.png' becomes 'a (2).png'."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            stem, dot, suffix = name.rpartition(".")
            name = f"{stem} ({seen[name]}).{suffix}" if dot else f"{name} ({seen[name]})"
        out.append(name)
    return out


def stem(name: str) -> str:
    """'photo.v2.png' -> 'photo.v2'."""
    return name.rsplit(".", 1)[0] if "." in name else name
