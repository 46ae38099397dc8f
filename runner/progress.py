"""Progress of a long command on stderr (tqdm): done and total, rate and time left.

Silent when stderr is not a terminal, so logs and pipes get no control characters.
"""

from __future__ import annotations

import shutil
import sys

from tqdm import tqdm


class Progress:
    """Callable (done, total) -> None, as the runner and the sweeps call it; unit names what is counted."""

    def __init__(self, label: str, unit: str = "it", stream=None):
        self.label, self.unit = label, unit
        self.stream = stream or sys.stderr
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        if total <= 0:
            return
        if self.bar is None:
            # disable=None: tqdm draws only when the stream is a terminal
            # initial: work already done (a resumed sweep) does not count toward the rate
            self.bar = tqdm(total=total, initial=done, desc=self.label, unit=self.unit, file=self.stream,
                            disable=None, ncols=shutil.get_terminal_size((80, 24)).columns or 80,
                            smoothing=0.1)
        if self.bar.total != total:
            self.bar.total = total
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
