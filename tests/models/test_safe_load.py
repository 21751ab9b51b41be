"""Hostile configs and weights through the engine: refused with one sentence, nothing runs, and
memory stays flat (models.safe_load)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import models
from models import CheckpointError, ConfigError
from models.device import cuda_count
from models.safe_load import check_config_file, read_weights_file, weights_budget
from tests import hostile

R18_BAM = models.CONFIG_DIR / "mask_rcnn_R_18_FPN_bam.yaml"


@pytest.fixture(scope="session")
def bomb(tmp_path_factory):
    return hostile.zip_bomb_weights(tmp_path_factory.mktemp("bomb"))


@pytest.mark.parametrize("make", [hostile.yaml_running_code, hostile.yaml_with_evil_base],
                         ids=["tag", "tag-in-base"])
def test_a_yaml_tag_that_runs_code_is_refused_and_never_runs(tmp_path, make):
    marker = tmp_path / "pwned"
    path = make(tmp_path, marker)
    with pytest.raises(ConfigError, match="refused: it uses YAML tags") as error:
        models.get_config(path)
    assert str(error.value).startswith(path.name)
    assert not marker.exists()


def test_detectron2_alone_would_run_it(tmp_path):
    """The reason for models.safe_load: detectron2's merge_from_file defaults to allow_unsafe=True."""
    marker = tmp_path / "pwned"
    path = hostile.yaml_running_code(tmp_path, marker)
    cfg = models.default_config()
    try:
        cfg.merge_from_file(str(path))
    except Exception:  # noqa: BLE001  (the config is not valid afterwards; the command ran anyway)
        pass
    assert marker.exists()


def test_yaml_aliases_are_refused_when_they_would_expand_absurdly(tmp_path):
    with pytest.raises(ConfigError, match="expands to more than 100000 values"):
        models.get_config(hostile.yaml_billion_laughs(tmp_path))
    dumped = tmp_path / "dumped.yaml"  # detectron2's own cfg.dump() writes aliases for shared values
    dumped.write_text('_BASE_: "{}"\nINPUT:\n  MIN_SIZE_TRAIN: &sizes [224, 256]\n'
                      'TEST:\n  AUG:\n    MIN_SIZES: *sizes\n'
                      .format(R18_BAM))
    assert models.get_config(dumped).TEST.AUG.MIN_SIZES == (224, 256)


@pytest.mark.parametrize("base, expected", [
    ("https://example.com/Base-RCNN-FPN.yaml", "is on the web; nothing is downloaded"),
    ("Base-RCNN-FPN.yaml", "file not found"),
    ("/etc/passwd", "must be a .yaml file"),
    ("self.yaml", "loops back"),
])
def test_bad_bases_are_one_sentence(tmp_path, base, expected):
    path = tmp_path / "self.yaml"
    path.write_text(f'_BASE_: "{base}"\n')
    with pytest.raises(ConfigError, match=expected) as error:
        models.get_config(path)
    assert "\n" not in str(error.value) and "root:" not in str(error.value)  # no file content shown


def test_allowed_dirs_hold_the_whole_base_chain(tmp_path):
    inside = tmp_path / "uploads"
    inside.mkdir()
    path = inside / "mine.yaml"
    path.write_text('_BASE_: "../elsewhere/base.yaml"\n')
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "base.yaml").write_text("MODEL:\n  MASK_ON: True\n")
    check_config_file(path)  # the command line: the user's own files, anywhere
    with pytest.raises(ConfigError, match="outside the folders"):
        check_config_file(path, allowed_dirs=[inside])


def test_a_zip_bomb_is_refused_from_its_record_sizes(bomb):
    assert bomb.stat().st_size < 4 << 20
    with pytest.raises(CheckpointError, match="expand to 2048 MB"):
        read_weights_file(bomb, max_bytes=512 << 20)


def test_loading_a_zip_bomb_keeps_memory_flat(bomb):
    """Measured in a fresh process: the peak RSS of the load above the model's own."""
    code = textwrap.dedent(f"""
        import resource, models
        model = models.build_model(models.get_config({str(R18_BAM)!r}))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            models.load_weights(model, {str(bomb)!r})
        except models.CheckpointError as e:
            print("refused:", e)
        print("grew_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300).stdout
    assert "refused: bomb.pth: refused: its records expand to 2048 MB" in out, out
    grew_mb = int(out.split("grew_kb")[1]) / 1024
    assert grew_mb < 50, f"the load grew the process by {grew_mb:.0f} MB"


def test_budget_follows_the_model(pair):
    (model, _), _ = pair
    params = sum(t.numel() for t in model.state_dict().values())
    assert weights_budget(model) == 16 * params + (64 << 20)


@pytest.mark.parametrize("make", [hostile.pickle_running_code, hostile.zoo_pickle_running_code],
                         ids=["pth", "zoo-pkl"])
def test_a_code_running_pickle_is_refused_without_advice_to_unpickle_it(tmp_path, make):
    marker = tmp_path / "pwned"
    path = make(tmp_path, marker)
    with pytest.raises(CheckpointError) as error:
        read_weights_file(path)
    message = str(error.value)
    assert message.startswith(f"{path.name}: refused") and ".system)" in message  # os.system pickles as posix.system
    assert "weights_only" not in message and "\n" not in message
    assert not marker.exists()


def test_a_model_zoo_pickle_of_numpy_arrays_is_read(tmp_path):
    path = tmp_path / "model_final_abc.pkl"
    weights = {"backbone.bottom_up.stem.conv1.weight": np.ones((2, 3), np.float32)}
    with path.open("wb") as f:
        pickle.dump({"model": weights, "__author__": "Detectron2 Model Zoo", "matching_heuristics": True}, f)
    state = models.read_state_dict(path)
    assert torch.equal(state["backbone.bottom_up.stem.conv1.weight"], torch.ones(2, 3))


@pytest.mark.parametrize("content", [b"", b"these are my notes\n" * 5, b"PK\x03\x04broken zip", b"\x80\x04K\x65."])
def test_garbage_weights_are_one_sentence(tmp_path, content):
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="^weights.pth: ") as error:
        models.read_state_dict(path)
    assert "\n" not in str(error.value)


def test_system_files_as_weights_are_one_sentence():
    with pytest.raises(CheckpointError, match="^passwd: "):
        models.read_state_dict("/etc/passwd")


@pytest.mark.skipif(cuda_count() > 0, reason="this machine has a GPU")
def test_a_config_asking_for_cuda_runs_on_the_cpu_with_a_note(tmp_path):
    cfg, notes = models.read_config(hostile.config_asking_for_cuda(tmp_path))
    assert cfg.MODEL.DEVICE == "cpu"
    assert notes == ["the config asks for 'cuda' but this machine has no CUDA GPU: running on the CPU"]
    with pytest.raises(models.ModelLoadError, match="no CUDA GPU"):
        models.read_config(R18_BAM, device="cuda")  # asked for explicitly: an error, not a fallback


def test_a_config_naming_no_device_takes_the_automatic_one(tmp_path):
    cfg, notes = models.read_config(R18_BAM)
    assert cfg.MODEL.DEVICE == ("cuda" if cuda_count() else "cpu") and notes == []
    assert models.read_config(R18_BAM, device="cpu")[0].MODEL.DEVICE == "cpu"
