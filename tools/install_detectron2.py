"""Make detectron2 importable in the current Python environment.

- If detectron2 is already importable (an official build from source, with its compiled ops),
  it is used untouched and nothing is installed.
- Otherwise detectron2 v0.6 is installed from the package registry's source release
  `pb1-detectron2==0.6` (pinned by hash in tools/detectron2-source.txt), as pure Python: its
  C++/CUDA sources are missing from that release, so the `detectron2/` package is repackaged as a
  plain wheel and installed with pip. `models/detectron2_compat.py` makes it work with today's
  Pillow, NumPy and setuptools, and without `detectron2._C`.

Run it with the interpreter of the target environment: `.venv/bin/python tools/install_detectron2.py`.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE_PIN = HERE / "detectron2-source.txt"
VERSION = "0.6+pure"  # the local label says: no compiled ops
WHEEL_TAG = "py3-none-any"


def existing_detectron2() -> str | None:
    spec = importlib.util.find_spec("detectron2")
    return None if spec is None else str(Path(spec.origin).parent)


def pinned_release() -> tuple[str, str, str]:
    """(project, version, sha256) from the pin file."""
    for line in SOURCE_PIN.read_text().splitlines():
        m = re.match(r"\s*([\w.-]+)==([\w.]+)\s+--hash=sha256:([0-9a-f]{64})", line)
        if m:
            return m.group(1), m.group(2), m.group(3)
    raise SystemExit(f"no pinned release in {SOURCE_PIN}")


def download_sdist(dest: Path) -> Path:
    """Fetch the pinned source release from the package index and check its hash.

    `pip download` cannot be used: pip rejects this release's metadata (an optional extra names
    a direct URL) before it downloads. So the file is found through the index's Simple API
    (PEP 503), the same way pip finds it, and its sha256 is checked against the pin.
    """
    project, version, sha256 = pinned_release()
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    page_url = f"{index}/{project}/"
    page = urllib.request.urlopen(page_url, timeout=60).read().decode()
    filename = f"{project}-{version}.tar.gz"
    links = [h for h in re.findall(r'href="([^"]+)"', page) if filename in h]
    if not links:
        raise SystemExit(f"{filename} is not listed at {page_url}")
    data = urllib.request.urlopen(urllib.parse.urljoin(page_url, links[0]), timeout=300).read()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise SystemExit(f"{filename}: sha256 does not match the pin in {SOURCE_PIN}; not installed")
    sdist = dest / filename
    sdist.write_bytes(data)
    return sdist


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(sdist: Path, dest: Path) -> Path:
    """Repackage the sdist's `detectron2/` package as a pure-Python wheel."""
    dist_info = f"detectron2-{VERSION}.dist-info"
    wheel = dest / f"detectron2-{VERSION}-{WHEEL_TAG}.whl"
    records = []
    with tarfile.open(sdist) as tar, zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as out:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 2 or parts[1] != "detectron2":
                continue
            name = "/".join(parts[1:])
            data = tar.extractfile(member).read()
            out.writestr(name, data)
            records.append(_record_line(name, data))
        metadata = {
            "METADATA": f"Metadata-Version: 2.1\nName: detectron2\nVersion: {VERSION}\n"
            "Summary: detectron2 v0.6 Python sources (pb1-detectron2==0.6), without compiled ops\n",
            "WHEEL": f"Wheel-Version: 1.0\nGenerator: install_detectron2\nRoot-Is-Purelib: true\nTag: {WHEEL_TAG}\n",
        }
        for fname, text in metadata.items():
            out.writestr(f"{dist_info}/{fname}", text)
            records.append(_record_line(f"{dist_info}/{fname}", text.encode()))
        out.writestr(f"{dist_info}/RECORD", "\n".join(records + [f"{dist_info}/RECORD,,"]) + "\n")
    return wheel


def main() -> int:
    found = existing_detectron2()
    if found:
        print(f"detectron2 is already importable ({found}); using it as it is.")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wheel = build_wheel(download_sdist(tmp), tmp)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
                       check=True)
    print(f"Installed detectron2 {VERSION} (pure Python, from pb1-detectron2==0.6).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
