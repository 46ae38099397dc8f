"""Contexts of the noisy-digit bandit (docs/experiments.md E2): images with their digit labels.

Two sources, both offline:
- "digits" (default): the 1,797 handwritten 8 x 8 digits that scikit-learn installs with itself. Each
  image is upsampled 3x (every pixel becomes a 3 x 3 block) and padded with 2 background pixels on each
  side to 28 x 28, the size of MNIST, so the networks keep the paper's MNIST size (784 inputs), as in the
  sanity run of the authors' code recorded in docs/experiments.md. The train/test split is stratified by class
  and fixed by `seed`.
- "mnist": the four standard MNIST IDX files (raw or .gz) in a folder the user provides, read by
  learning/bandit/idx.py; the standard train/test split. Nothing is ever downloaded.

Pixels are scaled to [0, 1], then normalised with MNIST's mean 0.1307 and std 0.3081 and flattened;
the labels of the kept classes are renumbered 0..n_classes-1 in the order of `classes`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from learning.bandit.idx import read_idx

DATASETS = ("digits", "mnist")
# docs/experiments.md E2: the digit 2 is left out, 9 actions
DEFAULT_CLASSES = (0, 1, 3, 4, 5, 6, 7, 8, 9)
MEAN, STD = 0.1307, 0.3081
SIDE = 28
DIGITS_UPSAMPLE = 3
DIGITS_TEST_FRACTION = 0.3
MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
MNIST_NDIM = {"x": 3, "y": 1}


def load_bandit_data(name: str = "digits", mnist_dir=None, classes=DEFAULT_CLASSES, seed: int = 0,
                     test_fraction: float = DIGITS_TEST_FRACTION):
    """(x_train, y_train, x_test, y_test): float32 (n, 784) normalised pixels, int64 labels 0..n_classes-1.

    name: "digits" or "mnist"; mnist_dir: the folder of the MNIST IDX files (name "mnist" only);
    classes: the digits kept, in the order of their new labels; seed, test_fraction: the digits split.
    """
    if name not in DATASETS:
        raise ValueError(f"data must be one of {', '.join(DATASETS)}, got {name!r}")
    classes = _check_classes(classes)
    if name == "digits":
        if mnist_dir is not None:
            raise ValueError("mnist-dir is only used with data 'mnist'")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        if not 0.0 < float(test_fraction) < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
        images, labels = _digits_images()
        (xa, ya), (xb, yb) = _stratified_split(images, labels, classes, int(seed), float(test_fraction))
    else:
        if mnist_dir is None:
            raise ValueError("mnist-dir is required with data 'mnist': the folder holding the four MNIST IDX files")
        xa, ya, xb, yb = _mnist_arrays(Path(mnist_dir))
    out = []
    for part, x, y in (("train", xa, ya), ("test", xb, yb)):
        keep = np.isin(y, classes)
        missing = [c for c in classes if not np.any(y == c)]
        if missing:
            raise ValueError(f"classes: digit(s) {', '.join(map(str, missing))} have no {part} images in data {name!r}")
        out += [normalise(x[keep]), relabel(y[keep], classes)]
    return tuple(out)


def normalise(images: np.ndarray) -> np.ndarray:
    """Pixels in [0, 1] -> (p - 0.1307) / 0.3081, flattened to (n, pixels), float32."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    return ((flat - np.float32(MEAN)) / np.float32(STD)).astype(np.float32)


def relabel(labels: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    lookup = np.full(int(max(classes)) + 1, -1, dtype=np.int64)
    lookup[list(classes)] = np.arange(len(classes))
    return lookup[labels.astype(np.int64)]


def upsample_to_mnist(images8: np.ndarray) -> np.ndarray:
    """(n, 8, 8) in [0, 1] -> (n, 28, 28): each pixel a 3 x 3 block, then a 2-pixel background border."""
    big = np.repeat(np.repeat(images8, DIGITS_UPSAMPLE, axis=1), DIGITS_UPSAMPLE, axis=2)
    pad = (SIDE - big.shape[1]) // 2
    return np.pad(big, ((0, 0), (pad, SIDE - big.shape[1] - pad), (pad, SIDE - big.shape[2] - pad)))


def _digits_images():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # scikit-learn's digits count ink in 0..16 per pixel
    images = bunch.images.astype(np.float64) / 16.0
    return upsample_to_mnist(images), bunch.target.astype(np.int64)


def _stratified_split(images, labels, classes, seed, test_fraction):
    """Per kept class, a seeded share of test_fraction of its images is held out; both parts shuffled."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        if len(idx) < 2:
            raise ValueError(f"classes: digit {c} has {len(idx)} images in data 'digits'; "
                             "each class needs at least 2 (one to train, one to test)")
        idx = rng.permutation(idx)
        n_test = min(max(1, int(round(test_fraction * len(idx)))), len(idx) - 1)
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    train = rng.permutation(np.concatenate(train))
    test = rng.permutation(np.concatenate(test))
    return (images[train], labels[train]), (images[test], labels[test])


def _check_classes(classes) -> tuple[int, ...]:
    try:
        values = tuple(int(c) for c in classes)
        exact = all(int(c) == c and not isinstance(c, bool) for c in classes)
    except (TypeError, ValueError):
        raise ValueError(f"classes must be distinct digits in 0..9, got {classes!r}") from None
    if not exact or len(values) < 2 or len(set(values)) != len(values) or min(values) < 0 or max(values) > 9:
        raise ValueError(f"classes must be at least 2 distinct digits in 0..9, got {classes!r}")
    return values


def _mnist_file(folder: Path, stem: str) -> Path:
    # the files as distributed (.gz), unpacked, or with the dot some mirrors use before idx
    names = [stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise ValueError(f"mnist-dir: {folder} has no {stem} (looked for {', '.join(names)})")


def _mnist_arrays(folder: Path):
    if not folder.is_dir():
        raise ValueError(f"mnist-dir must be an existing folder holding the MNIST IDX files, got {str(folder)!r}")
    arrays = {}
    for key, stem in MNIST_FILES.items():
        path = _mnist_file(folder, stem)
        array = read_idx(path)
        ndim = MNIST_NDIM[key[0]]
        want = "images (unsigned bytes, n x rows x cols)" if key[0] == "x" else "labels (unsigned bytes, n)"
        if array.dtype != np.dtype(">u1") or array.ndim != ndim:
            raise ValueError(f"mnist-dir: {path} should hold {want}, holds {array.dtype.str} "
                             f"with {array.ndim} dimension(s)")
        arrays[key] = array
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if len(x) != len(y):
            raise ValueError(f"mnist-dir: {part} images and labels do not match: {len(x)} images, {len(y)} labels")
        if len(y) and int(y.max()) > 9:
            raise ValueError(f"mnist-dir: {part} labels must be digits 0..9, found {int(y.max())}")
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise ValueError(f"mnist-dir: train images are {arrays['x_train'].shape[1:]} pixels, "
                         f"test images {arrays['x_test'].shape[1:]}")
    return tuple(arrays[k].astype(np.float64) / 255.0 if k[0] == "x" else arrays[k].astype(np.int64)
                 for k in MNIST_FILES)
