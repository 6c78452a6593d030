"""Experiment trackers: TensorBoard, Weights & Biases and MLflow mirror a run folder (which stays the truth).

- `dvae_cli.catalogue.trackers`: which trackers exist (torch-free, with their pip extras);
- `base.Tracker`: what a backend does (start/continue a tracker run, scalars, images, finish);
- `session.TrackerSession`: the trackers of one command, each guarded (a failure warns once);
  ``trackers.json`` keeps each tracker's run id, so ``--resume`` and ``dvae eval`` continue it;
- `callback.Tracking`: the training callback ``dvae train --tracker`` attaches (rank 0 only).
"""
