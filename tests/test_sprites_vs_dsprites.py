"""Our sprites against 100 real dSprites images (the fixture's data_samples.png).

Each real image is matched to its best rendering in our grid (IoU over every shape,
scale and orientation near its position); the statistics of the matched pairs
(area, extent, proportions, position) must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dvae_cli.data import sprites

POPCOUNT = np.array([bin(v).count("1") for v in range(256)], dtype=np.int32)


def real_dsprites(path) -> np.ndarray:
    """The 10x10 grid of 64-px cells with 2-px padding, as (100, 64, 64) bool."""
    import imageio.v3 as iio

    image = iio.imread(path)
    gray = image[..., 0] if image.ndim == 3 else image
    assert gray.shape == (662, 662)
    return np.array([gray[2 + r * 66:66 + r * 66, 2 + c * 66:66 + c * 66] > 127
                     for r in range(10) for c in range(10)])


def second_moment_ratio(mask: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    eig = np.linalg.eigvalsh(np.cov(np.stack([xs, ys]).astype(float)))
    return float(np.sqrt(eig[1] / eig[0]))


@pytest.fixture(scope="module")
def matches(disvae_results, sprites_data_dir):
    data = sprites.load("sprites", sprites_data_dir)
    packed = data.pixels.numpy()
    real = real_dsprites(disvae_results / "btcvae_dsprites" / "data_samples.png")
    real_packed = np.packbits(real.reshape(100, -1), axis=1)
    bases = np.array([(0, s, sc, o) for s in range(3) for sc in range(6) for o in range(40)])
    out = []
    for k, crop in enumerate(real):
        ys, xs = np.nonzero(crop)
        i0 = int(round((xs.mean() + 0.5 - 16) * 31 / 32))
        j0 = int(round((ys.mean() + 0.5 - 16) * 31 / 32))
        positions = [(i, j) for i in range(i0 - 2, i0 + 3) for j in range(j0 - 2, j0 + 3)
                     if 0 <= i < 32 and 0 <= j < 32]
        classes = np.array([[*b, i, j] for (i, j) in positions for b in bases])
        index = sprites.classes_to_index(classes)
        cand = packed[index]
        inter = POPCOUNT[cand & real_packed[k]].sum(axis=1)
        union = POPCOUNT[cand | real_packed[k]].sum(axis=1)
        best = int(np.argmax(inter / union))
        ours = data.batch(torch.tensor([index[best]]))[0, 0].numpy().astype(bool)
        out.append({"iou": inter[best] / union[best], "classes": classes[best], "real": crop, "ours": ours})
    return out


def test_every_real_image_has_a_close_rendering(matches):
    ious = {shape: [m["iou"] for m in matches if m["classes"][1] == k] for k, shape in enumerate(sprites.SHAPES)}
    assert all(len(v) >= 15 for v in ious.values()), {k: len(v) for k, v in ious.items()}
    assert np.mean(ious["square"]) > 0.97
    assert np.mean(ious["ellipse"]) > 0.97
    assert np.mean(ious["heart"]) > 0.90
    assert min(m["iou"] for m in matches) > 0.75


def test_object_areas_per_shape_and_scale_agree(matches):
    for shape in range(3):
        for scale in range(6):
            pairs = [(m["real"].sum(), m["ours"].sum()) for m in matches if tuple(m["classes"][1:3]) == (shape, scale)]
            if pairs:
                real, ours = np.mean(pairs, axis=0)
                assert abs(ours - real) / real < 0.08, (sprites.SHAPES[shape], scale, real, ours)


def test_extents_agree(matches):
    def extent(mask):
        ys, xs = np.nonzero(mask)
        return xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    diffs = np.array([np.subtract(extent(m["real"]), extent(m["ours"])) for m in matches])
    assert np.abs(diffs).mean() < 0.6
    assert np.abs(diffs).max() <= 3


@pytest.mark.parametrize("shape,tolerance", [("ellipse", 0.05), ("heart", 0.08)])
def test_ellipse_and_heart_proportions_agree(matches, shape, tolerance):
    k = sprites.SHAPES.index(shape)
    pairs = [(second_moment_ratio(m["real"]), second_moment_ratio(m["ours"])) for m in matches
             if m["classes"][1] == k]
    real, ours = np.mean(pairs, axis=0)
    assert abs(ours - real) / real < tolerance, (real, ours)


def test_position_grid_is_dsprites(matches):
    """Symmetric shapes: centroids sit on 16 + 32 * pos (steps of 32/31 px), as ours do."""
    residuals, ours_res = [], []
    for m in matches:
        if m["classes"][1] in (0, 1):
            for mask, store in ((m["real"], residuals), (m["ours"], ours_res)):
                ys, xs = np.nonzero(mask)
                for centroid in (xs.mean(), ys.mean()):
                    step = (centroid + 0.5 - 16) * 31 / 32
                    store.append(step - round(step))
                    assert -0.7 <= step <= 31.7
    assert np.abs(residuals).mean() < 0.1      # integer pixel steps would give about 0.25
    assert np.abs(ours_res).mean() < 0.1
    centres = sprites.centres()
    assert centres[0] == pytest.approx(16) and centres[-1] == pytest.approx(48)
