"""The skeleton every dataset measure shares (evaluate, attention report, and the next one).

A measure over a labelled COCO set takes loaded models (`models.LoadedModel`, the first the
reference: the baseline) and runs the same steps around its own work on each image:

1. `check_models`: at least one model, labels that differ;
2. the data checked (training.data.require_valid) before anything runs;
3. `each_image`: every image decoded and resized once for all models, in worker processes while
   the models compute (evaluation.loader), with a progress bar and `on_progress(done, total)`;
4. a `Stopwatch` per model, whose median seconds per image the results report;
5. typed results (evaluation.results), written as JSON, Markdown and CSV (evaluation.formatting).

A new measure is a module here with one function in that shape (see evaluation.attention_report),
its results in evaluation.results and its tables in evaluation.formatting; its page (and, if
wanted, its command) call it.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from tqdm import tqdm

from evaluation.loader import load_images
from models.loaded import LoadedModel

Progress = Callable[[int, int], None]  # (images done, total): the app's progress bar
Entry = TypeVar("Entry")


def check_models(models: Sequence[LoadedModel], what: str = "evaluate") -> list[str]:
    """The models' labels, in order.

    Args:
        models: the loaded models; the first is the reference the others are compared with.
        what: the verb for the error ("no model to <what>").

    Returns:
        Their labels.

    Raises:
        ValueError: no model, or two with the same label.
    """
    if not models:
        raise ValueError(f"no model to {what}.")
    labels = [m.label for m in models]
    if len(set(labels)) != len(labels):
        raise ValueError(f"model labels must differ (got {labels}).")
    return labels


def each_image(entries: Sequence[Entry], models: Sequence[LoadedModel], record: Callable[[Entry], dict | None], *,
               desc: str, progress: bool = True, on_progress: Progress | None = None,
               workers: int | None = None) -> Iterator[tuple[Entry, dict | None]]:
    """Every entry with its image prepared for every model, in order.

    Args:
        entries: what the measure walks through (dataset records, COCO image entries, ...).
        models: the models the images are prepared for (each one's test resize).
        record: an entry -> the record to load ({"image_id", "file_name", ...}), or None for an
            entry that needs no image (it is yielded with None).
        desc: the progress bar's text; progress: show the bar (tqdm, on the terminal).
        on_progress: called with (entries done, total) once the caller is done with each entry.
        workers: decoding processes (evaluation.loader.load_images; 0: this process; None: the
            configs' DATALOADER.NUM_WORKERS, at most one per core).

    Returns:
        An iterator of (entry, loaded image or None); `evaluation.loader.model_input(image, cfg)`
        gives a model its input.

    Raises:
        training.data.DataProblemsError: an image that cannot be read (changed since the check).
    """
    records = [record(entry) for entry in entries]
    images = load_images([r for r in records if r is not None], [m.cfg for m in models], workers=workers)
    walk = tqdm(zip(entries, records), total=len(entries), unit="image", desc=desc, disable=not progress)
    for done, (entry, loaded) in enumerate(walk, start=1):
        yield entry, (next(images) if loaded is not None else None)
        if on_progress is not None:
            on_progress(done, len(entries))


class Stopwatch:
    """Seconds per image of each model; the reports give the median (robust to the first call's
    one-off costs)."""

    def __init__(self, labels: Sequence[str]):
        self.seconds: dict[str, list[float]] = {label: [] for label in labels}

    @contextlib.contextmanager
    def timing(self, label: str) -> Iterator[None]:
        """Adds the time the block takes to `label`'s list."""
        start = time.perf_counter()
        yield
        self.seconds[label].append(time.perf_counter() - start)

    def median(self, label: str, digits: int = 4) -> float | None:
        """The median seconds per image of `label`, rounded; None before any image."""
        found = self.seconds[label]
        return round(statistics.median(found), digits) if found else None
