"""Measuring trained models over a labelled dataset, and saying what the numbers mean.

Plain Python, no Streamlit. Each measure takes loaded models (`models.LoadedModel`, the first the
reference: the baseline), runs them over the images of a COCO set once, and returns typed results
(`evaluation.results`) that it writes as JSON, with Markdown and CSV beside them:

- `evaluation.evaluate`: image-level crack / no-crack counts and COCO box / mask AP, side by side;
- `evaluation.significance`: paired statistics of two models (McNemar, bootstrap intervals);
- `evaluation.alignment` (per map: numpy in, numbers out) and `evaluation.attention_report`
  (over a dataset): do the attention and feature maps line up with the cracks, per stage;
  `evaluation.alignment_figure` draws it;
- `evaluation.dissection`, `evaluation.knockout`: which channels see cracks, and what removing them
  costs; `evaluation.dissect` runs both over a dataset, `evaluation.dissection_report` (its JSON,
  tables, Markdown and handout pages) and `evaluation.dissection_figure` show them;
- `evaluation.handout` (what goes in) and `evaluation.handout_pages` (PDF pages and HTML): one
  report to hand out, made of the above and example images.

What the measures share: `evaluation.runner` (the models checked, each image decoded once for all
models by `evaluation.loader`'s worker processes, progress, timings), `evaluation.image_pass` (one
pass of the models' ResNets over the images feeding every measure of maps, the images shared
between launcher processes), `evaluation.masks` (each
image's crack), `evaluation.results` (the files' content as dataclasses: `to_json` / `from_json`)
and `evaluation.formatting` (the one place results become Markdown, CSV, tables and HTML; names
kept as text by `evaluation.text_safety`).

A new dataset measure is a module here in the shape of `attention_report()` (runner, a results
dataclass in `results.py`, its tables in `formatting.py`) and the page (and, if wanted, the command)
that calls it. The command line and the app's pages are the front ends (`app.commands`, `app.pages`).

Import the submodules themselves (`from evaluation.evaluate import evaluate`).
"""
