"""An ``.npz`` of codes computed elsewhere, and how its rows align with a dataset's images.

Keys: ``codes`` or ``mean`` (N, D) real numbers, optionally ``logvar`` (N, D) (the
log-variances of a Gaussian posterior around them) and ``indices`` (N,), the dataset
images the rows encode. Without ``indices`` row i encodes image i of the dataset, or,
when the file has exactly as many rows as images are scored (``--max-images``), image i
of the images ``dvae score`` selects (`dvae_cli.metrics.arrays.select_images`, in index order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dvae_cli.errors import ConfigError, CorruptFileError

#: The keys of an ``.npz`` of codes.
NPZ_CODES, NPZ_MEAN, NPZ_LOGVAR, NPZ_INDICES = "codes", "mean", "logvar", "indices"


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(codes (N, D), logvar (N, D) or None, indices (N,) or None) of an ``.npz`` of codes.

    Raises:
        ConfigError: for no ``codes``/``mean`` key, both, unknown keys, arrays of the wrong
            shape or values that are not finite real numbers, indices that are not distinct
            integers >= 0.
        CorruptFileError: for a file numpy cannot read.
    """
    from dvae_cli.metrics.arrays import check_codes

    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError) as exc:
        raise CorruptFileError(f"cannot read {path} as an .npz: {exc}") from None
    known = (NPZ_CODES, NPZ_MEAN, NPZ_LOGVAR, NPZ_INDICES)
    unknown = [key for key in arrays if key not in known]
    found = [key for key in (NPZ_CODES, NPZ_MEAN) if key in arrays]
    if len(found) != 1 or unknown:
        raise ConfigError(f"{path} must hold 'codes' or 'mean' (N, D), optionally 'logvar' (N, D) and 'indices' "
                          f"(N,); it holds: {', '.join(arrays) or 'nothing'}")
    try:
        codes, logvar = check_codes(arrays[found[0]], arrays.get(NPZ_LOGVAR))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    indices = arrays.get(NPZ_INDICES)
    if indices is not None:
        if indices.shape != (len(codes),) or not np.issubdtype(indices.dtype, np.integer):
            raise ConfigError(f"{path}: 'indices' must be {len(codes):,} integers, one per row of codes, got "
                              f"{indices.dtype} of shape {indices.shape}")
        if indices.min() < 0 or len(np.unique(indices)) != len(indices):
            raise ConfigError(f"{path}: 'indices' must be distinct image indices >= 0")
        indices = indices.astype(np.int64)
    return codes, logvar, indices


def check_code_rows(path: Path, rows: int, indices: np.ndarray | None, dataset: str, n_dataset: int,
                    n_scored: int) -> str:
    """How the rows of an ``.npz`` align with the dataset's images: ``indices``, ``dataset`` or ``scored``.

    Args:
        rows: Rows of codes.
        indices: Its ``indices`` (None: none).
        n_dataset: Images of the dataset.
        n_scored: Images that will be scored (``--max-images``; `n_dataset` without it).

    Raises:
        ConfigError: if the rows are neither one per image of the dataset, nor one per image
            scored, nor given their images by ``indices`` within the dataset.
    """
    if indices is not None:
        if indices.max() >= n_dataset:
            raise ConfigError(f"{path}: 'indices' goes up to {int(indices.max()):,}, but dataset '{dataset}' has "
                              f"{n_dataset:,} images")
        return "indices"
    if rows == n_dataset:
        return "dataset"
    if rows == n_scored:
        return "scored"
    scored = f" and {n_scored:,} are scored (--max-images)" if n_scored != n_dataset else ""
    raise ConfigError(f"{path} holds {rows:,} rows of codes, but dataset '{dataset}' has {n_dataset:,} images"
                      f"{scored}: give one row per image, or an 'indices' array naming each row's image")


__all__ = ["NPZ_CODES", "NPZ_INDICES", "NPZ_LOGVAR", "NPZ_MEAN", "check_code_rows", "read_npz"]
