"""The `xlate` command: a thin front end over xlate.machine."""

from __future__ import annotations

import argparse
import sys

from xlate.errors import XlateError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xlate", description="Run x86-64 Linux programs.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a program")
    run.add_argument("--engine", choices=("jit", "interp"), default="jit")
    run.add_argument("--stats", action="store_true", help="print run statistics on exit")
    run.add_argument("--strace", action="store_true", help="print each syscall to stderr")
    run.add_argument("--jit-threshold", type=int, metavar="N",
                     help="interpret a block N times before compiling it (0: compile at once)")
    run.add_argument("program")
    run.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from xlate.machine import Machine
    try:
        machine = Machine.load(args.program, [args.program, *args.args], engine=args.engine,
                               strace=args.strace, jit_threshold=args.jit_threshold)
        result = machine.run()
    except XlateError as e:
        sys.stdout.flush()
        print(f"xlate: {e}", file=sys.stderr)
        return e.exit_status
    if result.message:
        print(f"xlate: {result.message}", file=sys.stderr)
    if args.stats:
        print(result.stats.report(), file=sys.stderr)
    return result.exit_status


if __name__ == "__main__":
    sys.exit(main())
