"""Reading configs and weights files that may be hostile: nothing in them runs code, and nothing
in them makes the process allocate more than the model being loaded needs.

Every front end (app, `analyze`, `evaluate`, `train`) reads files only through this module.

Configs: YAML with `yaml.safe_load` semantics all the way down the `_BASE_` chain. fvcore would
fall back to `yaml.unsafe_load` (detectron2's `merge_from_file` defaults to `allow_unsafe=True`),
so the chain is walked and checked here first, and detectron2 is then told `allow_unsafe=False`.
Refused: Python tags (`!!python/...`), configs whose aliases expand to absurd sizes (a "billion
laughs": cheap to parse, exponential once the config is built), bases on the web (fvcore would download
them), missing or oversized files, cycles, too deep a chain, and, where `allowed_dirs` is given,
any file of the chain outside those folders.

Weights: `torch.load(weights_only=True)` (tensors and plain containers only) for PyTorch files;
for detectron2 model-zoo `.pkl` files, an unpickler that admits numpy arrays and plain containers
only. Before anything is unpickled, the sizes the file declares (a zip archive's record sizes,
otherwise the file size) are checked against `max_bytes`, which callers derive from the model
being loaded: a small file whose compressed records expand to gigabytes is refused unread. The
unpickling itself runs in a child process with a memory and a CPU-time limit (models.unpickle):
a few kilobytes of allowed data can still ask for gigabytes.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch
import yaml

from models import unpickle
from models.errors import CheckpointError, ConfigError

T = TypeVar("T")

MAX_CONFIG_BYTES = 1 << 20  # detectron2's largest configs are a few KB
MAX_BASE_DEPTH = 8
MAX_CONFIG_FILES = 16  # a config and all its bases, each read once
MAX_ZIP_RECORDS = 100_000
MAX_PICKLE_BYTES = 16 << 20  # a checkpoint's index holds names and shapes (R-50 + optimizer: ~300 KB)
CONFIG_SUFFIXES = (".yaml", ".yml")

# ------------------------------------------------------------------------------------------------
# Configs


MAX_CONFIG_VALUES = 100_000  # detectron2's full default config has about 400


def _count_values(data: object, limit: int) -> int:
    """How many values `data` holds once aliases are expanded, counting stops past `limit`:
    safe_load keeps an alias as a shared reference (cheap), but building a config copies it."""
    count, stack = 0, [data]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def inside(path: str | Path, folders: list[Path] | tuple[Path, ...]) -> bool:
    """Whether `path`, with links and `..` resolved, lies in one of `folders` (resolved paths)."""
    real = Path(path).resolve()
    return any(real == folder or folder in real.parents for folder in folders)


def _read_yaml(path: Path, label: str) -> dict:
    try:
        size = path.stat().st_size
    except OSError:
        raise ConfigError(f"{label}: file not found.") from None
    if not path.is_file():
        raise ConfigError(f"{label}: not a file ({path.name}).")
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{label}: {size / 2**20:.1f} MB is far too large for a config "
                          f"(at most {MAX_CONFIG_BYTES >> 10} KB).")
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        raise ConfigError(f"{label}: not a text file; a config is YAML text.") from None
    try:
        data = yaml.safe_load(text)
    except yaml.constructor.ConstructorError as e:
        tag = getattr(e, "problem", "") or ""
        raise ConfigError(f"{label}: refused: it uses YAML tags that would create Python objects or run "
                          f"code ({' '.join(tag.split())}); a detectron2 config is plain YAML.") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{label}: not valid YAML ({' '.join(str(e).split())}).") from None
    except RecursionError:
        raise ConfigError(f"{label}: nested far too deeply to be a config.") from None
    if _count_values(data, MAX_CONFIG_VALUES) > MAX_CONFIG_VALUES:
        raise ConfigError(f"{label}: refused: it expands to more than {MAX_CONFIG_VALUES} values "
                          f"(nested YAML aliases?); a detectron2 config has a few hundred.")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: not a detectron2 config (its top level is not a mapping of keys).")
    return data


def check_config_file(config_file: str | Path, *, allowed_dirs: list[str | Path] | None = None) -> str | None:
    """Walk `config_file` and its `_BASE_` chain, as fvcore resolves it, and raise ConfigError
    (naming the file and the reason) if any file of it is not safe, plain YAML. Returns the
    MODEL.DEVICE the chain names, or None where it names none (detectron2 then says "cuda").

    allowed_dirs: where given, every file of the chain must lie in one of these folders (after
    resolving links and `..`); None allows any local file (the command line, run by the files' owner).
    """
    folders = None if allowed_dirs is None else [Path(d).resolve() for d in allowed_dirs]
    top = Path(config_file)
    read: set[Path] = set()

    def walk(path: Path, chain: tuple[Path, ...]) -> str | None:
        label = top.name if not chain else f"{top.name}'s _BASE_ {path.name}"
        real = path.resolve()
        if folders is not None and not inside(real, folders):
            raise ConfigError(f"{label}: refused: the file lies outside the folders this app may read.")
        if real in chain:
            raise ConfigError(f"{label}: its _BASE_ chain loops back to {path.name}.")
        if real in read:  # fvcore would read it once per mention: a few files could mean days of reading
            raise ConfigError(f"{top.name}: its _BASE_ chain names {path.name} more than once; name each file once.")
        read.add(real)
        if len(read) > MAX_CONFIG_FILES:
            raise ConfigError(f"{top.name}: its _BASE_ chain holds more than {MAX_CONFIG_FILES} files.")
        if len(chain) > MAX_BASE_DEPTH:
            raise ConfigError(f"{top.name}: its _BASE_ chain is more than {MAX_BASE_DEPTH} files deep.")
        if path.suffix.lower() not in CONFIG_SUFFIXES:
            raise ConfigError(f"{label}: a config must be a .yaml file (got {path.name!r}).")
        data = _read_yaml(path, label)
        bases, device = data.get("_BASE_", []), None
        for base in bases if isinstance(bases, list) else [bases]:
            if not isinstance(base, str) or not base:
                raise ConfigError(f"{label}: _BASE_ must name a config file (got {base!r}).")
            if base.startswith(("http://", "https://")) or "://" in base:
                raise ConfigError(f"{label}: _BASE_ {base!r} is on the web; nothing is downloaded: "
                                  f"save that config next to this one and name it instead.")
            base_path = Path(os.path.expanduser(base))
            if not base_path.is_absolute():  # fvcore: relative to the file that names it
                base_path = path.parent / base_path
            device = walk(base_path, chain + (real,)) or device
        model = data.get("MODEL")
        return (model.get("DEVICE") if isinstance(model, dict) else None) or device

    found = walk(top, ())
    return str(found) if found else None


# ------------------------------------------------------------------------------------------------
# Weights


def weights_budget(model: torch.nn.Module) -> int:
    """The most tensor bytes a weights file for `model` may hold: the model in float32 four times
    over (detectron2's checkpointer files add the optimizer's momentum, Adam two buffers), plus
    some room for bookkeeping."""
    params = sum(t.numel() for t in model.state_dict().values())
    return 4 * 4 * params + (64 << 20)


def _declared_size(path: Path, data: bytes) -> int:
    """Bytes the file expands to when read: the sum of a zip archive's records, else its size."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return len(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        records = archive.infolist()
        if len(records) > MAX_ZIP_RECORDS:
            raise CheckpointError(f"{path.name}: refused: it holds {len(records)} records, far more than "
                                  f"any weights file.")
        for record in records:
            if record.filename.endswith(".pkl") and record.file_size > MAX_PICKLE_BYTES:
                raise CheckpointError(f"{path.name}: refused: its index ({record.filename}) is "
                                      f"{record.file_size / 2**20:.0f} MB; a weights file's index is a few hundred KB "
                                      f"(it lists far more tensors than a model has).")
        return sum(record.file_size for record in records)


def _refusal(path: Path, detail: str) -> CheckpointError:
    """The message for a file whose unpickling would build something other than data. It names
    what the file asked for and never suggests loading it another way."""
    found = _GLOBAL.search(detail)
    what = f" (it asks for {found.group(1)})" if found else ""
    return CheckpointError(f"{path.name}: refused: it is not a plain weights file. Unpickling it would run "
                           f"code or build objects other than tensors{what}, so it was not read.")


_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
_REFUSED: collections.OrderedDict[tuple, str] = collections.OrderedDict()  # (digest, budget, .pkl, check) -> message
_REMEMBERED = 256


def read_weights_file(path: str | Path, *, max_bytes: int | None = None,
                      then: Callable[[object], T] | None = None) -> dict | T:
    """The unpickled content of a weights file (a PyTorch file or a detectron2 model-zoo .pkl),
    with numpy arrays turned into tensors.

    The file is unpickled in a child process that may take at most about three times the file's
    size (or `max_bytes`) of memory and a few seconds (READ_SECONDS plus one per 20 MB): what
    it hands back is a plain structure within models.unpickle's caps. A refused file is
    remembered by its content, so asking again (a rerun of the app's page) costs nothing. The
    shipped demo weights are read in this process (they come with the code).

    Args:
        path: the file.
        max_bytes: the most its tensors may expand to (see `weights_budget`); None: no limit
            beyond the child's.
        then: checks and reshapes what the file holds (models.checkpoint's): its CheckpointError
            refusals (NaN weights, no state dict) are remembered with the file's own.

    Returns:
        What the file holds (usually a dict: a state dict, or {"model": ..., ...}), or `then` of it.

    Raises:
        CheckpointError: one sentence naming the file and the reason (unreadable, oversized,
            unsafe, too slow or too large to read).
    """
    path = Path(path)
    try:
        if not path.is_file():
            raise CheckpointError(f"{path.name or path}: weights file not found ({path}).")
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise CheckpointError(f"{path.name}: {size / 2**20:.0f} MB is more than a weights file for this "
                                  f"model can hold (at most {max_bytes / 2**20:.0f} MB).")
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"{path.name}: cannot be read ({e.strerror or e}).") from None
    if not data:
        raise CheckpointError(f"{path.name}: the file is empty.")
    # what decides a refusal: the bytes, the budget, whether the name says .pkl (read otherwise) and the check
    check = None if then is None else f"{getattr(then, '__module__', '')}.{getattr(then, '__qualname__', repr(then))}"
    digest = (hashlib.sha256(data).hexdigest(), max_bytes, path.suffix.lower() == ".pkl", check)
    if digest in _REFUSED:
        _REFUSED.move_to_end(digest)
        raise CheckpointError(_REFUSED[digest].replace("{name}", path.name))
    try:
        content = _read_weights_bytes(path, data, max_bytes)
        return then(content) if then is not None else content
    except CheckpointError as e:
        _REFUSED[digest] = str(e).replace(path.name, "{name}", 1)
        while len(_REFUSED) > _REMEMBERED:
            _REFUSED.popitem(last=False)
        raise


def _read_weights_bytes(path: Path, data: bytes, max_bytes: int | None) -> dict:
    try:
        expanded = _declared_size(path, data)
    except CheckpointError:  # its own refusals (a ValueError too) are already one sentence
        raise
    except (zipfile.BadZipFile, ValueError) as e:
        raise CheckpointError(f"{path.name}: a damaged archive ({e}).") from None
    if max_bytes is not None and expanded > max_bytes:
        raise CheckpointError(f"{path.name}: refused: its records expand to {expanded / 2**20:.0f} MB, more "
                              f"than a weights file for this model can hold ({max_bytes / 2**20:.0f} MB).")
    is_zip = zipfile.is_zipfile(io.BytesIO(data))
    if not is_zip and path.suffix.lower() != ".pkl" and not data.startswith(b"\x80"):
        # neither PyTorch's zip nor its legacy pickle (protocol 2: 0x80 0x02): an image, text, ...
        # torch.load would call it a refused unsafe pickle, which would alarm for nothing
        raise _unreadable(path)
    numpy_pickle = not is_zip and path.suffix.lower() == ".pkl"
    if _trusted(path) or not _CAN_LIMIT:
        try:
            return unpickle.read(data, numpy_pickle)
        except unpickle.Refused as e:
            raise _refusal(path, str(e)) from None
        except unpickle.Unreadable:
            raise _unreadable(path) from None
        except (unpickle.TooLarge, MemoryError, RecursionError) as e:
            raise _too_large(path, str(e) if isinstance(e, unpickle.TooLarge) else "") from None
    return _read_in_child(path, data, max_bytes, numpy_pickle)


def _unreadable(path: Path) -> CheckpointError:
    return CheckpointError(f"{path.name}: not a readable weights file (damaged or another format: "
                           f"PyTorch .pth/.pt or a detectron2 .pkl).")


def _too_large(path: Path, detail: str) -> CheckpointError:
    size = path.stat().st_size
    size = f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 2**10:.1f} KB"
    why = f": {detail}" if detail else ""
    return CheckpointError(f"{path.name}: refused: reading it would take far more memory or time than a weights "
                           f"file of {size} needs{why}.")


READ_SECONDS = 20  # the child's time for a small file: starting Python and torch, under load
_CAN_LIMIT = sys.platform.startswith("linux")  # the limits read /proc and use setrlimit


def _trusted(path: Path) -> bool:
    """The shipped demo weights, which come with the code (read in this process: faster start)."""
    return inside(path, (_SHIPPED_WEIGHTS,))


_SHIPPED_WEIGHTS = Path(__file__).resolve().parent.parent / "demo" / "weights"


def _read_in_child(path: Path, data: bytes, max_bytes: int | None, numpy_pickle: bool) -> dict:
    """models.unpickle in a child process with a memory and a CPU-time limit."""
    size = len(data)
    extra = max(3 * size, max_bytes or 0) + (256 << 20)
    seconds = READ_SECONDS + size // (20 << 20)
    with tempfile.TemporaryDirectory(prefix="bamviz-weights-") as tmp:
        source, target = Path(tmp) / "in", Path(tmp) / "out.pt"
        source.write_bytes(data)
        command = [sys.executable, "-I", unpickle.__file__, str(source), str(target), str(extra), str(seconds),
                   "1" if numpy_pickle else "0"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=2 * seconds + 10,
                                  env={**os.environ, "OMP_NUM_THREADS": "1"})
        except subprocess.TimeoutExpired:
            raise _too_large(path, "") from None
        try:
            detail = json.loads(done.stdout.strip().splitlines()[-1])["detail"] if done.stdout.strip() else ""
        except (ValueError, KeyError, TypeError):
            detail = ""
        if done.returncode == unpickle.REFUSED:
            raise _refusal(path, detail)
        if done.returncode == unpickle.UNREADABLE:
            raise _unreadable(path)
        if done.returncode != unpickle.OK or not target.is_file():
            # TOO_LARGE, or killed by its limits (MemoryError outside Python, SIGXCPU, SIGKILL)
            raise _too_large(path, detail)
        return torch.load(target, map_location="cpu", weights_only=True)
