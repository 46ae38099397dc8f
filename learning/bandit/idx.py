"""The IDX file format of the MNIST distribution, read with every header field checked.

An IDX file is: two zero bytes, a type byte, a byte with the number of dimensions, one big-endian
uint32 per dimension, then the values in C order. Files may be gzip-compressed (`.gz`).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

# type byte -> big-endian numpy dtype
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    if path.suffix == ".gz":
        try:
            with gzip.open(path, "rb") as handle:
                return handle.read()
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"mnist-dir: {path} is not a readable gzip file ({err})") from None
    return path.read_bytes()


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """The array an IDX byte string holds; ValueError naming `name` when the bytes are not valid IDX."""
    if len(data) < 4:
        raise ValueError(f"mnist-dir: {name} is too short for an IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise ValueError(f"mnist-dir: {name} has no IDX magic number (first bytes {data[:4].hex()})")
    dtype = IDX_TYPES[data[2]]
    ndim = data[3]
    if ndim < 1:
        raise ValueError(f"mnist-dir: {name} declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"mnist-dir: {name} is truncated inside its header")
    dims = tuple(int(v) for v in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(data) - header
    if got != expected:
        shape = " x ".join(str(d) for d in dims)
        kind = "truncated" if got < expected else "longer than its header says"
        raise ValueError(f"mnist-dir: {name} is {kind}: {shape} values need {expected} bytes, found {got}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def read_idx(path: Path | str) -> np.ndarray:
    """Read one IDX file, raw or gzip-compressed."""
    path = Path(path)
    return parse_idx(_read_bytes(path), str(path))


def write_idx(path: Path | str, array: np.ndarray, compress: bool | None = None) -> None:
    """Write `array` as an IDX file (gzip when compress, or by default when the name ends in .gz)."""
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"array dtype must be one of {', '.join(str(d) for d in codes)}, got {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + array.astype(IDX_TYPES[code], copy=False).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
