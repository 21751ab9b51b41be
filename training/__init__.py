"""Training the Mask R-CNN models (with and without attention) on COCO data, and that data.

Plain Python, no Streamlit: `training.data` checks and registers COCO datasets,
`training.train` trains a config with detectron2's DefaultTrainer, `training.launch` runs it (or
an evaluation) in several processes (GPUs, CPU processes, machines), `training.import_masks`
turns binary masks into COCO datasets. Measuring trained models is `evaluation`'s; nothing here
imports it. The command line front ends are `app.commands.train` and `app.commands.import_masks`.

Import the submodules themselves (`from training.train import train`): importing this package
alone loads neither torch nor detectron2.
"""
