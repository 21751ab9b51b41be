"""The Detections page as a person reads it (issue 23 item 11): no bare "0" badge, no "None" cells,
and the "#" columns explained."""

from __future__ import annotations

import re

from tests.app.conftest import open_app


def test_counts_and_the_table_read_plainly():
    at = open_app()
    metrics = [m for m in at.metric if m.label == "Detections"]
    assert metrics and all(m.proto.delta != "0" for m in metrics)
    for m in metrics:  # a change is a short badge ("+1", it fits a third of the page), explained in the help
        if m.proto.delta:
            assert re.fullmatch(r"[+-]\d+", m.proto.delta) and "than without attention" in m.proto.help
    at.sidebar.slider(key="threshold").set_value(0.05).run()  # low enough for the counts to differ
    changed = [m for m in at.metric if m.label == "Detections" and m.proto.delta]
    assert changed and f"{abs(int(changed[0].proto.delta))} " in changed[0].proto.help
    table = at.dataframe[0]
    assert table.proto.placeholder == "–"  # a model without the instance: "–", not "None"
    assert any("“with #” and “without #”" in c.value for c in at.caption)


def test_the_first_page_says_what_bam_and_the_demo_models_are():
    from app.intro import PAGES
    from demo.statement import DEMO_STATEMENT

    at = open_app()
    assert [i.value for i in at.info][:1] == [DEMO_STATEMENT]
    assert "Bottleneck Attention Module" in at.markdown[0].value
    guide = next(e for e in at.expander if "your own model" in e.label)
    assert all(f"**{name}**" in guide.markdown[0].value for name, _ in PAGES)


def test_the_page_guide_names_every_page_of_the_app():
    import ast
    from pathlib import Path

    from app.intro import PAGES

    tree = ast.parse((Path(__file__).resolve().parents[2] / "streamlit_app.py").read_text())
    titles = [k.value.value for node in ast.walk(tree) if isinstance(node, ast.Call)
              and getattr(node.func, "attr", "") == "Page" for k in node.keywords if k.arg == "title"]
    assert len(titles) >= 8 and [name for name, _ in PAGES] == titles
