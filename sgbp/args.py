"""Argument parsing shared by the subcommands: the expert model's parameters and sweep lists."""

from __future__ import annotations

import argparse
from pathlib import Path

from theory.params import CASES


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def int_list(text: str) -> list[int]:
    """'4-12', '2,3,4' or '1-3,8' -> sorted distinct integers."""
    values: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            if sep:
                a, b = int(lo), int(hi)
                if b < a:
                    raise ValueError
                values.update(range(a, b + 1))
            else:
                values.add(int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer, a range A-B with A <= B, or a comma list, got {text!r}"
            ) from None
    return sorted(values)


def add_expert_args(parser: argparse.ArgumentParser, sweep: bool = False) -> None:
    """The parameters of `sgbp theory expert`; with sweep=True, d, k, n take lists and case 'all'."""
    number = int_list if sweep else int
    cases = CASES + ("all",) if sweep else CASES
    parser.add_argument("--case", default="noisy", help=f"one of {', '.join(cases)} (default noisy)")
    parser.add_argument("--d", type=number, default=[6] if sweep else 6, help="code dimension; R = 2^d states (default 6)")
    parser.add_argument("--k", type=number, default=[2] if sweep else 2, help="coordinates each expert reads (default 2)")
    parser.add_argument("--m", type=int, default=5, help="number of experts (default 5)")
    parser.add_argument("--n", type=number, default=[1] if sweep else 1, help="feedback samples per state (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="instance seed (default 0)")
    parser.add_argument("--sigma", type=float, default=0.5, help="noise std, case noisy (default 0.5)")
    parser.add_argument("--p", type=float, default=0.5, help="activation probability in (0, 1], case activation (default 0.5)")
    parser.add_argument("--tau", type=float, default=0.5, help="latent std, case partial (default 0.5)")
    parser.add_argument("--leak", type=float, default=0.0, metavar="RHO", help="leak strength rho that breaks condition B (default 0)")
    parser.add_argument("--shared-latent", action="store_true", help="one latent per state feeds all experts (correlated noise)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def check_case_arg(case: str, sweep: bool = False) -> list[str]:
    allowed = CASES + ("all",) if sweep else CASES
    if case not in allowed:
        raise ValueError(f"case must be one of {', '.join(allowed)}, got {case!r}")
    return list(CASES) if case == "all" else [case]


def add_save_instance_arg(parser: argparse.ArgumentParser, help_extra: str = "") -> None:
    parser.add_argument("--save-instance", metavar="PATH", help="write the instance as .npz" + help_extra)


def check_output_path(name: str, path) -> None:
    """A file the command will write: its folder must exist (checked before any work)."""
    if path and not Path(path).resolve().parent.is_dir():
        raise ValueError(f"{name}: the folder of {path} does not exist")
