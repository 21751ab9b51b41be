"""panels_figure: pictures already rendered, with titles, as one figure."""

import numpy as np
import pytest

from viz.figures import figure_bytes, panels_figure


def test_panels_figure_lays_out_titled_pictures():
    picture = np.zeros((30, 60, 3), np.uint8)
    fig = panels_figure([(picture, "a"), (picture, "b"), (picture, "c")], title="three", cols=2)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == ["a", "b", "c"] and len(fig.axes) == 4
    assert not fig.axes[3].axison  # the unused cell is blank
    assert figure_bytes(fig, "png").startswith(b"\x89PNG") and figure_bytes(fig, "pdf").startswith(b"%PDF")
    with pytest.raises(ValueError):
        panels_figure([])
