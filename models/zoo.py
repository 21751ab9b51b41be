"""Naming a model: the shipped demo pair by name, or a user's files. The one resolver that the
app's sidebar and every command use; each gives a `models.loaded.ModelSpec` for `models.load`.

- `resolve("demo-bam")`, `resolve("CONFIG.yaml:WEIGHTS.pth")`, `resolve("CONFIG.yaml")`: a
  named model or a config with its weights (none: random weights), as the command line names them;
- `from_files(config, weights)`: the same for a config and weights given apart (the sidebar).

Both check that the files are there (and, where `allowed_dirs` is given, inside those folders)
and raise ModelLoadError with one sentence otherwise.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from models.build import CONFIG_DIR
from models.errors import ModelLoadError
from models.loaded import ModelSpec
from models.safe_load import inside

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "demo" / "weights"


NAMED = {
    "demo-bam": ModelSpec("Mask R-CNN + BAM (demo)", CONFIG_DIR / "crack_R_18_FPN_bam.yaml",
                          WEIGHTS_DIR / "bam.pth", ("crack",)),
    "demo-baseline": ModelSpec("Mask R-CNN (demo baseline)", CONFIG_DIR / "crack_R_18_FPN.yaml",
                               WEIGHTS_DIR / "baseline.pth", ("crack",)),
}


def resolve(spec: str, *, random_if_missing: bool = False) -> ModelSpec:
    """The spec of a command-line model name.

    Args:
        spec: a name from NAMED, or "CONFIG.yaml:WEIGHTS.pth" (or just CONFIG.yaml: random weights).
        random_if_missing: a named model whose weights are not in this checkout runs with random
            weights and says so in its `note` (without it, that raises).

    Returns:
        The ModelSpec (device "auto": `dataclasses.replace` it for another).

    Raises:
        models.ModelLoadError: a file is not there, or the text is neither form.
    """
    if spec in NAMED:
        found = NAMED[spec]
        if found.weights is None or found.weights.is_file():
            return found
        if not random_if_missing:
            raise ModelLoadError(f"{spec}: its weights {found.weights} are missing from this checkout.")
        shown = found.weights.relative_to(found.weights.parents[2])
        return replace(found, weights=None,
                       note=f"demo weights not found ({shown}): {found.label} runs with random weights")
    return from_files(*split_spec(spec))


def split_spec(spec: str) -> tuple[Path, Path | None]:
    """"CONFIG.yaml:WEIGHTS.pth" -> (config, weights); "CONFIG.yaml" -> (config, None). The split
    is after the config's name, as Windows paths hold ':' too. Raises ModelLoadError otherwise."""
    config, weights = spec, ""
    for suffix in (".yaml:", ".yml:"):
        if suffix in spec:
            head, _, weights = spec.rpartition(suffix)
            config = head + suffix[:-1]
    if not config.endswith((".yaml", ".yml")):
        raise ModelLoadError(f"{spec!r} is neither a named model ({', '.join(NAMED)}) nor CONFIG.yaml:WEIGHTS.pth")
    return Path(config), Path(weights) if weights else None


def from_files(config: str | Path, weights: str | Path | None = None, *, label: str | None = None,
               class_names: tuple[str, ...] = (), allowed_dirs: tuple[Path, ...] | None = None) -> ModelSpec:
    """The spec of a config and its weights given apart (the sidebar's upload or server path).

    Args:
        config, weights: the files; weights None or "": random weights, with a note.
        label: the model's name (default: the weights' file name, else the config's).
        class_names: the user's, in the model's class order (() : metadata.json beside the weights).
        allowed_dirs: where the files must lie (links and `..` resolved; None: anywhere); the
            config's `_BASE_` chain may read these and the shipped configs.

    Returns:
        The ModelSpec.

    Raises:
        models.ModelLoadError: a file is not there or lies outside `allowed_dirs`.
    """
    config = Path(str(config).strip())
    weights = Path(str(weights).strip()) if weights and str(weights).strip() else None
    for path, what in ((config, "config"), (weights, "weights")):
        if path is None:
            continue
        if allowed_dirs is not None and not inside(path, allowed_dirs):
            raise ModelLoadError(f"{path.name or path}: refused: the {what} file is outside the "
                                 f"folders this server lets visitors read.")
        if not path.is_file():
            raise ModelLoadError(f"{path.name or path}: {what} file not found.")
    note = None if weights else (f"no weights given for {config.name}: random weights, so it runs as an untrained "
                                 "network and its detections and maps mean nothing")
    bases = None if allowed_dirs is None else (*allowed_dirs, CONFIG_DIR)
    return ModelSpec(label or (weights.stem if weights else config.stem), config, weights, class_names, note,
                     allowed_dirs=bases)
