"""Measuring trained models over a labelled dataset, and saying what the numbers mean.

Plain Python, no Streamlit. Each measure runs every model over the images of a COCO set once
and writes its results as JSON, with Markdown and CSV beside them:

- `evaluation.evaluate`: image-level crack / no-crack counts and COCO box / mask AP, side by side;
- `evaluation.significance`: paired statistics of two models (McNemar, bootstrap intervals);
- `evaluation.alignment` (per map: numpy in, numbers out) and `evaluation.attention_report`
  (over a dataset): do the attention and feature maps line up with the cracks, per stage;
- `evaluation.handout`: one PDF and HTML to hand out, made of the above and example images.

Every measure takes loaded models (`models.LoadedModel`) and shares one skeleton,
`evaluation.runner` (the models checked, each image decoded once for all models in worker
processes by `evaluation.loader`, progress, timings); `evaluation.masks` gives the ground truth
(each image's crack) and `evaluation.text_safety` keeps names from files and visitors as text in
the reports. The command line and the app's pages are the front ends (`app.commands`, `app.pages`).

Import the submodules themselves (`from evaluation.evaluate import evaluate`).
"""
