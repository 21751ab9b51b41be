"""The Detections page as a person reads it (issue 23 item 11): no bare "0" badge, no "None" cells,
and the "#" columns explained."""

from __future__ import annotations

from tests.app.conftest import open_app


def test_counts_and_the_table_read_plainly():
    at = open_app()
    deltas = [m.proto.delta for m in at.metric if m.label == "Detections"]
    assert deltas and all(d in ("",) or d.endswith("vs. without attention") for d in deltas)
    assert all(d != "0" for d in deltas)
    table = at.dataframe[0]
    assert table.proto.placeholder == "–"  # a model without the instance: "–", not "None"
    assert any("“with #” and “without #”" in c.value for c in at.caption)
