"""`Tracking`: the training callback that mirrors a run into its trackers (rank 0 only, as every callback)."""

from __future__ import annotations

import atexit
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from dvae_cli.engine.hooks import VIEW_REFRESH_PER_SECOND, Callback, TrainState
from dvae_cli.trackers.session import TrackerSession

if TYPE_CHECKING:
    import torch

    from dvae_cli.engine.callbacks import RunContext
    from dvae_cli.engine.trainer import Trainer

#: Images logged each epoch are at most this many pixels on their longer side.
MAX_IMAGE_SIDE = 512
#: Reconstructions logged each epoch: this many training images (the same ones every epoch) over theirs.
N_RECONSTRUCTIONS = 8


def bounded(image: np.ndarray, max_side: int = MAX_IMAGE_SIDE) -> np.ndarray:
    """`image` (H, W, C) uint8 as RGB, scaled down (Lanczos, Pillow) so that its longer side is <= `max_side`."""
    from PIL import Image

    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return np.ascontiguousarray(image[..., :3])
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(np.ascontiguousarray(image[..., :3])).resize(size, Image.Resampling.LANCZOS))


def window_means(previous: tuple[int, int, dict[str, float]] | None, epoch: int, count: int,
                 means: dict[str, float]) -> dict[str, float]:
    """Each term's mean over the steps since the previous point, from the epoch's running means.

    The running means restart every epoch (they are what the live view shows); a
    tracker's curve should not jump back at each epoch, so each point is the mean
    of the steps since the one before: ``(m * n - m' * n') / (n - n')``, or the
    running mean itself for the first point of an epoch.

    Args:
        previous: (epoch, steps counted, running means) at the previous point, or None.
        epoch: The current epoch.
        count: Steps counted in the running means now.
        means: The running means now.
    """
    if previous is None or previous[0] != epoch or count <= previous[1]:
        return dict(means)
    _, before, old = previous
    return {term: (value * count - old.get(term, 0.0) * before) / (count - before) for term, value in means.items()}


class Tracking:
    """Mirrors a training run into experiment trackers (TensorBoard, W&B, MLflow, ...).

    Logs, at the training step as x axis:

    - ``train/<term>``, ``train/lr``, ``train/img_per_s``: every loss term's mean over the
      steps since the previous point (`window_means`), at most `VIEW_REFRESH_PER_SECOND`
      points a second (the live view's cadence);
    - ``epoch/<term>``, ``epoch/lr``, ``epoch/img_per_s`` after every epoch, with two
      images: ``reconstructions`` (the same training images over their reconstructions)
      and ``traversals`` (the ``training.gif`` frame), at most `MAX_IMAGE_SIDE` pixels;
    - the spec as hyper-parameters when the tracker run starts; ``test/<term>`` from `finish`.

    A `dvae_cli.engine.callbacks.CallbackFactory`: give it to `train_run`, which calls it
    with the run's context for the `TrackingCallback`, then call `finish` after training
    (``dvae train`` does both)::

        tracking = Tracking(["tensorboard"])
        result = train_run(spec, results, data, callbacks=[training_gif, tracking])
        tracking.finish(result.test_losses)

    Args:
        names: The trackers (`dvae_cli.catalogue.trackers.parse_trackers`).
        warn: Called with each warning line (a tracker that fails is reported once).
    """

    def __init__(self, names: list[str], warn: Callable[[str], None] | None = None) -> None:
        self.names, self.warn = list(names), warn
        self.session: TrackerSession | None = None
        self.context: RunContext | None = None
        self.trainer: Trainer | None = None
        self.last_logged, self.last_images = 0.0, 0
        #: (epoch, steps counted, running means) at the previous ``train/`` point.
        self.previous: tuple[int, int, dict[str, float]] | None = None
        self.epoch_started = time.perf_counter()
        self.epoch_images = 0
        self.fixed: torch.Tensor | None = None

    def __call__(self, context: RunContext) -> TrackingCallback:
        """The training callback of the run of `context`."""
        self.context = context
        return TrackingCallback(self)

    def start(self, trainer: Trainer, state: TrainState) -> None:
        """Open the trackers (continuing their runs on resume) when training starts."""
        self.trainer = trainer
        if self.context is None or self.session is not None:
            return
        context = self.context
        self.session = TrackerSession(self.names, context.folder.path, context.spec.name, context.spec.to_dict(),
                                      first_step=state.step, warn=self.warn)
        atexit.register(self.finish)   # a script that never calls finish still closes its trackers
        self.epoch_started, self.epoch_images = time.perf_counter(), 0

    def epoch_start(self, state: TrainState) -> None:
        self.epoch_started, self.epoch_images = time.perf_counter(), state.images_seen

    def _lr(self) -> float:
        return float(self.trainer.optimizer.param_groups[0]["lr"]) if self.trainer is not None else float("nan")

    def step_end(self, state: TrainState) -> None:
        if self.session is None or not self.session.active:
            return
        now = time.perf_counter()
        if now - self.last_logged < 1.0 / VIEW_REFRESH_PER_SECOND:
            return
        count, means = state.running.count, state.running_means()
        values = {f"train/{term}": value for term, value in window_means(self.previous, state.epoch, count,
                                                                           means).items()}
        values["train/lr"] = self._lr()
        if self.previous is not None and now > self.last_logged and state.images_seen > self.last_images:
            values["train/img_per_s"] = (state.images_seen - self.last_images) / (now - self.last_logged)
        self.previous, self.last_logged, self.last_images = (state.epoch, count, means), now, state.images_seen
        self.session.log_scalars(values, state.step)

    def epoch_end(self, state: TrainState, means: dict[str, float]) -> None:
        if self.session is None or not self.session.active:
            return
        seconds = max(time.perf_counter() - self.epoch_started, 1e-9)
        values = {f"epoch/{term}": value for term, value in means.items()}
        values["epoch/lr"] = self._lr()
        values["epoch/img_per_s"] = (state.images_seen - self.epoch_images) / seconds
        values["epoch/epoch"] = state.epoch + 1
        self.session.log_scalars(values, state.step)
        for key, image in self._images(state, means).items():
            self.session.log_image(key, bounded(image), state.step)

    def _images(self, state: TrainState, means: dict[str, float]) -> dict[str, np.ndarray]:
        import torch

        from dvae_cli.viz.grid import grid_array
        from dvae_cli.viz.training_gif import traversal_frame
        from dvae_cli.viz.traversals import decode

        if self.context is None or self.trainer is None:
            return {}
        model = self.context.model
        if self.fixed is None:
            data = self.trainer.data
            self.fixed = data.images(0, min(N_RECONSTRUCTIONS, len(data))).float()
        x = self.fixed
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                device = next(model.parameters()).device
                mean, _ = model.encoder(x.to(device))
                reconstruction = decode(model, mean)
        finally:
            model.train(was_training)
        recon = grid_array(torch.cat([x.cpu(), reconstruction]), nrow=len(x))
        frame = traversal_frame(model, means, f"epoch {state.epoch + 1} of {state.epochs}")
        return {"reconstructions": recon, "traversals": frame}

    def stop(self, status: str) -> None:
        """Close the trackers of a training that is leaving early (``interrupted`` or ``failed``)."""
        if self.session is not None and self.session.active:
            self.session.finish(status)

    def finish(self, test_losses: dict[str, float] | None = None) -> None:
        """Log the test losses (``test/<term>``), then close every tracker; later calls do nothing."""
        if self.session is None:
            return
        if test_losses and self.trainer is not None:
            self.session.log_scalars({f"test/{term}": value for term, value in test_losses.items()},
                                     self.trainer.state.step)
        self.session.finish("finished")
        self.session = None
        atexit.unregister(self.finish)


class TrackingCallback(Callback):
    """The `Callback` side of a `Tracking`: forwards the trainer's events to it."""

    def __init__(self, tracking: Tracking) -> None:
        self.tracking = tracking
        self.trainer: Trainer | None = None

    def setup(self, trainer: Trainer) -> None:
        self.trainer = trainer

    def on_train_start(self, state: TrainState) -> None:
        if self.trainer is not None:
            self.tracking.start(self.trainer, state)

    def on_epoch_start(self, state: TrainState) -> None:
        self.tracking.epoch_start(state)

    def on_step_end(self, state: TrainState) -> None:
        self.tracking.step_end(state)

    def on_epoch_end(self, state: TrainState, means: dict[str, float]) -> None:
        self.tracking.epoch_end(state, means)

    def on_interrupt(self, state: TrainState) -> None:
        self.tracking.stop("interrupted")

    def on_train_abort(self, state: TrainState) -> None:
        self.tracking.stop("failed")
