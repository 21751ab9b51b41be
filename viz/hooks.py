"""Forward hooks that exist only for one call and see only that call's forward pass.

A model can be shared by many users at once (the app caches one per process). Hooks live on
the shared modules, so each acts only when it runs in the thread that registered it, and all
are removed on exit, also when the body raises. A callback that returns a value replaces the
module's output (as a plain forward hook can), again only for its own thread.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from torch import nn

Callback = Callable[[tuple, object], object]  # (inputs, output) -> None or a replacement output


@contextmanager
def scoped_forward_hooks(model: nn.Module, callbacks: dict[str, Callback]) -> Iterator[None]:
    """Forward hooks on the named submodules of `model` for the body of a `with` block only,
    called only from the thread that entered it, and removed on exit even when the body raises."""
    owner = threading.get_ident()
    handles = []

    def make_hook(callback: Callback):
        def hook(_module, inputs, output):
            if threading.get_ident() == owner:
                return callback(inputs, output)
            return None
        return hook

    try:
        for path, callback in callbacks.items():
            handles.append(model.get_submodule(path).register_forward_hook(make_hook(callback)))
        yield
    finally:
        for handle in handles:
            handle.remove()
