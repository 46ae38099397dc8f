"""Files: atomic writes, and the folders where derived artefacts (compiled kernels, numeric forms
of derivations) are cached under a hash of the source they come from, so that an edit or an
upgrade never reuses a stale one."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def source_hash(paths, extra: str = "") -> str:
    """sha256 of the names and contents of `paths` and of `extra` (first 16 hex digits)."""
    h = hashlib.sha256(extra.encode() + b"\0")
    for path in paths:
        path = Path(path)
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _user_cache_base() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "sgbp"


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError:
        return False
    return True


def cache_dir(name: str, package: Path, preferred: str | None = None) -> Path | None:
    """The first writable of preferred/name, package/__pycache__/name and the user's cache folder
    (XDG_CACHE_HOME or ~/.cache)/sgbp/name; None when none is writable."""
    bases = ([Path(preferred)] if preferred else []) + [Path(package) / "__pycache__", _user_cache_base()]
    for base in bases:
        if _writable(base / name):
            return base / name
    return None


def save_atomic(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder: readers see the old text or the new, whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
