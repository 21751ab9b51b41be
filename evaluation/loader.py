"""A dataset's images decoded and resized once each, in DataLoader worker processes, while the models
compute: detectron2's `build_detection_test_loader` (DatasetFromList, MapDataset, batches of one,
trivial_batch_collator) with a mapper that prepares every model's input from one decode.

Models with the same test resize and channel order (`input_key`: INPUT.MIN_SIZE_TEST,
MAX_SIZE_TEST, FORMAT) share one prepared input; the resize is models.inputs.prepare_input's,
so the models see exactly what the app and DefaultPredictor give them. Images are read as training
reads them, held to the upload formats and the pixel-count rule (training.data.read_dataset_image,
which require_valid applied to every file before); a file that cannot be read or prepared (changed
since the check) is a sentence, not a worker's traceback: `load_images` raises
training.data.DataProblemsError with it, in the calling process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from torch.utils.data import SequentialSampler

from models.inputs import ModelInput, prepare_input
from training.data import IMAGE_READ_ERRORS, DataProblemsError, read_dataset_image, unreadable_image

from detectron2.config import CfgNode
from detectron2.data import build_detection_test_loader
from detectron2.utils import comm


def input_key(cfg: CfgNode) -> tuple:
    """What decides a model's prepared input: models with the same key share it."""
    return cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST, cfg.INPUT.FORMAT


def default_workers(cfgs: Sequence[CfgNode]) -> int:
    """detectron2's DATALOADER.NUM_WORKERS (the largest of the models'), at most this process's share
    of the CPU cores (several processes of training.launch on one machine split them)."""
    cores = max(1, (os.cpu_count() or 1) // comm.get_local_size())
    return min(max(cfg.DATALOADER.NUM_WORKERS for cfg in cfgs), cores)


class PrepareInputs:
    """The mapper, run in a worker: a dataset record ({"file_name", ...}) -> the record plus
    "inputs" ({input_key: ModelInput}), or plus "problem" (a sentence) when the file cannot be read."""

    def __init__(self, cfgs: Sequence[CfgNode]):
        self.cfgs = {input_key(cfg): cfg for cfg in cfgs}

    def __call__(self, record: dict) -> dict:
        name = Path(record["file_name"]).name
        try:
            image = read_dataset_image(record["file_name"])  # applies the EXIF orientation, as training does
        except IMAGE_READ_ERRORS as e:
            return {**record, "problem": f"image {record['image_id']} ('{name}'): {unreadable_image(name, e)}"}
        try:
            return {**record, "inputs": {key: prepare_input(image, cfg) for key, cfg in self.cfgs.items()}}
        except ValueError:  # a side that the resize makes 0 pixels (1 x 40000)
            h, w = image.shape[:2]
            return {**record, "problem": f"image {record['image_id']} ('{name}'): {w}x{h} pixels is too "
                                         f"narrow to resize for the models."}


def load_images(records: Sequence[dict], cfgs: Sequence[CfgNode], *, workers: int | None = None) -> Iterator[dict]:
    """Each record's image decoded and prepared for every model, in worker processes while the
    caller uses the previous ones.

    Args:
        records: {"image_id", "file_name", ...} per image, in order.
        cfgs: the models' configs (one prepared input per `input_key`).
        workers: decoding processes (0: this one; None: `default_workers`).

    Returns:
        An iterator of the records, in order, each with "inputs" ({input_key: ModelInput}, see
        `model_input`).

    Raises:
        training.data.DataProblemsError: a file that cannot be read, in one sentence.
    """
    if not records:  # a DataLoader over nothing still starts its workers
        return
    loader = build_detection_test_loader(list(records), mapper=PrepareInputs(cfgs), sampler=SequentialSampler(records),
                                         num_workers=default_workers(cfgs) if workers is None else workers)
    for (loaded,) in loader:
        if "problem" in loaded:
            raise DataProblemsError([loaded["problem"]])
        yield loaded


def model_input(loaded: dict, cfg: CfgNode) -> ModelInput:
    """The input prepared for the model of `cfg`, from a record of `load_images`."""
    return loaded["inputs"][input_key(cfg)]
