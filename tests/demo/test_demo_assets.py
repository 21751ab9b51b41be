"""The shipped gallery and the regenerated demo split."""

import json

import numpy as np
from pycocotools.coco import COCO

from demo.dataset import DEMO_COUNTS, SAMPLES_DIR, demo_split
from demo.generator import make_sample, sample_seed
from demo.samples import pick_samples
from tests.concurrency import twice_at_once
from viz.images import load_image


def test_gallery_has_cracks_negatives_and_distractors():
    coco = json.loads((SAMPLES_DIR / "annotations.json").read_text())
    synthetic = [im for im in coco["images"] if "surface" in im]
    photos = [im for im in coco["images"] if "surface" not in im]
    assert 8 <= len(synthetic) <= 12 and 1 <= len(photos) <= 4
    with_cracks = {a["image_id"] for a in coco["annotations"]}
    negatives = [im for im in synthetic if im["id"] not in with_cracks]
    assert 3 <= len(negatives) <= len(synthetic) - 3
    assert any(im["distractors"] for im in negatives)
    assert len({im["surface"] for im in synthetic}) >= 3
    assert all(im["id"] in with_cracks and "CrackForest" in im["source"] for im in photos)
    for im in coco["images"]:
        assert load_image(SAMPLES_DIR / im["file_name"]).shape == (im["height"], im["width"], 3)


def test_gallery_images_are_the_demo_test_split_images():
    coco = json.loads((SAMPLES_DIR / "annotations.json").read_text())
    im = coco["images"][0]
    index = int(im["file_name"].split(".")[0])
    regenerated = make_sample(np.random.default_rng(sample_seed(0, "test", index)), size=(320, 320))
    assert np.array_equal(load_image(SAMPLES_DIR / im["file_name"]), regenerated.image)


def test_pick_samples_balances_positives_and_negatives():
    coco = {"images": [{"id": i, "surface": "s%d" % (i % 3), "distractors": ["hair"] * (i % 2)} for i in range(1, 21)],
            "annotations": [{"image_id": i} for i in range(1, 11)]}
    picked = pick_samples(coco, 6)
    assert len(picked) == 6 and sum(im["id"] <= 10 for im in picked) == 3
    assert all(im["distractors"] for im in picked if im["id"] > 10)


def test_demo_split_is_generated_once_and_complete(tmp_path):
    json_path, image_dir = demo_split("val", tmp_path)
    coco = COCO(str(json_path))
    assert len(coco.imgs) == DEMO_COUNTS["val"] and len(list(image_dir.glob("*.png"))) == DEMO_COUNTS["val"]
    assert not (tmp_path / "train").exists()
    stamp = json_path.stat().st_mtime_ns
    assert demo_split("val", tmp_path) == (json_path, image_dir) and json_path.stat().st_mtime_ns == stamp


def test_two_sessions_generating_the_split_at_once_keep_one_complete_split(tmp_path, monkeypatch):
    import demo.dataset

    monkeypatch.setattr(demo.dataset, "DEMO_COUNTS", {**DEMO_COUNTS, "val": 3})
    first, second = twice_at_once(monkeypatch, demo.dataset, "generate_dataset", lambda: demo_split("val", tmp_path),
                                  lambda found: (found[1] / "in use by a page").write_text(""))
    assert first == second
    json_path, image_dir = first
    assert (image_dir / "in use by a page").is_file()  # the split in use was never replaced
    assert len(COCO(str(json_path)).imgs) == 3 and len(list(image_dir.glob("*.png"))) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["val"]  # no temporary folder left
