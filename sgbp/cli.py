"""Entry point of the `sgbp` command."""

from __future__ import annotations

import sys

from runner import RunFailures
from sgbp import bandit_cmd, diagnose_cmd, explore_cmd, map_cmd, reproduce_cmd, rl_cmd, theory_cmd
from sgbp.args import OneLineParser

SUBCOMMANDS = (theory_cmd, explore_cmd, map_cmd, diagnose_cmd, bandit_cmd, rl_cmd, reproduce_cmd)
DESCRIPTION = (
    "Exact theory and Monte Carlo checks of when synthetic gradients (SG) beat backpropagation (BP): "
    "Zhang, Tang, Koyejo, arXiv 2605.27946."
)


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version as installed

    try:
        return installed("sgbp")
    except PackageNotFoundError:  # run from a checkout that was not installed
        return "unknown (not installed)"


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="sgbp", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"sgbp {version()}")
    sub = parser.add_subparsers(dest="command", parser_class=OneLineParser, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # no command: the list of them
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except ValueError as err:
        print(f"sgbp: error: {err}", file=sys.stderr)
        return 2
    except RunFailures as err:  # the other runs finished and are saved; a rerun retries these
        print(f"sgbp: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
