"""Widgets the pages share. Each `*_ui` draws its controls and returns plain values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from matplotlib.figure import Figure

from app import assets, cache
from app.assets import ImageSource
from app.exports import png_bytes, stem
from app.model_choice import ROLE_TITLES
from app.shared_work import SHARED, images_done, run_shared, shared_bar
from app.sidebar import Selection
from app.text import literal
from models.loaded import LoadedModel
from viz.render import SEQUENTIAL_CMAPS, colorbar
from viz.views import STRETCHED, Panel, Scale


@dataclass(frozen=True)
class Display:
    on_image: bool
    alpha: float
    cmap: str
    stretch: bool = False


def display_ui(key: str, *, cmap: str = "inferno", alpha: float = 0.5, on_image: bool = True,
               can_hide_image: bool = True, can_stretch: bool = True) -> Display:
    """Overlay, stretch, opacity and colormap controls, in one row."""
    widths = [1.2] * can_hide_image + [1.2] * can_stretch + [2, 1.4]
    cols = st.columns(widths, vertical_alignment="bottom")
    shown = cols[0].toggle("On the image", value=on_image, key=f"{key}_on_image",
                           help="Overlay the maps on the image, or show them alone.") if can_hide_image else True
    stretch = cols[int(can_hide_image)].toggle(
        "Stretch", value=False, key=f"{key}_stretch",
        help=f"Attention maps: {STRETCHED} instead of their absolute range [0, 1]. "
             "A stretched map shows structure however small its range: read its colour bar.") if can_stretch else False
    opacity = cols[-2].slider("Opacity", 0.0, 1.0, alpha, 0.05, key=f"{key}_alpha", disabled=not shown)
    choices = list(dict.fromkeys([cmap, *SEQUENTIAL_CMAPS]))
    colormap = cols[-1].selectbox("Colormap", choices, key=f"{key}_cmap")
    return Display(shown, opacity, colormap, stretch)


COLORBAR_CAPTION = "colour scale: "


def colorbar_ui(scale: Scale) -> None:
    """The colour bar of a map's scale, under its picture, captioned with which range it is."""
    st.image(colorbar(scale.vmin, scale.vmax, scale.cmap), width="stretch", output_format="PNG",
             caption=COLORBAR_CAPTION + scale.label)


def panel_ui(panel: Panel, *, title: bool = False) -> None:
    """A view's panel: (its title,) its picture with the caption, and its colour bar."""
    if title:
        st.markdown(f"**{panel.title}**")
    st.image(panel.image, caption=panel.caption or None, width="stretch")
    if panel.scale is not None:
        colorbar_ui(panel.scale)


def model_picker_ui(pair: tuple[LoadedModel, LoadedModel], key: str, *, attention_only: bool = False,
                    label: str = "Model") -> tuple[int, LoadedModel] | None:
    """Which of the two models: (0 = with, 1 = without, the model). None when none qualifies."""
    options = [i for i, m in enumerate(pair) if m.has_attention or not attention_only]
    if not options:
        return None
    index = st.segmented_control(label, options, default=options[0], key=key, required=True,
                                 format_func=lambda i: f"{ROLE_TITLES[('with', 'without')[i]]}: {pair[i].label}")
    index = options[0] if index is None else index
    return index, pair[index]


def table_ui(rows: list[dict], formats: dict[str, str] | None = None, **dataframe_args) -> None:
    """Rows as a table in which a missing value reads "–" (never "None"). `formats`: per column,
    a format spec ("{:.3f}"); whole numbers show as such. The values stay numbers (sorting works)."""
    import pandas as pd

    frame = pd.DataFrame(rows).convert_dtypes()  # ints with gaps stay ints (nullable), not 3.0
    shown = frame.style.format(formats or {}, na_rep="–")
    # placeholder: Streamlit draws a missing cell as "None" whatever the Styler says
    st.dataframe(shown, **({"hide_index": True, "width": "stretch", "placeholder": "–"} | dataframe_args))


def downloads_row(items: list[tuple[str, Callable[[], bytes | str], str, str]], key: str) -> None:
    """Download buttons in one row: (label, data producer, file name, mime). The data is produced
    when the button is clicked, not on every rerun."""
    cols = st.columns(max(len(items), 4))
    for col, (label, produce, file_name, mime) in zip(cols, items):
        col.download_button(label, produce, file_name=file_name, mime=mime, key=f"{key}_{file_name}",
                            icon=":material/download:", on_click="ignore")


def figure_items(make: Callable[[], Figure], stem: str, *, pdf: bool = True, what: str = "figure") -> list:
    """Download items for a figure: PNG, and PDF for the publication figures."""
    from viz.figures import figure_bytes

    items = [(f"{what} (PNG)", lambda: figure_bytes(make(), "png"), f"{stem}.png", "image/png")]
    if pdf:
        items.append((f"{what} (PDF)", lambda: figure_bytes(make(), "pdf"), f"{stem}.pdf", "application/pdf"))
    return items


def png_item(label: str, picture, file_name: str) -> tuple:
    return (label, lambda: png_bytes(picture), file_name, "image/png")


def page_header(title: str, selection: Selection, pair: tuple[LoadedModel, LoadedModel] | None = None, *,
                image: bool = True) -> None:
    """The page's title, what is analysed, problems with uploads, the models' notes and (where the
    page shows the image: `image`) a note where a model sees the image much smaller than it is."""
    st.title(title)
    parts = []
    if selection.image is not None:
        h, w = selection.image.shape[:2]
        parts.append(f"**{selection.image_name}** ({w} × {h})")
    if pair:
        parts.append(f"with: {pair[0].label} · without: {pair[1].label} · score ≥ {selection.threshold:.2f}")
    if parts:
        st.caption(" · ".join(parts))
    for problem in selection.problems:
        st.error(literal(problem), icon=":material/broken_image:")
    if selection.notes:
        notes = selection.notes
        text = notes[0][0].upper() + notes[0][1:] + "." if len(notes) == 1 else "\n".join(f"- {n}" for n in notes)
        st.warning(text + ("\n\n" if len(notes) > 1 else " ")
                   + "To see what a model learned, give its weights file (.pth or .pkl) beside its config in the "
                     "sidebar's **Use your own models**.", icon=":material/warning:")
    if selection.image_note:
        st.caption(f"The image is {selection.image_note}.")
    if image and pair and selection.image is not None:
        shrink_ui(selection.image, pair)


def shrink_ui(image: np.ndarray, pair: tuple[LoadedModel, LoadedModel]) -> None:
    """A note where the models see the image much smaller than it is (models.inputs.shrink_note)."""
    from models.inputs import shrink_note

    h, w = image.shape[:2]
    notes = list(dict.fromkeys(note for m in pair if (note := shrink_note(h, w, m.cfg, m.label))))
    both = {shrink_note(h, w, m.cfg, "Each model") for m in pair}
    if len(notes) == 2 and len(both) == 1:  # the same input size: one sentence, not the same one twice
        notes = list(both)
    if notes:
        st.info(" ".join(f"{n[0].upper()}{n[1:]}." for n in notes)
                + " Thin cracks show better in a crop of the photo.", icon=":material/photo_size_select_small:")


def gallery_ui(selection: Selection, *, columns: int = 10) -> None:
    """The usable images as thumbnails, in an expander; a button under each makes it the analysed image."""
    def choose(name: str) -> None:
        st.session_state["image_choice"] = name

    with st.expander(f"Gallery: {len(selection.images)} images", expanded=True, icon=":material/photo_library:"):
        cols = st.columns(columns)
        for i, source in enumerate(selection.images):
            with cols[i % columns]:
                current = source.name == selection.image_name
                st.image(cache.thumbnail(source.digest, source.data, source.name, 160), width="stretch")
                st.button(stem(source.name), key=f"gallery_{i}", on_click=choose, args=(source.name,),
                          type="primary" if current else "secondary", width="stretch",
                          help=f"Analyse {source.name}")
        for credit, names in cache.sample_credits().items():  # a dataset's photos carry its licence
            shown = [n for n in names if any(i.name == n for i in selection.images)]
            if shown:
                st.caption(literal(f"{', '.join(shown)}: {credit}."))


def make_demo_split_ui() -> None:
    """Generate the demo test split where it is missing, with a progress bar (a few seconds); two
    sessions asking at once share one generation (the second waits for the first's)."""
    if assets.demo_split_ready():
        return
    making = st.progress(0.0, text="Generating the demo test split…")

    shared, joined = shared_bar(DEMO_SPLIT_WORK, making, "Another visitor started it.")
    report = images_done(lambda fraction, text: shared(fraction, f"Generating the demo test split: {text}"))
    run_shared(SHARED, DEMO_SPLIT_WORK, lambda: assets.make_demo_split(progress=report), on_join=joined)
    making.empty()


DEMO_SPLIT_WORK = ("demo split", "test")  # app.shared_work key


def dataset_problems_ui(problems: list[str], what: str, shown: int = 20) -> None:
    """One error box listing a dataset's problems (the first `shown`); `what`: e.g. "evaluated"."""
    more = f"\n- … and {len(problems) - shown} more" if len(problems) > shown else ""
    st.error(f"The dataset has {len(problems)} problem(s); nothing was {what}:\n"
             + "\n".join(f"- {literal(p)}" for p in problems[:shown]) + more, icon=":material/error:")


def dataset_image(path: Path) -> tuple[ImageSource, np.ndarray]:
    """A dataset's image file (a path from training.data.dataset_image_path) as (its source, the
    decoded image to analyse: the upload formats and pixel rule); ValueError with one sentence,
    naming the file by its name only, where it cannot be read or decoded."""
    try:
        data = path.read_bytes()
    except OSError as e:  # str(e) would hold the full path
        raise ValueError(f"{path.name}: cannot be shown ({e.strerror or type(e).__name__}).") from None
    source = ImageSource(path.name, data, "dataset")
    try:
        return source, cache.decoded_image(source.digest, data, path.name)[0]
    except ValueError as e:
        raise ValueError(f"{path.name}: cannot be shown ({e}).") from None
