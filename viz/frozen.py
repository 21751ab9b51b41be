"""Read-only results: what a cache shares between sessions must not be changed by any of them.

Freezing is cheap: a numpy array is marked read-only in place (no copy); a dict is copied once
into a read-only mapping. Only numpy arrays are frozen: detectron2 `Instances` and torch tensors
have no read-only flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np


def read_only(array: np.ndarray | None) -> np.ndarray | None:
    """The same array, marked read-only (None stays None)."""
    if array is not None:
        array.flags.writeable = False
    return array


def frozen_mapping(items: Mapping, *, arrays: bool = True) -> Mapping:
    """A read-only copy of `items`; with `arrays`, each numpy value is marked read-only too."""
    copied = {key: read_only(value) if arrays and isinstance(value, np.ndarray) else value
              for key, value in items.items()}
    return MappingProxyType(copied)
