"""Training and evaluating the Mask R-CNN models (with and without attention) on COCO data.

Plain Python, no Streamlit: `training.data` checks and registers COCO datasets,
`training.train` trains a config with detectron2's DefaultTrainer, `training.evaluate` compares
trained models side by side (image-level crack / no-crack counts and COCO AP), `training.launch`
runs either in several processes (GPUs, CPU processes, machines). The command line
front ends are `app.commands.train` and `app.commands.evaluate`.

Import the submodules themselves (`from training.train import train`): importing this package
alone loads neither torch nor detectron2.
"""
