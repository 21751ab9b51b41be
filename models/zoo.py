"""Named models: the shipped demo pair, and how a user names their own (CONFIG.yaml:WEIGHTS.pth)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.build import CONFIG_DIR
from models.errors import ModelLoadError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "demo" / "weights"


@dataclass(frozen=True)
class ModelSpec:
    label: str
    config: Path
    weights: Path | None
    class_names: tuple[str, ...] = ()


NAMED = {
    "demo-bam": ModelSpec("Mask R-CNN + BAM (demo)", CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml",
                          WEIGHTS_DIR / "bam.pth", ("crack",)),
    "demo-baseline": ModelSpec("Mask R-CNN (demo baseline)", CONFIG_DIR / "mask_rcnn_R_18_FPN.yaml",
                               WEIGHTS_DIR / "baseline.pth", ("crack",)),
}


def resolve(spec: str) -> ModelSpec:
    """A model name from NAMED, or "CONFIG.yaml:WEIGHTS.pth" (or just CONFIG.yaml: random weights)."""
    if spec in NAMED:
        found = NAMED[spec]
        if not found.weights.is_file():
            raise ModelLoadError(f"{spec}: its weights {found.weights} are missing from this checkout.")
        return found
    config, weights = spec, ""
    for suffix in (".yaml:", ".yml:"):  # split after the config's name: Windows paths hold ':' too
        if suffix in spec:
            head, _, weights = spec.rpartition(suffix)
            config = head + suffix[:-1]
    if not config.endswith((".yaml", ".yml")):
        raise ModelLoadError(f"{spec!r} is neither a named model ({', '.join(NAMED)}) nor CONFIG.yaml:WEIGHTS.pth")
    return ModelSpec(Path(config).stem, Path(config), Path(weights) if weights else None)
