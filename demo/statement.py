"""What the demo models are, in a few sentences (DEMO_MODELS, which heads the handout report), and the
app's first page's statement (DEMO_STATEMENT: those, and where to load one's own model). The
numbers are the model card's (demo/MODEL_CARD.md, recipe v3); tests/demo/test_statement.py
recomputes them from the per-image scores stored beside the card."""

DEMO_MODELS = (
    "The demo models are one Mask R-CNN (ResNet-18-FPN) with BAM and the same network without it, "
    "trained on 64 CrackForest road photographs and 800 synthetic crack images (demo/MODEL_CARD.md). "
    "On the 46 CrackForest test photos both find a crack in 39 (recall 84.8%), and on 160-px tiles of "
    "them they are right on 73.7% (baseline) and 76.3% (BAM); their masks are too coarse for 1-5 px "
    "cracks, other surfaces are untested, and no difference between the two is significant."
)
DEMO_STATEMENT = DEMO_MODELS + " To look at your own model, load it in the sidebar."  # the app's first page
