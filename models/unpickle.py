"""Unpickling an untrusted weights file, meant to run in a child process with a memory and a
time limit (models.safe_load starts it: `python models/unpickle.py IN OUT BUDGET`).

Why a child: the unpicklers admit only data (torch's `weights_only` one, or ours for numpy .pkl
files), but data can still be made to cost gigabytes or hours from a few kilobytes: torch's
allowlist holds `_codecs.encode` (nest it: each level doubles a string) and `bytearray` (an
integer argument allocates that many bytes), and a file of 750,000 tiny tensors takes a minute.
Rather than chase every such path inside the server, the file is read where the operating system
bounds what reading it may take; the server gets a plain structure back, or one sentence.

This file imports nothing from the project (it runs by path, without the `models` package).
What it hands back is `plain()`'s: dicts, lists and tuples of tensors, strings and numbers,
acyclic, at most MAX_NODES nodes and MAX_TENSORS tensors, shared references kept shared.
"""

from __future__ import annotations

import io
import json
import pickle
import sys
import zipfile

MAX_NODES = 200_000     # containers and leaves in a weights file's structure (R-50 + optimizer: ~5,000)
MAX_TENSORS = 20_000    # detectron2's largest models hold ~1,000 tensors, with an optimizer's state ~3,000
MAX_DEPTH = 32
MAX_STRING = 10_000

# Exit statuses of the child, read by models.safe_load.
OK, REFUSED, UNREADABLE, TOO_LARGE = 0, 3, 4, 5


class Refused(Exception):
    """The file asks for something other than data (the message names it)."""


class Unreadable(Exception):
    """Not a weights file in a format read here."""


class TooLarge(Exception):
    """The structure exceeds the caps (the message says which)."""


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits what detectron2's model-zoo .pkl files hold (dicts of numpy arrays, strings,
    numbers) and nothing that could run code or allocate beyond the file's own bytes."""

    def find_class(self, module, name):
        import numpy as np

        if (module, name) in {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}:
            return _empty_array
        if (module, name) in {("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}:
            return _scalar
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        if (module, name) == ("collections", "OrderedDict"):
            from collections import OrderedDict
            return OrderedDict
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode  # how Python 2 pickles store bytes (Caffe2-era zoo files)
        raise pickle.UnpicklingError(f"Unsupported global: GLOBAL {module}.{name}")


def _empty_array(subtype, shape, dtype):
    """numpy's `_reconstruct`, which pickles always call with shape (0,): the data comes with the
    state that follows. Any other shape would be uninitialised memory of any size."""
    import numpy as np

    if subtype is not np.ndarray or tuple(shape) != (0,):
        raise pickle.UnpicklingError("an array built without its data")
    return np.ndarray.__new__(np.ndarray, (0,), dtype)


def _scalar(dtype, data=None):
    import numpy as np

    if isinstance(data, str):  # Python 2 pickles read with encoding="latin1"
        data = data.encode("latin1")
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise pickle.UnpicklingError("a numpy scalar that is not plain data")
    return np.frombuffer(data, dtype)[0]


def _latin1_encode(text, encoding="latin1"):
    """`_codecs.encode` as Python 2 pickles use it (latin1: as many bytes as characters)."""
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"Unsupported global: GLOBAL _codecs.encode with {encoding!r}")
    return text.encode("latin1")


def unpickle(data: bytes, numpy_pickle: bool) -> object:
    """The content of a weights file's bytes: torch.load(weights_only=True), or for a detectron2
    model-zoo .pkl (`numpy_pickle`) NumpyOnlyUnpickler. Raises Refused or Unreadable."""
    import torch

    try:
        if numpy_pickle:
            return NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        text = " ".join(str(e).split())
        if "Weights only load failed" in text or "GLOBAL" in text or "built without" in text or "not plain" in text:
            raise Refused(text) from None
        raise Unreadable(text) from None
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001  (garbage makes the unpicklers raise anything)
        raise Unreadable(" ".join(str(e).split()) or type(e).__name__) from None


def plain(data: object) -> object:
    """`data` with numpy arrays as tensors, checked to be plain and within the caps: dicts (string
    or integer keys), lists, tuples, tensors, strings, bytes, numbers, booleans and None. A
    structure that holds itself is refused; shared references stay shared (not copied out)."""
    import numpy as np
    import torch

    done: dict[int, object] = {}
    active: set[int] = set()
    counts = {"nodes": 0, "tensors": 0}

    def walk(item: object, depth: int) -> object:
        counts["nodes"] += 1
        if counts["nodes"] > MAX_NODES:
            raise TooLarge(f"it holds more than {MAX_NODES:,} values")
        if depth > MAX_DEPTH:
            raise TooLarge(f"it is nested more than {MAX_DEPTH} levels deep")
        if item is None or isinstance(item, (bool, int, float, complex)):
            return item
        if isinstance(item, (str, bytes)):
            if len(item) > MAX_STRING:
                raise TooLarge(f"it holds a string of {len(item):,} characters")
            return item
        key = id(item)
        if key in done:
            return done[key]
        if key in active:
            raise TooLarge("it holds a structure that contains itself")
        if isinstance(item, (torch.Tensor, np.ndarray, np.generic)):
            counts["tensors"] += 1
            if counts["tensors"] > MAX_TENSORS:
                raise TooLarge(f"it holds more than {MAX_TENSORS:,} tensors")
            if isinstance(item, torch.Tensor):
                out = item.detach()
            else:
                array = np.asarray(item)
                if array.dtype.hasobject:
                    raise Refused("an array of Python objects")
                out = torch.from_numpy(np.ascontiguousarray(array).reshape(array.shape))  # 0-d stays 0-d
            done[key] = out
            return out
        active.add(key)
        if isinstance(item, dict):
            out = {}
            for k, v in item.items():
                if not isinstance(k, (str, int)) or isinstance(k, bool) or (isinstance(k, str) and len(k) > MAX_STRING):
                    raise Refused(f"a key of type {type(k).__name__}")
                out[k] = walk(v, depth + 1)
        elif isinstance(item, (list, tuple, set)):
            out = [walk(v, depth + 1) for v in item]
            out = out if isinstance(item, list) else tuple(out)
        else:
            raise Refused(f"a {type(item).__name__} object")
        active.discard(key)
        done[key] = out
        return out

    return walk(data, 0)


def read(data: bytes, numpy_pickle: bool) -> object:
    """unpickle() then plain(): what the server may receive."""
    return plain(unpickle(data, numpy_pickle))


def _limit(extra_bytes: int, seconds: int) -> None:
    """This process may grow by `extra_bytes` of address space and use `seconds` of CPU."""
    import resource

    with open("/proc/self/status") as status:
        vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + extra_bytes, vm + extra_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))


def main(argv: list[str]) -> int:
    """`IN OUT EXTRA_BYTES SECONDS NUMPY_PICKLE(0|1)`: read IN within the limits, write the result
    to OUT (torch.save) and a one-line JSON status on stdout."""
    source, target, extra, seconds, numpy_pickle = argv
    import torch

    torch.set_num_threads(1)
    with open(source, "rb") as f:
        data = f.read()
    _limit(int(extra), int(seconds))
    try:
        result = read(data, numpy_pickle == "1")
        del data
        torch.save(result, target)
    except Refused as e:
        return _status(REFUSED, str(e))
    except Unreadable as e:
        return _status(UNREADABLE, str(e))
    except TooLarge as e:
        return _status(TOO_LARGE, str(e))
    except (MemoryError, RecursionError, zipfile.LargeZipFile):
        return _status(TOO_LARGE, "")
    return _status(OK, "")


def _status(code: int, detail: str) -> int:
    print(json.dumps({"detail": detail}), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
