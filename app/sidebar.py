"""The sidebar every page shares: which image, which score threshold, which two models.

Drawn by the entry script (so its widgets keep their state across pages); `sidebar_ui` returns
a `Selection` and keeps it for the pages of this run (`current()`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import streamlit as st

import models
from app import assets, cache
from app.assets import ImageSource
from app.exports import unique_names
from app.model_choice import ROLE_TITLES, ROLES, demo_choice, parse_class_names, path_choice, save_upload
from app.server_paths import ENV as SERVER_PATHS_ENV
from app.server_paths import folders as server_folders
from app.text import literal
from models.device import cuda_count
from models.loaded import LoadedModel, ModelSpec

SOURCES = ("Demo", "Upload", "Server path")  # "Server path" only where the operator allows it
DEMO = {"with": assets.DEMO_WITH, "without": assets.DEMO_WITHOUT}
_KEY = "_selection"


@dataclass
class ModelSlot:
    role: str  # "with" | "without"
    loaded: LoadedModel | None = None
    error: str | None = None  # why the model could not be loaded: its headline
    error_details: str = ""  # what backs the error up (e.g. the tensors that do not fit), shown folded
    pending: str | None = None  # what the user still has to give
    note: str | None = None  # e.g. random weights


@dataclass
class Selection:
    """What the sidebar chose, for the pages."""

    images: list[ImageSource]  # every usable image: uploads first, then the samples
    image_name: str | None = None
    image: np.ndarray | None = None  # (H, W, 3) uint8, as analysed
    image_key: str = ""  # content hash of the image
    image_note: str | None = None  # e.g. downscaled
    problems: list[str] = field(default_factory=list)  # bad uploads, in words
    threshold: float = 0.5
    slots: dict[str, ModelSlot] = field(default_factory=dict)

    @property
    def pair(self) -> tuple[LoadedModel, LoadedModel] | None:
        loaded = [self.slots[r].loaded for r in ROLES if r in self.slots]
        return tuple(loaded) if len(loaded) == 2 and all(loaded) else None

    @property
    def notes(self) -> list[str]:
        return [slot.note for slot in self.slots.values() if slot.note]


def current() -> Selection:
    """The Selection the sidebar made in this run."""
    return st.session_state[_KEY]


# ------------------------------------------------------------------------------------------------
# Images


def _uploaded_images() -> tuple[list[ImageSource], list[str]]:
    files = st.session_state.get("image_uploads") or []
    names = unique_names([f.name for f in files])
    good, problems = [], []
    for name, file in zip(names, files):
        source = ImageSource(name, file.getvalue(), "upload")
        problem = cache.image_problem(source.digest, source.data, name)
        if problem:
            problems.append(problem)
        else:
            good.append(source)
    return good, problems


def _select_newest_upload() -> None:
    files = st.session_state.get("image_uploads") or []
    if files:
        st.session_state["image_choice"] = unique_names([f.name for f in files])[-1]


def image_ui() -> tuple[list[ImageSource], ImageSource | None, list[str]]:
    """The image picker: (usable images, the chosen one, problems with uploads)."""
    st.subheader("Image")
    uploads, problems = _uploaded_images()
    samples = cache.samples()
    taken = {u.name for u in uploads}
    images = uploads + [s for s in samples if s.name not in taken]
    names = [i.name for i in images]
    if st.session_state.get("image_choice") not in names:
        st.session_state["image_choice"] = names[0] if names else None
    chosen_name = st.selectbox("Image to analyse", names, key="image_choice",
                               format_func=lambda n: f"⬆ {n}" if n in taken else n,
                               help="Your uploads (⬆) and the demo's sample images.")
    st.file_uploader("Upload images", type=list(assets.IMAGE_TYPES), accept_multiple_files=True,
                     key="image_uploads", on_change=_select_newest_upload,
                     help="JPEG, PNG, BMP, TIFF or WebP; grayscale, RGBA and 16-bit images are converted.")
    for problem in problems:
        st.error(literal(problem), icon=":material/broken_image:")
    chosen = next((i for i in images if i.name == chosen_name), None)
    return images, chosen, problems


# ------------------------------------------------------------------------------------------------
# Models


def _saved_upload(key: str) -> str | None:
    """The uploaded file of widget `key`, saved into the session folder (once per upload)."""
    file = st.session_state.get(key)
    if file is None:
        return None
    saved = st.session_state.setdefault("_saved_uploads", {})
    if file.file_id not in saved:
        saved[file.file_id] = str(save_upload(cache.session_folder(), file.name, file.getvalue()))
    return saved[file.file_id]


def _own_model_ui(role: str) -> ModelSpec | models.ModelLoadError | str:
    """Inputs for a user's model: a ModelSpec, the error of a file that is not there, or what
    is still missing, in words."""
    folders = server_folders()
    source = st.radio(ROLE_TITLES[role], SOURCES if folders else SOURCES[:2], key=f"{role}_source", horizontal=True)
    if source == SOURCES[0]:
        return demo_choice(DEMO[role])
    if source == SOURCES[1]:
        st.file_uploader("Config (YAML)", type=list(assets.CONFIG_TYPES), key=f"{role}_config_file")
        st.file_uploader("Weights (.pth, .pkl)", type=list(assets.WEIGHTS_TYPES), key=f"{role}_weights_file",
                         help="Leave empty for random weights.")
        config, weights = _saved_upload(f"{role}_config_file"), _saved_upload(f"{role}_weights_file")
        label = (st.session_state.get(f"{role}_weights_file") or st.session_state.get(f"{role}_config_file"))
        label = label.name.rsplit(".", 1)[0] if label is not None else None
        allowed = (cache.session_folder(),)
    else:
        allowed = folders
        st.caption("Files under: " + ", ".join(f"`{f}`" for f in folders))
        config = st.text_input("Config path", key=f"{role}_config_path", placeholder="configs/my_model.yaml")
        weights = st.text_input("Weights path", key=f"{role}_weights_path", placeholder="output/model_final.pth",
                                help="Leave empty for random weights.")
        label = None
    names = parse_class_names(st.text_input("Class names", key=f"{role}_classes", placeholder="crack, scratch",
                                            help="Comma-separated, in the model's class order. Default: the names in "
                                                 "metadata.json beside the weights (written by train), "
                                                 "else class 0, class 1, ..."))
    if not config:
        return f"{ROLE_TITLES[role]}: give a detectron2 config (YAML) and its weights in the sidebar."
    try:
        return path_choice(config, weights, label=label, class_names=names, allowed_dirs=allowed)
    except models.ModelLoadError as e:
        return e


def _distinct_labels(choices: dict) -> dict:
    mine = [c for c in choices.values() if isinstance(c, ModelSpec)]
    if len(mine) == 2 and mine[0].label == mine[1].label:
        return {role: replace(c, label=f"{c.label} ({role})") if isinstance(c, ModelSpec) else c
                for role, c in choices.items()}
    return choices


def device_ui() -> str:
    """The device both models run on: "auto" (CUDA when the server has it), "cpu" or a GPU."""
    gpus = cuda_count()
    options = ["auto", "cpu"] + (["cuda"] + [f"cuda:{i}" for i in range(1, gpus)] if gpus else [])
    return st.selectbox("Device", options, key="device",
                        help="auto: the GPU when this server has one (it has "
                             f"{gpus or 'none'}), else the CPU.")


def models_ui() -> dict[str, ModelSlot]:
    """The two models: the demo pair, or the user's own (upload or server path), loaded."""
    st.subheader("Models")
    with st.expander("Use your own models"):
        st.caption("A detectron2 Mask R-CNN config (YAML) and its weights for each side. "
                   "An uploaded config may use one of the shipped configs as `_BASE_`."
                   + ("" if server_folders() else f" (Files on the server by path: only where the operator "
                                                   f"names folders in ${SERVER_PATHS_ENV}.)"))
        choices = {role: _own_model_ui(role) for role in ROLES}
    device = device_ui()
    choices = {role: replace(c, device=device) if isinstance(c, ModelSpec) else c
               for role, c in _distinct_labels(choices).items()}
    slots = {}
    for role, choice in choices.items():
        slot = slots[role] = ModelSlot(role)
        if isinstance(choice, str):
            slot.pending = choice
        elif isinstance(choice, models.ModelLoadError):
            slot.error, slot.error_details = choice.headline, choice.details
        else:
            slot.note = choice.note
            try:
                with st.spinner(f"Loading {choice.label}…"):
                    slot.loaded = cache.model(choice.key, choice)
            except models.ModelLoadError as e:
                slot.error, slot.error_details = e.headline, e.details
        title = f"**{ROLE_TITLES[role]}:** "
        if slot.loaded:
            st.markdown(title + slot.loaded.label)
            st.caption(str(slot.loaded.summary) + (" · random weights" if slot.loaded.spec.weights is None else "")
                       + f" · on {slot.loaded.device}")
            for note in slot.loaded.notes:
                st.info(note[0].upper() + note[1:] + ".", icon=":material/info:")
        else:
            st.markdown(title + "none")
            if slot.error:
                st.error(literal(slot.error), icon=":material/error:")
                if slot.error_details:  # the tensors, folded away: the headline says what to do
                    with st.expander("Details"):
                        st.code(slot.error_details.replace("; ", "\n\n"), language=None, wrap_lines=True)
    return slots


# ------------------------------------------------------------------------------------------------


def sidebar_ui() -> Selection:
    with st.sidebar:
        images, chosen, problems = image_ui()
        selection = Selection(images=images, problems=problems)
        if chosen is not None:
            selection.image_name, selection.image_key = chosen.name, chosen.digest
            selection.image, selection.image_note = cache.decoded_image(chosen.digest, chosen.data, chosen.name)
            st.image(cache.thumbnail(chosen.digest, chosen.data, chosen.name, 320), caption=selection.image_note)
        selection.threshold = st.slider("Score threshold", 0.0, 1.0, 0.5, 0.05, key="threshold",
                                        help="Detections scoring below it are not shown or compared.")
        selection.slots = models_ui()
    st.session_state[_KEY] = selection
    return selection
