"""The labelled dataset the Evaluate and "Attention, measured" pages measure on: the demo test
split, the visitor's own upload, or (only where the operator allows it) a COCO set on the server by
path. One choice per session: it stays when the visitor changes page and comes back.

An upload is one zip (a COCO JSON with its images, or images with masks) or a COCO JSON with a zip
of its images; training.dataset_upload checks it (hostile zips refused, one sentence each) and
extracts it once per content, shared by every session. Its label, "name (hash)", names every
result made from it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import streamlit as st

from app import assets, server_paths
from app.server_paths import ENV as SERVER_PATHS_ENV
from app.shared_work import SHARED, run_shared
from app.text import literal

SOURCES = ("Demo test split", "Upload a dataset", "A COCO dataset on the server")
DEMO_LABEL = "Demo test split"
UPLOADS_ROOT = assets.ROOT / "output" / "datasets"  # git-ignored; one folder per upload's content
_KEPT = "_dataset_kept"  # the choice's widget values, kept across pages (Streamlit forgets those of a page left)
_UPLOADED = "_dataset_uploaded"  # the extracted upload (training.dataset_upload.UploadedDataset)
_EXTRACTED = "_dataset_extracted"  # file ids of the upload last extracted: extracted once, not on every rerun
NO_SERVER_PATHS = (f"Datasets on the server are not offered by path: the operator has not named folders visitors "
                   f"may read (${SERVER_PATHS_ENV}).")


@dataclass(frozen=True)
class DatasetChoice:
    """The dataset chosen: its label (shown with every result made from it), its files, and what
    is still missing in words (None: ready to run)."""

    label: str
    json_path: Path
    image_dir: Path
    demo: bool = False
    missing: str | None = None


def _kept(*keys: str) -> None:
    """Give the widgets this page is about to draw the values they had on the last page: a widget of
    another page is another widget to Streamlit (its value is not carried over), and a page without
    it makes Streamlit forget the value."""
    kept = st.session_state.setdefault(_KEPT, {})
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]  # the value as it is now: the next widget's
        elif key in kept:
            st.session_state[key] = kept[key]


def _keep(*keys: str) -> None:
    kept = st.session_state.setdefault(_KEPT, {})
    kept.update({key: st.session_state[key] for key in keys if key in st.session_state})


def dataset_ui() -> DatasetChoice:
    """The dataset picker: demo split, upload, or (where the operator allows) server paths.

    Returns:
        The DatasetChoice; its `missing` says what is still to give.
    """
    sources = SOURCES if server_paths.folders() else SOURCES[:-1]
    _kept("dataset_source", "dataset_json", "dataset_images")
    if st.session_state.get("dataset_source") not in sources:
        st.session_state["dataset_source"] = sources[0]
    source = st.radio("Dataset", sources, key="dataset_source", horizontal=True)
    if not server_paths.folders():
        st.caption(NO_SERVER_PATHS)
    if source == SOURCES[0]:
        choice = DatasetChoice(DEMO_LABEL, assets.TEST_SPLIT_JSON, assets.TEST_SPLIT_IMAGES, demo=True)
    elif source == SOURCES[1]:
        choice = _upload_ui()
    else:
        choice = _server_ui()
    _keep("dataset_source", "dataset_json", "dataset_images")
    return choice


def _upload_ui() -> DatasetChoice:
    files = st.file_uploader(
        "One zip (a COCO JSON and its images, or images and masks), or a COCO JSON and a zip of its images",
        type=["zip", "json"], accept_multiple_files=True, key="dataset_files",
        help="A COCO set: the JSON beside its images, or in a folder above images/. Images with masks: "
             "folders images/ and masks/ (binary masks named as their image, e.g. 001.jpg and 001_mask.png).")
    if files:
        _extract(files)
    uploaded = st.session_state.get(_UPLOADED)
    if uploaded is None:
        return DatasetChoice("", Path(), Path(), missing="to upload")
    if not files:
        st.caption(f"Using **{literal(uploaded.label)}**, uploaded earlier in this session; upload another to "
                   "replace it.")
    else:
        st.caption(f"Using **{literal(uploaded.label)}**" + "".join(f"; {literal(n)}" for n in uploaded.notes) + ".")
    return DatasetChoice(uploaded.label, uploaded.json_path, uploaded.image_dir)


def _extract(files: list) -> None:
    """Check and extract the uploaded files (once per upload), keeping the dataset for the session;
    an error box listing every reason where they are refused."""
    from training.dataset_upload import UploadProblemsError, content_digest, extract_dataset

    ids = tuple(f.file_id for f in files)
    if st.session_state.get(_EXTRACTED) == ids:
        return
    st.session_state.pop(_UPLOADED, None)  # a new upload: the last one is no longer the choice, even if refused
    zips = [f for f in files if f.name.lower().endswith(".zip")]
    jsons = [f for f in files if not f.name.lower().endswith(".zip")]
    if not zips and len(jsons) == 1:
        st.info(f"Now add the zip of the images {literal(jsons[0].name)} names.", icon=":material/upload_file:")
        return
    if len(zips) != 1 or len(jsons) > 1:
        st.error(f"Give one zip, or one COCO JSON and one zip of its images (got {len(zips)} zip and "
                 f"{len(jsons)} JSON files).", icon=":material/error:")
        return
    data = zips[0].getvalue()
    annotations = (jsons[0].name, jsons[0].getvalue()) if jsons else None
    name = f"{jsons[0].name} + {zips[0].name}" if jsons else zips[0].name
    key = ("dataset upload", content_digest(data, *((annotations[1],) if annotations else ())))
    try:
        with st.spinner(f"Checking and unpacking {literal(name)}…"):
            # two sessions with the same upload unpack it once (the second waits for the first)
            found = run_shared(SHARED, key, lambda: extract_dataset(data, name, UPLOADS_ROOT, annotations=annotations))
    except UploadProblemsError as e:
        st.error(f"{literal(name)} was refused:\n" + "\n".join(f"- {literal(p)}" for p in e.problems),
                 icon=":material/block:")
        return
    if found.name != name:  # the same content, uploaded before under another name: this upload's name
        found = replace(found, name=name)
    st.session_state[_UPLOADED], st.session_state[_EXTRACTED] = found, ids


def _server_ui() -> DatasetChoice:
    """A COCO set named by server path, held to the operator's folders."""
    st.caption("Files under: " + ", ".join(f"`{f}`" for f in server_paths.folders()))
    cols = st.columns(2)
    json_text = cols[0].text_input("COCO annotations (JSON)", key="dataset_json",
                                   placeholder="data/test/annotations.json").strip()
    image_text = cols[1].text_input("Image folder", key="dataset_images", placeholder="data/test/images").strip()
    json_path, image_dir = Path(json_text), Path(image_text)
    if not json_text or not image_text:
        return DatasetChoice(json_text, json_path, image_dir, missing="to give")
    try:
        server_paths.check(json_path, "annotations file")
        server_paths.check(image_dir, "image folder")
    except server_paths.ServerPathError as e:
        st.error(literal(e), icon=":material/block:")
        return DatasetChoice(json_text, json_path, image_dir, missing=str(e))
    return DatasetChoice(json_text, json_path, image_dir)
