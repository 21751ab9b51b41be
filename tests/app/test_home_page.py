"""The landing page renders with the real config catalogue."""

from streamlit.testing.v1 import AppTest


def test_home_lists_every_config_with_its_attention():
    at = AppTest.from_file("../../streamlit_app.py", default_timeout=60).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert "mask_rcnn_R_18_FPN_bam.yaml" in set(table["config"])
    described = dict(zip(table["config"], table["model"]))
    assert described["mask_rcnn_R_50_FPN_cbam.yaml"].startswith("ResNet-50-FPN, CBAM after res2")
