"""The `train` and `evaluate` subcommands: arguments, exit statuses, messages without tracebacks."""

from pathlib import Path

import pytest

import models
from app.commands import evaluate as evaluate_command
from app.commands import train as train_command
from app.commands._dataset import DEFAULT_MODELS, default_labels, resolve_specs
from models.zoo import split_spec

BAM_CONFIG = models.CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml"


def _parse(*argv):
    from app.cli import build_parser

    return build_parser().parse_args(argv)


def test_arguments_parse():
    args = _parse("train", "--config", "c.yaml", "--train-json", "t.json", "--train-images", "imgs",
                  "--out", "run", "--iters", "10", "--resume", "--seed", "3", "--threads", "1",
                  "--opts", "SOLVER.IMS_PER_BATCH", "2")
    assert (args.iters, args.resume, args.seed, args.opts, args.init_weights) == \
        (10, True, 3, ["SOLVER.IMS_PER_BATCH", "2"], None)
    assert args.threads == 1 and args.run is train_command.run
    args = _parse("evaluate", "--models", "a.yaml:a.pth", "b.yml:b.pth", "--labels", "A", "B",
                  "--json", "t.json", "--images", "imgs", "--out", "ev", "--threshold", "0.3")
    assert (args.models, args.labels, args.threshold, args.run) == (["a.yaml:a.pth", "b.yml:b.pth"], ["A", "B"],
                                                                     0.3, evaluate_command.run)
    for bad in (["train", "--config", "c", "--train-json", "t", "--train-images", "i", "--out", "o", "--iters", "0"],
                ["evaluate", "--json", "t", "--images", "i", "--out", "o", "--threshold", "1.5"]):
        with pytest.raises(SystemExit):
            _parse(*bad)


def test_model_specs_and_labels():
    assert split_spec(r"C:\cfg\m.yaml:C:\w\m.pth") == (Path(r"C:\cfg\m.yaml"), Path(r"C:\w\m.pth"))
    with pytest.raises(ValueError, match="CONFIG.yaml:WEIGHTS.pth"):
        split_spec("weights.pth")
    assert default_labels([Path("a/bam.pth"), Path("b/base.pth")]) == ["bam", "base"]
    runs = [Path("runs/bam/model_final_fp16.pth"), Path("runs/baseline/model_final_fp16.pth")]
    assert default_labels(runs) == ["bam/model_final_fp16", "baseline/model_final_fp16"]


def test_evaluate_without_the_demo_models_exits_2(monkeypatch, tmp_path, capsys):
    from models.zoo import NAMED, ModelSpec

    for name in DEFAULT_MODELS:  # as in a checkout without demo/weights
        monkeypatch.setitem(NAMED, name, ModelSpec(name, NAMED[name].config, tmp_path / f"{name}.pth"))
    status = evaluate_command.run(_parse("evaluate", "--json", "t.json", "--images", "i", "--out", str(tmp_path)))
    err = capsys.readouterr().err
    assert status == 2 and "demo models are not there" in err and "--models" in err


def test_named_and_given_models_get_their_labels(random_baseline, monkeypatch):
    from models.zoo import NAMED, ModelSpec

    config, weights = random_baseline
    monkeypatch.setitem(NAMED, "demo-bam", ModelSpec("Demo BAM", config, weights))
    chosen = resolve_specs(_parse("evaluate", "--models", "demo-bam", f"{config}:{weights}",
                                   "--json", "t", "--images", "i", "--out", "o"))
    assert [(s.label, s.config, s.weights) for s in chosen] == [("Demo BAM", config, weights),
                                                               ("weights", config, weights)]
    relabelled = resolve_specs(_parse("evaluate", "--models", "demo-bam", f"{config}:{weights}",
                                       "--labels", "A", "B", "--json", "t", "--images", "i", "--out", "o"))
    assert [s.label for s in relabelled] == ["A", "B"]


def test_evaluate_with_missing_files_exits_2(tmp_path, capsys):
    status = evaluate_command.run(_parse("evaluate", "--models", f"{BAM_CONFIG}:{tmp_path / 'w.pth'}",
                                         "--json", "t.json", "--images", "i", "--out", str(tmp_path)))
    assert status == 2 and "w.pth" in capsys.readouterr().err


def test_evaluate_with_a_weights_file_for_another_model_exits_2(random_baseline, shared_coco, tmp_path, capsys):
    config, weights = random_baseline
    json_path, image_dir = shared_coco
    status = evaluate_command.run(_parse("evaluate", "--models", f"{BAM_CONFIG}:{weights}", "--json", str(json_path),
                                         "--images", str(image_dir), "--out", str(tmp_path)))
    err = capsys.readouterr().err
    assert status == 2 and "does not fit this model" in err and "Traceback" not in err


def test_train_with_data_problems_lists_them_and_exits_2(tiny_coco, tmp_path, capsys):
    json_path, image_dir = tiny_coco
    (image_dir / "img_000.png").unlink()
    (image_dir / "img_001.png").write_bytes(b"broken")
    status = train_command.run(_parse("train", "--config", str(BAM_CONFIG), "--train-json", str(json_path),
                                      "--train-images", str(image_dir), "--out", str(tmp_path / "run")))
    err = capsys.readouterr().err
    assert status == 2
    assert "2 problems in the data; nothing was trained" in err
    assert "img_000.png" in err and "img_001.png" in err and "Traceback" not in err


def test_train_with_a_bad_config_exits_2(tiny_coco, tmp_path, capsys):
    json_path, image_dir = tiny_coco
    config = tmp_path / "bad.yaml"
    config.write_text("MODEL:\n  ATTENTION:\n    TYPE: 'se'\n")
    status = train_command.run(_parse("train", "--config", str(config), "--train-json", str(json_path),
                                      "--train-images", str(image_dir), "--out", str(tmp_path / "run")))
    assert status == 2 and "MODEL.ATTENTION.TYPE" in capsys.readouterr().err


def test_train_argument_mistakes_exit_2(capsys):
    base = ["train", "--config", "c.yaml", "--train-json", "t.json", "--train-images", "i", "--out", "o"]
    assert train_command.run(_parse(*base, "--val-json", "v.json")) == 2
    assert train_command.run(_parse(*base, "--opts", "SOLVER.IMS_PER_BATCH")) == 2
    err = capsys.readouterr().err
    assert "--val-images" in err and "KEY VALUE" in err


def test_evaluate_needs_json_and_images_together(tmp_path, capsys):
    status = evaluate_command.run(_parse("evaluate", "--json", "t.json", "--out", str(tmp_path)))
    assert status == 2 and "give both --json and --images" in capsys.readouterr().err


def test_evaluate_needs_out_unless_from_counts(capsys):
    status = evaluate_command.run(_parse("evaluate", "--json", "t.json", "--images", "i"))
    assert status == 2 and "--out" in capsys.readouterr().err
