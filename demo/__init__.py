"""Synthetic crack dataset generator.

Procedurally draws cracks (labelled) and crack-like distractors (unlabelled)
on plastic, concrete, painted-metal and ceramic surfaces, and writes COCO
instance-segmentation datasets. Uses only numpy, OpenCV and pycocotools.
"""
