"""The `xlate` command: a thin front end over xlate.machine."""

from __future__ import annotations

import argparse
import gc
import os
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
    run.add_argument("--no-cache", action="store_true",
                     help="neither use nor fill the code cache ($XLATE_CACHE_DIR)")
    run.add_argument("program")
    run.add_argument("args", nargs=argparse.REMAINDER)
    cache = commands.add_parser("cache", help="manage the code cache ($XLATE_CACHE_DIR)")
    cache.add_argument("action", choices=("stats", "clear"))
    return parser


def entry() -> None:
    """The command's process: main(), then an exit that skips tearing down the interpreter's
    objects, which takes a while after a run and serves nothing (the run's files and cache
    entries are written by then)."""
    # The objects made while loading and running live until the end: the cyclic collector
    # would only walk them again and again.
    gc.disable()
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "cache":
        return _cache(args.action)
    from xlate.jit.cache import cache_dir
    from xlate.machine import Machine
    try:
        machine = Machine.load(args.program, [args.program, *args.args], engine=args.engine,
                               strace=args.strace, jit_threshold=args.jit_threshold,
                               cache_dir=None if args.no_cache else cache_dir())
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


def _cache(action: str) -> int:
    from xlate.jit.cache import CodeCache, cache_dir, clear
    directory = cache_dir()
    if action == "clear":
        print(f"{directory}: removed {clear(directory)} files")
    else:
        stats = CodeCache(directory).stats()
        print(f"{directory}: {stats['regions']} regions for {stats['programs']} programs, "
              f"{stats['bytes']} bytes")
    return 0


if __name__ == "__main__":
    entry()
