"""The false-alarm rate of the Monte Carlo checks: every check of montecarlo.checks on fresh seeds.

Each seed draws new instances and new noise, and every check must still pass: its thresholds are
in standard errors, so fewer trials (--scale) widen them with the noise and keep the level.

    python -m montecarlo.false_alarms --seeds 20 --scale 0.25 --out results/false_alarms.json

writes, per seed, each check's status and numbers, and the count of seeds on which every check
passed (--only check_t8 ... runs some of the checks). The
JSON is rewritten (atomically) after each seed, so an interrupted run keeps what it measured.
The paper's claims (montecarlo.claims) are left out: they need the E1 sweep, minutes per seed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from montecarlo.checks import CHECKS, monte_carlo_checks
from theory.files import save_atomic
from theory.params import check_int, check_real


def _checks(names):
    if names is None:
        return list(CHECKS)
    known = {c.__name__: c for c in CHECKS}
    for name in names:
        if name not in known:
            raise ValueError(f"only must be among {', '.join(known)}, got {name!r}")
    return [known[name] for name in names]


def measure(seeds, scale: float, out: Path | None = None, say=None, only=None) -> dict:
    """Run the checks (all, or those named in `only`) at `scale` times their default trials for
    each seed; the summary dict (also saved to `out`)."""
    check_real("scale", scale, lo=0.0, lo_open=True)
    chosen = _checks(only)
    runs = []
    summary = {}
    for seed in seeds:
        check_int("seed", seed, 0)
        start = time.perf_counter()
        if only is None:
            results = monte_carlo_checks(scale=scale, seed=seed)
        else:  # as monte_carlo_checks does, for the chosen checks
            results = [c(trials=max(2, int(round(c.__defaults__[0] * scale))), seed=seed) for c in chosen]
        runs.append({"seed": seed, "seconds": round(time.perf_counter() - start, 2),
                     "status": {r.id + f"#{i}": r.status for i, r in enumerate(results)},
                     "failed": [f"{r.id}: {r.numbers}" for r in results if not r.passed],
                     "numbers": {r.id + f"#{i}": r.numbers for i, r in enumerate(results)}})
        summary = {
            "scale": scale,
            "checks": [c.__name__ for c in chosen],
            "seeds": [r["seed"] for r in runs],
            "all_passed": sum(not r["failed"] for r in runs),
            "per_check_failures": {c.__name__: sum(list(r["status"].values())[i] != "PASS" for r in runs)
                                   for i, c in enumerate(chosen)},
            "runs": runs,
        }
        if out is not None:
            _save(summary, out)
        if say:
            failed = [text.split(":")[0] for text in runs[-1]["failed"]]
            say(f"seed {seed}: {'all passed' if not failed else 'FAILED ' + ', '.join(failed)}"
                f" ({runs[-1]['seconds']} s)")
    return summary


def _save(data: dict, path: Path) -> None:
    save_atomic(path, json.dumps(data, indent=1) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m montecarlo.false_alarms", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="how many seeds (default 20)")
    parser.add_argument("--first", type=int, default=1, help="the first seed (default 1: seed 0 is the report's)")
    parser.add_argument("--scale", type=float, default=0.25, help="trials as a share of each check's default (default 0.25)")
    parser.add_argument("--only", nargs="+", metavar="CHECK", help="run only these checks (e.g. check_t8)")
    parser.add_argument("--out", default="results/false_alarms.json", help="the JSON to write")
    args = parser.parse_args(argv)
    try:
        check_int("seeds", args.seeds, 1)
        check_int("first", args.first, 0)
        summary = measure(range(args.first, args.first + args.seeds), args.scale, Path(args.out),
                          say=lambda text: print(text, file=sys.stderr, flush=True), only=args.only)
    except ValueError as err:
        print(f"false_alarms: error: {err}", file=sys.stderr)
        return 2
    print(f"{summary['all_passed']} of {len(summary['seeds'])} seeds passed every check "
          f"(scale {args.scale}); per check failures: {summary['per_check_failures']}; {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
