"""The bandit's contexts: the IDX reader on files written here, MNIST folders, scikit-learn's digits."""

import gzip

import numpy as np
import pytest

from learning.bandit.data import MNIST_FILES, load_bandit_data, upsample_to_mnist
from learning.bandit.idx import parse_idx, read_idx, write_idx


def _mnist_folder(folder, n_train=12, n_test=7, side=28, gz=False, seed=1):
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        "y_train": np.arange(n_train, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        "y_test": (np.arange(n_test, dtype=np.uint8) * 3) % 10,
    }
    for key, stem in MNIST_FILES.items():
        write_idx(folder / (stem + (".gz" if gz else "")), arrays[key])
    return arrays


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype) if dtype != np.uint8 else \
        np.arange(30, dtype=np.uint8).reshape(2, 3, 5) * 8
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.shape == (2, 3, 5) and back.dtype.kind == np.dtype(dtype).kind
    assert np.array_equal(back, array)


def test_idx_header_is_read_big_endian():
    # hand-made bytes: 2 x 3 unsigned bytes; a little-endian reader would see 2^24 x 3*2^24 values
    data = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])
    assert parse_idx(data).tolist() == [[1, 2, 3], [4, 5, 6]]
    # int16 values are big-endian too: 0x0102 = 258
    assert parse_idx(bytes([0, 0, 0x0B, 1, 0, 0, 0, 1, 1, 2])).tolist() == [258]


@pytest.mark.parametrize("data, words", [
    (b"\x00\x00", "too short"),
    (bytes([1, 0, 8, 1, 0, 0, 0, 1, 5]), "magic"),
    (bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 5]), "magic"),
    (bytes([0, 0, 8, 0]), "0 dimensions"),
    (bytes([0, 0, 8, 3, 0, 0, 0, 1]), "header"),
    (bytes([0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3]), "truncated"),
    (bytes([0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3]), "longer"),
])
def test_broken_idx_bytes_give_one_line_errors(data, words):
    with pytest.raises(ValueError, match=words) as err:
        parse_idx(data, "f")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_folder_is_read_filtered_and_relabelled(tmp_path, gz):
    arrays = _mnist_folder(tmp_path, gz=gz)
    classes = (9, 0, 3)
    x_tr, y_tr, x_te, y_te = load_bandit_data("mnist", mnist_dir=tmp_path, classes=classes)
    keep = np.isin(arrays["y_train"], classes)
    assert x_tr.shape == (keep.sum(), 784) and x_tr.dtype == np.float32
    expected = (arrays["x_train"][keep].reshape(-1, 784) / 255.0 - 0.1307) / 0.3081
    np.testing.assert_allclose(x_tr, expected, rtol=0, atol=1e-5)
    # new label = position in `classes`
    assert y_tr.tolist() == [classes.index(int(y)) for y in arrays["y_train"][keep]]
    assert y_te.tolist() == [classes.index(int(y)) for y in arrays["y_test"] if y in classes]
    assert x_te.shape == (len(y_te), 784)


def _break(folder, key, array):
    write_idx(folder / MNIST_FILES[key], array)


@pytest.mark.parametrize("damage, words", [
    ("missing_dir", "existing folder"),
    ("missing_file", "no t10k-labels"),
    ("count_mismatch", "do not match"),
    ("labels_as_images", "should hold images"),
    ("wide_labels", "should hold labels"),
    ("label_out_of_range", "digits 0..9"),
    ("image_sizes", "pixels"),
    ("truncated", "truncated"),
    ("bad_gzip", "gzip"),
    ("class_absent", "no test images"),
])
def test_broken_mnist_folders_give_one_line_errors(tmp_path, damage, words):
    folder = tmp_path / "mnist"
    folder.mkdir()
    arrays = _mnist_folder(folder)
    if damage == "missing_dir":
        folder = tmp_path / "nowhere"
    elif damage == "missing_file":
        (folder / MNIST_FILES["y_test"]).unlink()
    elif damage == "count_mismatch":
        _break(folder, "y_test", arrays["y_test"][:-1])
    elif damage == "labels_as_images":
        _break(folder, "x_train", arrays["y_train"])
    elif damage == "wide_labels":
        _break(folder, "y_train", arrays["y_train"].astype(np.int32))
    elif damage == "label_out_of_range":
        _break(folder, "y_train", np.where(arrays["y_train"] == 0, 10, arrays["y_train"]).astype(np.uint8))
    elif damage == "image_sizes":
        _break(folder, "x_test", arrays["x_test"][:, :27, :27].copy())
    elif damage == "truncated":
        path = folder / MNIST_FILES["x_train"]
        path.write_bytes(path.read_bytes()[:-10])
    elif damage == "bad_gzip":
        (folder / MNIST_FILES["x_train"]).unlink()
        (folder / (MNIST_FILES["x_train"] + ".gz")).write_bytes(gzip.compress(b"0" * 100)[:-8])
    classes = (0, 2, 3)
    if damage == "class_absent":
        # test labels are 0, 3, 6, 9, 2, 5, 8: digit 1 never appears there
        classes = (0, 1)
    with pytest.raises(ValueError, match=words) as err:
        load_bandit_data("mnist", mnist_dir=folder, classes=classes)
    assert "\n" not in str(err.value)


def test_digits_shape_normalisation_and_classes():
    x_tr, y_tr, x_te, y_te = load_bandit_data()
    from sklearn.datasets import load_digits

    digits = load_digits()
    n_kept = int(np.sum(digits.target != 2))
    assert len(x_tr) + len(x_te) == n_kept
    assert x_tr.shape[1] == x_te.shape[1] == 784 and x_tr.dtype == np.float32
    assert set(y_tr.tolist()) == set(range(9)) == set(y_te.tolist())
    # 30% of each class held out, to the nearest image
    for new, digit in enumerate((0, 1, 3, 4, 5, 6, 7, 8, 9)):
        assert int(np.sum(y_te == new)) == round(0.3 * np.sum(digits.target == digit))
    # background pixels become -mean/std, full ink (16/16) becomes (1 - mean)/std
    assert x_tr.min() == pytest.approx(-0.1307 / 0.3081, abs=1e-6)
    assert x_tr.max() == pytest.approx((1 - 0.1307) / 0.3081, abs=1e-6)
    # the 2-pixel border of the 28 x 28 image is background
    img = x_tr.reshape(-1, 28, 28)
    assert np.all(img[:, :2, :] == img.min()) and np.all(img[:, :, -2:] == img.min())


def test_digits_images_match_the_8x8_originals():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x_tr, y_tr, _, _ = load_bandit_data(classes=tuple(range(10)))
    # each upsampled image's 3 x 3 blocks average back to one original 8 x 8 image (pixel / 16)
    blocks = (x_tr.reshape(-1, 28, 28)[:, 2:26, 2:26] * 0.3081 + 0.1307).reshape(-1, 8, 3, 8, 3).mean(axis=(2, 4))
    originals = digits.images.reshape(len(digits.images), -1) / 16.0
    for k in range(5):
        d = np.abs(originals - blocks[k].reshape(1, -1)).max(axis=1)
        j = int(np.argmin(d))
        assert d[j] < 1e-5 and digits.target[j] == y_tr[k]


def test_upsample_is_nearest_neighbour():
    small = np.arange(64, dtype=float).reshape(1, 8, 8)
    big = upsample_to_mnist(small)
    assert big.shape == (1, 28, 28)
    assert big[0, 2 + 3 * 4 + 1, 2 + 3 * 5 + 2] == small[0, 4, 5]
    assert big[0, 1, 1] == 0 and big[0, 26, 26] == 0


def test_digits_split_is_fixed_by_its_seed():
    a = load_bandit_data(seed=0)
    b = load_bandit_data(seed=0)
    c = load_bandit_data(seed=1)
    for u, v in zip(a, b):
        assert np.array_equal(u, v)
    assert not np.array_equal(a[2], c[2])
    # train and test never share an image
    train = {row.tobytes() for row in a[0]}
    assert sum(row.tobytes() in train for row in a[2]) <= 3  # the digits set has a few exact duplicates


@pytest.mark.parametrize("kwargs, words", [
    ({"name": "fashion"}, "data must be one of"),
    ({"classes": (0, 10)}, "classes"),
    ({"classes": (3,)}, "at least 2"),
    ({"classes": (1, 1, 2)}, "distinct"),
    ({"classes": (1.5, 2)}, "classes"),
    ({"classes": "ab"}, "classes"),
    ({"name": "mnist"}, "mnist-dir is required"),
    ({"mnist_dir": "/tmp"}, "only used with data 'mnist'"),
    ({"seed": -1}, "seed"),
    ({"test_fraction": 1.0}, "test_fraction"),
])
def test_bad_arguments_give_one_line_errors(kwargs, words):
    with pytest.raises(ValueError, match=words) as err:
        load_bandit_data(**kwargs)
    assert "\n" not in str(err.value)
