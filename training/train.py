"""Training a Mask R-CNN config (with or without attention) on a COCO dataset, with detectron2.

`train()` checks the data first and stops with every problem listed (DataProblemsError), then
trains with a `DefaultTrainer` adapted to this project:

- the model is built by `models.build_model`, so our attention backbones and config checks apply;
- writers: the ETA / loss log on stdout (CommonMetricPrinter) and `metrics.json` (JSONWriter);
  no TensorBoard;
- checkpoints every SOLVER.CHECKPOINT_PERIOD iterations; `resume=True` continues from the last one
  in `out_dir` (model, optimizer, LR schedule, iteration, and the position in the data order);
- the same seed gives every variant (plain, BAM, CBAM) the same data order and augmentations
  (see TrainingStream) and the same initial ResNet and FPN weights, so variants trained with one
  seed and schedule differ by their architecture, not by their luck with the data. (The RPN and
  ROI heads start differently: the attention modules are built, and draw random numbers, just
  before them.)
- negative images (no annotations) are kept (DATALOADER.FILTER_EMPTY_ANNOTATIONS False): they are
  the "no crack" examples;
- nothing is downloaded: training starts from scratch unless `init_weights` names a weights file;
- in several processes (`training.launch`, every process calling `train()`), as detectron2 trains:
  the model in DistributedDataParallel, SOLVER.IMS_PER_BATCH the batch of all processes together,
  each process reading its share of the same data stream (StreamPositions); the main process
  writes the files and the log.

`out_dir` receives: `config.yaml` (the resolved config; load it with `models.load_model`),
`model_XXXXXXX.pth` checkpoints, `last_checkpoint`, `model_final.pth`, `model_final_fp16.pth` (the
final weights in float16, what the app loads), `metadata.json` (the class names, in the model's
class order: models.metadata), `metrics.json` and `log.txt`. A validation set given to `train()` is
checked with the training data, before training; the `train` command evaluates the final weights
on it (evaluation.evaluate), into `validation/`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

import models  # noqa: F401  (makes detectron2 importable; must precede it)
from models.metadata import write_metadata
from models.safe_load import read_weights_file
from training.data import (
    AUGMENTATIONS,
    DataProblemsError,
    read_categories,
    register_coco_dataset,
    require_valid,
    train_mapper,
    uses_rle,
)

from detectron2.config import CfgNode
from detectron2.data import build_detection_train_loader, get_detection_dataset_dicts
from detectron2.engine import DefaultTrainer, defaults, hooks
from detectron2.utils import comm
from detectron2.utils.env import seed_all_rng
from detectron2.utils.events import CommonMetricPrinter, JSONWriter

logger = logging.getLogger("detectron2.training")  # shown with detectron2's own log lines

PathOrPaths = str | Path | Sequence[str | Path]
FINAL_WEIGHTS = "model_final_fp16.pth"
CONFIG_NAME = "config.yaml"
MAX_WORKERS = 1  # data loading processes: this tool targets small CPU machines (2 cores)


class RunExistsError(ValueError):
    """The output folder already holds a run and resume was not asked for (nothing is overwritten)."""


def train(config_file: str | Path, train_json: PathOrPaths, train_images: PathOrPaths,
          out_dir: str | Path, *, val_json: str | Path | None = None,
          val_images: str | Path | None = None, iters: int | None = None, resume: bool = False,
          init_weights: str | Path | None = None, seed: int = 0,
          opts: list[str] | None = None, device: str = "auto", augment: str = "standard",
          repeat: Sequence[int] | None = None) -> Path:
    """Train `config_file` on a COCO dataset; return the path of `model_final_fp16.pth`.

    train_json, train_images: one training set, or several (lists of the same length, with the same
        categories), e.g. real photos and synthetic images together.
    val_json, val_images: a validation set, checked with the training sets before training (the
        same categories); evaluating on it is the caller's (the train command does).
    repeat: per training set, how many times each of its images enters one pass over the data
        (default 1 each): a small set of real photos beside many synthetic images gets its share.
        Give the same when resuming.
    iters: SOLVER.MAX_ITER (default: the config's). SOLVER.STEPS (the LR drops) are scaled by the
        same factor, unless `opts` sets them.
    resume: continue from `out_dir/last_checkpoint` when there is one (otherwise start afresh).
    init_weights: a weights file to start from, in any format models.checkpoint reads (e.g. a
        model-zoo .pkl): tensors that fit are used; those whose shapes differ (another model's
        class-specific heads) are skipped and listed in the log, with the counts of missing and
        unexpected keys. Ignored when resuming.
    opts: detectron2 KEY VALUE overrides, e.g. ["SOLVER.IMS_PER_BATCH", "2"].
    device: "auto" (CUDA when there, else the CPU), "cpu" or "cuda[:N]" (models.device).
    augment: the augmentation set, a key of training.data.AUGMENTATIONS ("standard": the config's
        resize and flip, as the shipped demo pair; "photo": flips both ways, rotation, crops,
        brightness/contrast/saturation). Give the same one when resuming.

    Raises DataProblemsError (every problem in the data), models.ModelLoadError (config or
    weights), RunExistsError (out_dir holds a run and resume is False), ValueError (bad arguments).
    """
    if (val_json is None) != (val_images is None):
        raise ValueError("give both val_json and val_images, or neither.")
    if iters is not None and iters < 1:
        raise ValueError(f"iters must be at least 1 (got {iters}).")
    if seed < 0:
        raise ValueError(f"seed must be 0 or more (got {seed}).")
    if augment not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation set {augment!r}; choose one of {', '.join(AUGMENTATIONS)}.")
    if not resume and (Path(out_dir) / "last_checkpoint").is_file():
        raise RunExistsError(f"{out_dir} already holds a training run. Continue it with --resume "
                             f"(resume=True), or choose another output folder.")
    train_sets = _training_sets(train_json, train_images, repeat)
    datasets = [(j, i) for j, i, _ in train_sets] + ([(val_json, val_images)] if val_json else [])
    require_valid(*datasets)
    first_json = train_sets[0][0]
    categories = read_categories(first_json)
    for other_json in [j for j, _, _ in train_sets[1:]] + ([val_json] if val_json else []):
        _require_same_categories(first_json, categories, other_json)
    if init_weights is not None and not Path(init_weights).is_file():
        raise models.CheckpointError(f"{Path(init_weights).name}: file not found ({init_weights}).")

    out_dir = Path(out_dir)
    cfg = training_config(config_file, [j for j, _, _ in train_sets], [i for _, i, _ in train_sets], out_dir,
                          num_classes=len(categories),
                          iters=iters, seed=seed, opts=opts, device=device)
    out_dir.mkdir(parents=True, exist_ok=True)
    if comm.is_main_process():  # under training.launch, every process runs this function
        (out_dir / CONFIG_NAME).write_text(cfg.dump())
        write_metadata(out_dir, [c["name"] for c in categories])  # class names beside the weights
    start_iter = checkpoint_start_iter(out_dir) if resume else 0

    with _training_logs(out_dir / "log.txt"):
        logger.info("Training %s: %s; augmentations: %s", Path(config_file).name, models.describe(cfg), augment)
        seed_all_rng(seed)
        trainer = Trainer(cfg, data_start_iter=start_iter, augment=augment, repeat=[r for _, _, r in train_sets])
        trainer.resume_or_load(resume=resume)
        if trainer.start_iter != start_iter:  # cannot happen unless the checkpoint changed meanwhile
            raise RuntimeError(f"resuming at iteration {trainer.start_iter}, expected {start_iter}.")
        if resume and start_iter == 0:
            logger.info("No checkpoint in %s: training from the start.", out_dir)
        if init_weights and start_iter == 0:
            _load_initial_weights(_unwrapped(trainer.model), init_weights, cfg)
        elif init_weights:
            logger.info("Resuming: --init-weights %s is not used.", Path(init_weights).name)
        if start_iter >= trainer.max_iter:
            logger.info("Already trained for %d iterations; nothing to do.", trainer.max_iter)
        trainer.train()
        final = out_dir / FINAL_WEIGHTS
        if comm.is_main_process():
            models.save_weights(_unwrapped(trainer.model), final)
            logger.info("Final weights (float16): %s", final)
        comm.synchronize()  # the weights are written before any process goes on to use them
    return final


def _load_initial_weights(model, init_weights: str | Path, cfg: CfgNode) -> None:
    """Start from a weights file (fine-tuning): what fits is loaded; tensors whose shapes differ
    from the model's (the class-specific heads of a model trained on other classes) are skipped
    and listed in the log, as are the counts of keys on either side alone."""
    name = Path(init_weights).name
    fit = models.load_weights(model, init_weights, stages=list(cfg.MODEL.ATTENTION.STAGES),
                              strict=False, skip_mismatched=True)
    total = sum(1 for k in model.state_dict() if not k.endswith("num_batches_tracked"))
    if len(fit.missing) + len(fit.skipped) == total:
        raise models.CheckpointError(
            f"{name}: none of its {len(fit.unexpected) + len(fit.skipped)} keys fits this model "
            f"(e.g. {', '.join((fit.unexpected + fit.skipped)[:3])}); it was written for another architecture "
            f"or naming (detectron2 names look like backbone.bottom_up.res2.0.conv1.weight).")
    logger.info("Initial weights from %s: %d model keys not in the file (trained from scratch), "
                "%d file keys not in the model (ignored).", name, len(fit.missing), len(fit.unexpected))
    if fit.unexpected:
        more = " …" if len(fit.unexpected) > 8 else ""
        logger.info("Ignored keys of %s: %s", name, ", ".join(fit.unexpected[:8]) + more)
    if fit.skipped:
        logger.warning("Initial weights from %s: %d tensors skipped, their shapes differ from this model's "
                       "(trained from scratch): %s", name, len(fit.skipped), "; ".join(fit.skipped))


def training_config(config_file: str | Path, train_json: PathOrPaths, train_images: PathOrPaths,
                    out_dir: str | Path, *, num_classes: int, iters: int | None = None, seed: int = 0,
                    opts: list[str] | None = None, device: str = "auto") -> CfgNode:
    """The config a training run uses: the file and `opts`, plus dataset, output, seed and
    schedule settings. Raises models.ConfigError for a config that does not load."""
    cfg, notes = models.read_config(config_file, opts, device=device)
    for note in notes:
        logger.warning("%s", note)
    cfg = cfg.clone()
    cfg.defrost()
    jsons, folders = _as_list(train_json), _as_list(train_images)
    cfg.DATASETS.TRAIN = tuple(register_coco_dataset(j, i) for j, i in zip(jsons, folders))
    cfg.DATASETS.TEST = ()  # no periodic evaluation: the train command validates the final weights
    cfg.TEST.EVAL_PERIOD = 0
    cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS = False  # keep the negatives (no-crack images)
    cfg.DATALOADER.NUM_WORKERS = min(cfg.DATALOADER.NUM_WORKERS, MAX_WORKERS)
    if any(uses_rle(j) for j in jsons):
        cfg.INPUT.MASK_FORMAT = "bitmask"  # detectron2's "polygon" format cannot hold RLE masks
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = num_classes
    cfg.MODEL.WEIGHTS = ""  # nothing to download; init_weights are loaded by train()
    if not cfg.MODEL.DEVICE.startswith("cuda"):
        cfg.SOLVER.AMP.ENABLED = False  # detectron2's AMPTrainer needs CUDA
    if iters is not None and iters != cfg.SOLVER.MAX_ITER:
        if "SOLVER.STEPS" not in (opts or [])[::2]:
            factor = iters / cfg.SOLVER.MAX_ITER
            # LR drops at the same fractions of the run; each strictly inside it (fvcore's rule)
            cfg.SOLVER.STEPS = tuple(sorted({round(s * factor) for s in cfg.SOLVER.STEPS} & set(range(1, iters))))
        cfg.SOLVER.MAX_ITER = iters
    if cfg.SOLVER.IMS_PER_BATCH % comm.get_world_size():
        raise models.ConfigError(f"SOLVER.IMS_PER_BATCH {cfg.SOLVER.IMS_PER_BATCH} (the batch of all processes "
                                 f"together) does not split evenly between {comm.get_world_size()} processes.")
    cfg.SEED = seed
    cfg.OUTPUT_DIR = str(Path(out_dir).resolve())
    cfg.freeze()
    return cfg


def checkpoint_start_iter(out_dir: str | Path) -> int:
    """The iteration a resumed run starts at: one after the last checkpoint's, 0 without one."""
    out_dir = Path(out_dir)
    marker = out_dir / "last_checkpoint"
    if not marker.is_file():
        return 0
    path = out_dir / marker.read_text().strip()
    if not path.is_file():
        raise models.CheckpointError(f"{marker} names {path.name}, which is not in {out_dir}.")
    data = read_weights_file(path)
    return int(data.get("iteration", -1)) + 1 if isinstance(data, dict) else 0


class TrainingStream(torch.utils.data.Dataset):
    """The training data as an endless stream, each sample a pure function of (seed, position).

    Position p of the stream is image `order(p // n)[p % n]` (a fresh shuffle per pass over the
    n images, drawn from `seed`), augmented (detectron2's mapper: resize, flip, or the set chosen
    by `augment`) with NumPy's
    random state set from (seed, p). So the same seed gives every variant (plain, BAM, CBAM) the
    same images in the same order with the same augmentations, whatever else consumed random
    numbers (model initialisation differs between variants) and however many loader workers
    run; and a resumed run continues the stream where it stopped instead of starting it again.
    """

    def __init__(self, records: list[dict], mapper, *, seed: int):
        if not records:
            raise ValueError("the training set has no images.")
        self.records, self.mapper, self.seed = records, mapper, seed
        self._orders: dict[int, list[int]] = {}

    def order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            generator = torch.Generator()
            generator.manual_seed(self.seed * 1_000_003 + epoch)
            self._orders = {epoch: torch.randperm(len(self.records), generator=generator).tolist()}
        return self._orders[epoch]

    def __getitem__(self, position: int) -> dict:
        epoch, offset = divmod(position, len(self.records))
        np.random.seed([self.seed, position])  # detectron2's augmentations draw from np.random
        return self.mapper(self.records[self.order(epoch)[offset]])  # the mapper copies the record

    def __len__(self) -> int:
        return len(self.records)


class StreamPositions(torch.utils.data.Sampler):
    """Positions start, start + 1, ... of a TrainingStream (endless), or, in process `rank` of
    `world_size` (training.launch), every world_size-th of them from start + rank: together the
    processes read the positions one process would, so a global batch (SOLVER.IMS_PER_BATCH, split
    between the processes) holds the same samples whatever the number of processes."""

    def __init__(self, start: int = 0, *, rank: int = 0, world_size: int = 1):
        self.start, self.rank, self.world_size = start, rank, world_size

    def __iter__(self):
        return itertools.count(self.start + self.rank, self.world_size)


class Trainer(DefaultTrainer):
    """detectron2's DefaultTrainer with this project's model builder, writers, data order and no
    periodic evaluation (validation runs at the end, see `train`)."""

    def __init__(self, cfg: CfgNode, *, data_start_iter: int = 0, augment: str = "standard",
                 repeat: Sequence[int] | None = None):
        self._data_start_iter = data_start_iter  # read by build_train_loader, inside __init__
        self._augment = augment
        self._repeat = list(repeat or [1] * len(cfg.DATASETS.TRAIN))
        with _ddp_on_any_device():
            super().__init__(cfg)

    @classmethod
    def build_model(cls, cfg: CfgNode):
        return models.build_model(cfg)

    def build_train_loader(self, cfg: CfgNode):  # an instance method: it needs the start iteration
        filter_empty = cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS
        records = [record for name, times in zip(cfg.DATASETS.TRAIN, self._repeat)
                   for record in get_detection_dataset_dicts([name], filter_empty=filter_empty) * times]
        positives = sum(1 for d in records if d.get("annotations"))
        logger.info("Training images: %d (%d with instances, %d negatives).",
                    len(records), positives, len(records) - positives)
        stream = TrainingStream(records, train_mapper(cfg, self._augment), seed=cfg.SEED)
        return build_detection_train_loader(
            stream, mapper=None, sampler=StreamPositions(self._data_start_iter * cfg.SOLVER.IMS_PER_BATCH,
                                                         rank=comm.get_rank(), world_size=comm.get_world_size()),
            total_batch_size=cfg.SOLVER.IMS_PER_BATCH,
            aspect_ratio_grouping=cfg.DATALOADER.ASPECT_RATIO_GROUPING,
            num_workers=cfg.DATALOADER.NUM_WORKERS)

    def build_hooks(self):
        return [h for h in super().build_hooks() if not isinstance(h, hooks.EvalHook)]

    def build_writers(self):
        return [CommonMetricPrinter(self.max_iter),
                JSONWriter(str(Path(self.cfg.OUTPUT_DIR) / "metrics.json"))]


def _unwrapped(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside DistributedDataParallel (what DefaultTrainer holds with several processes)."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


@contextlib.contextmanager
def _ddp_on_any_device():
    """DefaultTrainer wraps the model in DistributedDataParallel with device_ids=[local rank], which
    only a model on a GPU accepts (detectron2 v0.6 assumes one GPU per process). A model on the CPU
    (gloo processes, training.launch) needs device_ids=None; on a GPU nothing changes."""
    create = defaults.create_ddp_model

    def create_for_device(model, **kwargs):
        if next(model.parameters()).device.type == "cpu":
            kwargs.setdefault("device_ids", None)
        return create(model, **kwargs)

    defaults.create_ddp_model = create_for_device
    try:
        yield
    finally:
        defaults.create_ddp_model = create


def _as_list(paths: PathOrPaths) -> list[str | Path]:
    return [paths] if isinstance(paths, (str, Path)) else list(paths)


def _training_sets(train_json: PathOrPaths, train_images: PathOrPaths,
                   repeat: Sequence[int] | None) -> list[tuple[str | Path, str | Path, int]]:
    jsons, folders = _as_list(train_json), _as_list(train_images)
    repeat = [1] * len(jsons) if repeat is None else list(repeat)
    if not jsons or len(jsons) != len(folders) or len(repeat) != len(jsons):
        raise ValueError(f"give one image folder and one repeat count per training set "
                         f"({len(jsons)} annotation files, {len(folders)} folders, {len(repeat)} repeat counts).")
    if any(not isinstance(r, int) or r < 1 for r in repeat):
        raise ValueError(f"repeat counts are whole numbers of at least 1 (got {repeat}).")
    return list(zip(jsons, folders, repeat))


def _require_same_categories(train_json, categories: list[dict], val_json) -> None:
    val = read_categories(val_json)
    if [(c["id"], c["name"]) for c in val] != [(c["id"], c["name"]) for c in categories]:
        raise DataProblemsError([f"{Path(val_json).name}: its categories {_names(val)} differ from "
                                 f"those of {Path(train_json).name} {_names(categories)}."])


def _names(categories: list[dict]) -> str:
    return "[" + ", ".join(f"{c['id']}: {c.get('name')}" for c in categories) + "]"


@contextlib.contextmanager
def _training_logs(log_file: Path):
    """detectron2's and fvcore's log (losses, ETA, checkpoints) on stdout and in `log_file`,
    for the duration of a run. Handlers are removed afterwards, so repeated runs in one process
    (tests, the app) neither duplicate lines nor write to streams that are gone."""
    formatter = logging.Formatter("[%(asctime)s %(name)s]: %(message)s", datefmt="%m/%d %H:%M:%S")
    handlers = [logging.StreamHandler(sys.stdout)]
    if comm.is_main_process():  # one log.txt, from the main process (training.launch)
        handlers.append(logging.FileHandler(log_file))
    for handler in handlers:
        handler.setFormatter(formatter)
    saved = []
    for name in ("detectron2", "fvcore"):
        log = logging.getLogger(name)
        saved.append((log, log.level, log.propagate))
        log.setLevel(logging.INFO)
        log.propagate = False
        for handler in handlers:
            log.addHandler(handler)
    try:
        yield
    finally:
        for log, level, propagate in saved:
            for handler in handlers:
                log.removeHandler(handler)
            log.setLevel(level)
            log.propagate = propagate
        for handler in handlers:
            handler.close()
