"""The gallery's photos from a public dataset carry its licence beside them (issue 19)."""

from __future__ import annotations

from app import assets
from tests.app.conftest import open_app


def test_crackforest_samples_carry_their_licence():
    credits = assets.sample_credits()
    (source,) = [s for s in credits if s.startswith("CrackForest")]
    assert "non-commercial research purposes only" in source
    assert credits[source] == ["crackforest_080.jpg", "crackforest_095.jpg", "crackforest_110.jpg"]
    assert all(assets.sample_ground_truth(name).masks for name in credits[source])  # annotated
    assert (assets.SAMPLES_DIR / "CRACKFOREST.md").is_file()


def test_the_gallery_says_it_beside_the_pictures():
    at = open_app()
    captions = [c.value.replace("\\", "") for c in at.caption]  # as read: Markdown escapes gone
    assert any(c.startswith("crackforest_080.jpg, crackforest_095.jpg, crackforest_110.jpg: CrackForest")
               and "non-commercial research purposes only" in c for c in captions), captions
