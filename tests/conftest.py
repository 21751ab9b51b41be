"""Shared fixtures. Importing `models` first makes detectron2 importable (see models/__init__)."""

import argparse
import json
from pathlib import Path

import pytest
import torch

import models
from tests.coco import BAM_CONFIG, BASELINE_CONFIG, SMALL, make_coco_dataset


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def config_dir():
    return models.CONFIG_DIR


def config(name: str, *opts: str):
    return models.get_config(models.CONFIG_DIR / f"{name}.yaml", list(opts))


@pytest.fixture(scope="session")
def pair():
    """A small R-18 BAM model and its baseline, seeded, at a small test size: ((model, cfg), (model, cfg))."""
    torch.manual_seed(0)
    opts = ("INPUT.MIN_SIZE_TEST", "160", "INPUT.MAX_SIZE_TEST", "256")
    cfg_with, cfg_without = config("mask_rcnn_R_18_FPN_bam", *opts), config("mask_rcnn_R_18_FPN", *opts)
    return (models.build_model(cfg_with), cfg_with), (models.build_model(cfg_without), cfg_without)


# ---------------------------------------------------------------------------------------------
# A tiny COCO set (tests/coco.py), a short training run on it, an untrained baseline


@pytest.fixture
def tiny_coco(tmp_path):
    """A fresh tiny dataset per test (tests may break it): (json_path, image_dir)."""
    return make_coco_dataset(tmp_path / "data")


@pytest.fixture(scope="session")
def shared_coco(tmp_path_factory):
    """One tiny dataset for the tests that only read it: (json_path, image_dir)."""
    return make_coco_dataset(tmp_path_factory.mktemp("coco"))


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, shared_coco):
    """The R-18 BAM config trained for 4 iterations with train(), then resumed to 6 through the
    `train` command (with a validation set). Records what each phase left behind."""
    from app.commands import train as train_command
    from training.train import train

    json_path, image_dir = shared_coco
    out = tmp_path_factory.mktemp("run")
    first = train(BAM_CONFIG, json_path, image_dir, out, iters=4, seed=0, opts=SMALL)
    phase1 = {"final": first, "metrics": _read_lines(out / "metrics.json"),
              "last_checkpoint": (out / "last_checkpoint").read_text().strip(),
              "files": sorted(p.name for p in out.iterdir())}
    args = argparse.Namespace(config=str(BAM_CONFIG), train_json=[str(json_path)], train_images=[str(image_dir)],
                              val_json=str(json_path), val_images=str(image_dir), out=str(out), iters=6,
                              resume=True, init_weights=None, seed=0, threads=None, opts=SMALL, device="auto",
                              augment="standard", repeat=None,
                              num_processes=1, num_machines=1, machine_rank=0, dist_url="auto")  # one process
    status = train_command.run(args)
    yield {"out": out, "phase1": phase1, "resume_status": status,
           "metrics": _read_lines(out / "metrics.json")}
    for checkpoint in out.glob("model_*.pth"):  # ~60 MB each; keep the temp folders small
        checkpoint.unlink()


def _read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def random_baseline(tmp_path_factory):
    """An untrained R-18 baseline saved as (config.yaml, weights.pth), at most 10 detections per image."""
    import torch

    out = tmp_path_factory.mktemp("baseline")
    cfg = models.get_config(BASELINE_CONFIG, SMALL + ["TEST.DETECTIONS_PER_IMAGE", "10"])
    torch.manual_seed(1)
    config = out / "config.yaml"
    config.write_text(cfg.dump())
    return config, models.save_weights(models.build_model(cfg), out / "weights.pth")

