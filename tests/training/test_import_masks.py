"""python -m app import-masks: binary masks (image files, CrackForest .mat) to COCO instances, on
files the tests make, with known instance counts (issue 19)."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from app.cli import main
from tests import hostile
from training.data import check_coco_dataset
from training.import_masks import (
    ImportProblemsError,
    InstanceRule,
    TileRule,
    import_masks,
    instances_from_mask,
    parse_split,
)

H, W = 64, 96


def _mask_with_three_cracks() -> np.ndarray:
    """Two cracks far apart, one drawn as two fragments 2 px apart (one crack after a 5 x 5
    closing), plus a 9-px speck (dropped: under 30 px)."""
    mask = np.zeros((H, W), bool)
    mask[10, 5:45] = True                      # crack 1: 40 px
    mask[40:60, 70] = True                     # crack 2: 20 px ...
    mask[40:60, 73] = True                     # ... and its second fragment, 2 px away: 40 px in all
    mask[30:33, 30:33] = True                  # a speck of 9 px
    return mask


def _photo(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (H, W, 3), dtype=np.uint8)


def _write_pair(images: Path, masks: Path, stem: str, mask: np.ndarray, *, suffix: str = "",
                mask_ext: str = ".png", image_ext: str = ".jpg") -> None:
    images.mkdir(exist_ok=True)
    masks.mkdir(exist_ok=True)
    Image.fromarray(_photo(len(stem) + sum(map(ord, stem)))).save(images / f"{stem}{image_ext}")
    if mask_ext == ".mat":
        segmentation = np.where(mask, 2, 1).astype(np.uint8)  # CrackForest: 1 background, 2 crack
        truth = np.zeros((1, 1), dtype=[("Segmentation", "O"), ("Boundaries", "O")])
        truth[0, 0] = (segmentation, np.zeros_like(segmentation))
        scipy.io.savemat(masks / f"{stem}{suffix}.mat", {"groundTruth": truth})
    else:
        Image.fromarray(mask.astype(np.uint8) * 255).save(masks / f"{stem}{suffix}{mask_ext}")


def _read(folder: Path) -> dict:
    return json.loads((folder / "annotations.json").read_text())


def test_instances_follow_the_closing_and_the_minimum_area():
    mask = _mask_with_three_cracks()
    assert [int(m.sum()) for m in instances_from_mask(mask)] == [40, 40]
    assert len(instances_from_mask(mask, InstanceRule(close=0, min_area=30))) == 1  # the fragments stay apart (20 + 20)
    assert len(instances_from_mask(mask, InstanceRule(close=5, min_area=5))) == 3   # the speck kept
    joined = instances_from_mask(mask)[1]
    assert joined[40:60, 71:73].sum() == 0  # the closing groups; it adds no pixel to the instance


@pytest.mark.parametrize("suffix, mask_ext", [("", ".png"), ("_mask", ".png"), ("_gt", ".bmp"),
                                              ("", ".tif"), ("", ".mat")])
def test_masks_as_files_or_matlab_become_coco_instances(tmp_path, suffix, mask_ext):
    images, masks, out = tmp_path / "image", tmp_path / "groundTruth", tmp_path / "out"
    _write_pair(images, masks, "001", _mask_with_three_cracks(), suffix=suffix, mask_ext=mask_ext)
    _write_pair(images, masks, "002", np.zeros((H, W), bool), suffix=suffix, mask_ext=mask_ext)
    summary = import_masks(images, masks, out)
    data = _read(out)
    assert [c["name"] for c in data["categories"]] == ["crack"]
    assert [(i["file_name"], i["width"], i["height"]) for i in data["images"]] == [("001.jpg", W, H), ("002.jpg", W, H)]
    assert len(data["annotations"]) == 2 and {a["area"] for a in data["annotations"]} == {40.0}
    assert all(isinstance(a["segmentation"], dict) for a in data["annotations"])  # RLE
    assert (summary.splits[0].images, summary.splits[0].instances, summary.splits[0].negatives) == (2, 2, 1)
    assert (out / "images" / "001.jpg").read_bytes() == (images / "001.jpg").read_bytes()  # copied as they are
    assert check_coco_dataset(out / "annotations.json", out / "images") == []


def test_a_0_1_label_image_and_a_palette_mask_count_their_labels(tmp_path):
    images, masks = tmp_path / "img", tmp_path / "lbl"
    _write_pair(images, masks, "a", np.zeros((H, W), bool))
    _write_pair(images, masks, "b", np.zeros((H, W), bool))
    mask = _mask_with_three_cracks()
    Image.fromarray(mask.astype(np.uint8)).save(masks / "a.png")  # values 0 / 1
    palette = Image.fromarray(mask.astype(np.uint8) * 3, mode="P")  # index 3 = crack
    palette.putpalette([0, 0, 0] * 3 + [255, 0, 0] + [0, 0, 0] * 252)
    palette.save(masks / "b.png")
    import_masks(images, masks, tmp_path / "out")
    assert len(_read(tmp_path / "out")["annotations"]) == 4


def test_every_problem_is_listed_and_nothing_is_written(tmp_path):
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    _write_pair(images, masks, "good", _mask_with_three_cracks())
    _write_pair(images, masks, "nomask", _mask_with_three_cracks())
    (masks / "nomask.png").unlink()
    Image.fromarray(np.zeros((H, W), np.uint8)).save(masks / "orphan_mask.png")
    _write_pair(images, masks, "small", _mask_with_three_cracks())
    Image.fromarray(np.zeros((H // 2, W), np.uint8)).save(masks / "small.png")
    _write_pair(images, masks, "broken", _mask_with_three_cracks())
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    _write_pair(images, masks, "bomb", _mask_with_three_cracks())
    (masks / "bomb.png").write_bytes(hostile.png_header_only(30_000, 30_000, decodable=False))
    _write_pair(images, masks, "zip", _mask_with_three_cracks())
    (masks / "zip.png").unlink()
    _mat_compression_bomb(masks / "zip.mat", expanded=64 << 20)
    (images / "link.jpg").symlink_to(images / "good.jpg")

    with pytest.raises(ImportProblemsError) as error:
        import_masks(images, masks, out)
    problems = error.value.problems
    expected = ["image nomask.jpg: no mask",
                "mask orphan_mask.png: no image",
                "mask small.png (of small.jpg): the mask is 96 x 32 pixels, its image 96 x 64",
                "image broken.jpg: cannot be read as an image",
                "mask bomb.png (of bomb.jpg): refused: it claims far more pixels",
                "mask zip.mat (of zip.jpg): its data would expand to more than",
                "images/link.jpg: a link"]
    for start in expected:
        assert sum(p.startswith(start) for p in problems) == 1, (start, problems)
    assert len(problems) == len(expected)
    assert not out.exists() and not any(p.name.startswith(".out") for p in tmp_path.iterdir())


def _mat_compression_bomb(path: Path, expanded: int) -> None:
    """A MATLAB 5 file of a few KB whose one compressed element inflates to `expanded` bytes."""
    packer, chunk = zlib.compressobj(9), bytes(1 << 20)
    payload = packer.compress(struct.pack("<II", 14, expanded))
    payload += b"".join(packer.compress(chunk) for _ in range(expanded >> 20)) + packer.flush()
    header = b"MATLAB 5.0 MAT-file".ljust(116, b" ") + bytes(8) + struct.pack("<H", 0x0100) + b"IM"
    path.write_bytes(header + struct.pack("<II", 15, len(payload)) + payload)


def test_skip_problems_writes_the_good_pairs_and_lists_the_rest(tmp_path):
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    _write_pair(images, masks, "good", _mask_with_three_cracks())
    _write_pair(images, masks, "nomask", _mask_with_three_cracks())
    (masks / "nomask.png").unlink()
    summary = import_masks(images, masks, out, skip_problems=True)
    assert [i["file_name"] for i in _read(out)["images"]] == ["good.jpg"]
    assert any(p.startswith("image nomask.jpg: no mask") for p in summary.ignored)


def test_splits_by_stems_and_by_fractions(tmp_path):
    images, masks = tmp_path / "image", tmp_path / "groundTruth"
    for i in range(1, 11):
        _write_pair(images, masks, f"{i:03d}", _mask_with_three_cracks() if i % 2 else np.zeros((H, W), bool))
    import_masks(images, masks, tmp_path / "fixed", splits=[parse_split("train=001-006"), parse_split("test=007-010")])
    assert [i["file_name"] for i in _read(tmp_path / "fixed" / "test")["images"]] == [
        "007.jpg", "008.jpg", "009.jpg", "010.jpg"]
    assert len(_read(tmp_path / "fixed" / "train")["images"]) == 6

    summary = import_masks(images, masks, tmp_path / "drawn", splits=[("train", 0.8), ("val", 0.2)], seed=3)
    drawn = {s.name: [i["file_name"] for i in _read(s.folder)["images"]] for s in summary.splits}
    assert len(drawn["train"]) == 8 and len(drawn["val"]) == 2 and not set(drawn["train"]) & set(drawn["val"])
    again = import_masks(images, masks, tmp_path / "again", splits=[("train", 0.8), ("val", 0.2)], seed=3)
    assert [i["file_name"] for i in _read(again.splits[1].folder)["images"]] == drawn["val"]  # the seed decides

    with pytest.raises(ImportProblemsError, match="add up to 0.9"):
        import_masks(images, masks, tmp_path / "bad", splits=[("train", 0.7), ("val", 0.2)])
    with pytest.raises(ImportProblemsError, match="split test: no image .* has the stems 011, 012"):
        import_masks(images, masks, tmp_path / "bad", splits=[parse_split("test=009-012")])
    with pytest.raises(ValueError, match="NAME=FRACTION"):
        parse_split("0.8")


def test_tiles_are_balanced_and_clearly_labelled(tmp_path):
    images, masks = tmp_path / "image", tmp_path / "masks"
    big = np.zeros((64, 128), bool)
    big[20:24, 4:60] = True  # a crack in the left tile only (4 px wide, 224 px)
    images.mkdir()
    masks.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 128, 3), dtype=np.uint8)).save(images / "p.png")
    Image.fromarray(big.astype(np.uint8) * 255).save(masks / "p.png")
    summary = import_masks(images, masks, tmp_path / "tiles", tiles=TileRule(size=64, min_crack=40, margin=4))
    data = _read(tmp_path / "tiles")
    assert [i["file_name"] for i in data["images"]] == ["p_y0_x0.png", "p_y0_x64.png"]
    assert (summary.splits[0].instances, summary.splits[0].negatives) == (1, 1)
    assert check_coco_dataset(tmp_path / "tiles" / "annotations.json", tmp_path / "tiles" / "images") == []


def test_the_command_writes_or_lists_its_problems(tmp_path, capsys):
    images, masks = tmp_path / "image", tmp_path / "groundTruth"
    _write_pair(images, masks, "001", _mask_with_three_cracks(), mask_ext=".mat")
    assert main(["import-masks", "--images", str(images), "--masks", str(masks), "--out", str(tmp_path / "o")]) == 0
    assert "1 images, 2 instances, 0 without any" in capsys.readouterr().out
    (masks / "001.mat").unlink()
    assert main(["import-masks", "--images", str(images), "--masks", str(masks), "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "error: 1 problem in the data; nothing was written:" in err and "image 001.jpg: no mask" in err
    assert "Traceback" not in err


def test_stems_left_out_are_written_as_ranges():
    from training.import_masks import stem_ranges

    assert stem_ranges(["003", "001", "002", "010", "a", "011"]) == "001-003, 010-011, a"
