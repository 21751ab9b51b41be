"""Mask R-CNN with BAM / CBAM attention on detectron2.

Importing this package first makes detectron2 usable here (see `models.detectron2_compat`) and
registers the attention backbones with detectron2.
"""

from models import detectron2_compat  # noqa: F401  (must precede every detectron2 import)
from models.attention import ATTENTION_REGISTRY, AttentionType
from models.bam import BAM, FUSIONS
from models.build import CONFIG_DIR, ModelSummary, build_model, default_config, describe, get_config, read_config
from models.cbam import CBAM
from models.checkpoint import Checkpoint, Fit, load_weights, read_checkpoint, read_state_dict, save_weights
from models.config import add_attention_config
from models.errors import CheckpointError, ConfigError, ModelLoadError
from models.inputs import ModelInput, prepare_input
from models.loaded import RANDOM_WEIGHTS_SEED, LoadedModel, ModelSpec, load, load_model

__all__ = [
    "ATTENTION_REGISTRY", "AttentionType", "BAM", "CBAM", "CONFIG_DIR", "FUSIONS", "CheckpointError", "ConfigError",
    "ModelLoadError", "Checkpoint", "Fit", "read_checkpoint",
    "ModelSummary", "add_attention_config", "build_model", "default_config", "describe",
    "ModelInput", "get_config", "load_model", "load_weights", "prepare_input", "read_state_dict",
    "save_weights", "LoadedModel", "ModelSpec", "RANDOM_WEIGHTS_SEED", "load", "read_config",
]
