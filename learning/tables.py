"""What both experiments' results folders share: the sweep manifest, CSV text, the area under a curve."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np


def load_manifest(out: Path) -> dict:
    path = Path(out) / "sweeps.json"
    return json.loads(path.read_text()) if path.exists() else {}


def area_under_curve(steps: np.ndarray, rewards: np.ndarray) -> float:
    """Mean reward over the evaluated steps: the trapezoid area divided by the span of steps."""
    if len(steps) == 1:
        return float(rewards[0])
    area = np.sum(np.diff(steps) * (rewards[1:] + rewards[:-1]) / 2.0)
    return float(area / (steps[-1] - steps[0]))


def csv_text(header, rows) -> str:
    """A CSV table as text: header, then rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def identifying_fields(configs: list[dict], first: tuple, defaults: dict | None = None) -> tuple:
    """`first`, then every other configuration field whose value differs between the configs (sorted by
    name), so that a table's rows tell its runs apart; a field a config leaves out takes its default."""
    defaults = defaults or {}
    keys = sorted({k for c in configs for k in c} - set(first))
    varying = [k for k in keys if len({json.dumps(c.get(k, defaults.get(k)), sort_keys=True) for c in configs}) > 1]
    return tuple(first) + tuple(varying)
