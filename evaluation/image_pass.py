"""One pass over a labelled set for the measures of maps (the attention report, the dissection):
each image decoded once for all models, each model run once on it, every measure asking for the
image fed from that one capture.

The models run with `viz.capture.capture_input(..., maps_only=True)` (the ResNet and its attention
only: the maps are those of a full pass at about half its cost) unless a measure needs the
predictions (the attention report's CAMs). Under training.launch each process takes every
world-size-th image (as evaluation.evaluate does); `gather` brings each process's share to the
main process, which puts them back in the file's order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation.loader import model_input
from evaluation.masks import AnnotationMasks, union
from evaluation.runner import Progress, Stopwatch, each_image
from models.loaded import LoadedModel
from training.data import dataset_image_path
from viz.capture import Capture, capture_input

from detectron2.utils import comm


@dataclass
class PassImage:
    """One image of the pass: its COCO entry, place in the file, masks and each model's capture."""

    entry: dict
    index: int  # its position among the set's entries (the order results are put back in)
    masks: list[np.ndarray]  # one (H, W) bool mask per annotation
    captures: dict[str, Capture]  # model label -> its capture of the image

    @property
    def crack(self) -> np.ndarray:
        """The union of the masks, (H, W) bool (all False without annotations)."""
        return union(self.masks, self.entry)


def image_share(count: int) -> range:
    """The positions of this process's images among `count` (all of them in one process)."""
    return range(comm.get_rank(), count, comm.get_world_size())


def capture_pass(models: Sequence[LoadedModel], found: AnnotationMasks, image_dir: str | Path, *,
                 wanted: Callable[[dict], bool], watch: Stopwatch, maps_only: bool = True, desc: str,
                 progress: bool = True, on_progress: Progress | None = None,
                 workers: int | None = None) -> Iterator[PassImage]:
    """This process's share of the images that some measure wants, each captured by every model.

    Args:
        models: the loaded models.
        found: the set's entries and masks (evaluation.masks.AnnotationMasks).
        image_dir: its image folder.
        wanted: entry -> whether any measure needs the image (the others are not decoded).
        watch: each model's capture is timed under its label.
        maps_only: run the ResNet only (see the module docstring); False: the full model.
        desc, progress, on_progress, workers: evaluation.runner.each_image's.

    Returns:
        An iterator of PassImage, in the file's order; the images nobody wants are skipped.
    """
    share = [i for i in image_share(len(found.entries)) if wanted(found.entries[i])]
    processes = comm.get_world_size()

    def record(index: int) -> dict:
        entry = found.entries[index]
        return {"image_id": entry["id"], "file_name": str(dataset_image_path(image_dir, entry["file_name"]))}

    text = desc + (f" (the share of 1 of {processes} processes)" if processes > 1 else "")
    for index, image in each_image(share, models, record, desc=text, progress=progress and comm.is_main_process(),
                                   on_progress=on_progress, workers=workers):
        captures = {}
        for m in models:
            with watch.timing(m.label):
                captures[m.label] = capture_input(m.model, model_input(image, m.cfg), maps_only=maps_only)
        entry = found.entries[index]
        yield PassImage(entry, index, found.masks(entry), captures)


def gather(part, watch: Stopwatch) -> tuple[list | None, Stopwatch | None]:
    """Every process's `part` and timings, on the main process.

    Args:
        part: this process's results (picklable).
        watch: this process's Stopwatch.

    Returns:
        On the main process (part of each process in rank order, a Stopwatch of every process's
        timings); (None, None) on the others. In one process: ([part], watch).
    """
    if comm.get_world_size() == 1:
        return [part], watch
    gathered = comm.gather((part, watch.seconds), dst=0)
    if not comm.is_main_process():
        return None, None
    merged = Stopwatch(list(watch.seconds))
    for _, seconds in gathered:
        for label, values in seconds.items():
            merged.seconds[label] += values
    return [found for found, _ in gathered], merged
