"""The `xlate` command: a thin front end over xlate.machine."""

from __future__ import annotations

import gc
import os
import sys

from xlate.errors import XlateError

USAGE = """usage: xlate run [--engine jit|interp] [--stats] [--strace] [--jit-threshold N]
                 [--no-cache] PROGRAM [ARGS...]
       xlate cache stats|clear"""
HELP = f"""{USAGE}

Run x86-64 Linux programs.

  run PROGRAM [ARGS...]  run a program; ARGS are its own, options among them too
    --engine jit|interp  the tiered JIT (the default), or only the interpreter
    --stats              print run statistics on exit
    --strace             print each syscall to stderr
    --jit-threshold N    run a block N times before compiling it (0: compile at once)
    --no-cache           neither use nor fill the code cache ($XLATE_CACHE_DIR)
  cache stats|clear      the code cache's size, or remove it"""
# Parsed by hand: argparse, with the modules it loads to make its parser (gettext, locale,
# shutil, and the compression modules that shutil imports), took 13 ms of every run, a tenth
# of a warm run of a short program.
_FLAGS = {"--stats": "stats", "--strace": "strace", "--no-cache": "no_cache"}
_VALUED = {"--engine": "engine", "--jit-threshold": "jit_threshold"}


class UsageError(Exception):
    """A command line that asks for nothing xlate does."""


class _Help(Exception):
    """-h or --help: the help, which is not an error."""


class RunOptions:
    """What `xlate run` is asked for."""

    def __init__(self) -> None:
        self.engine = "jit"
        self.stats = self.strace = self.no_cache = False
        self.jit_threshold: int | None = None
        self.program = ""
        self.args: list[str] = []


def parse_run(argv: list[str]) -> RunOptions:
    """`xlate run`'s arguments: options, then the program and its arguments, untouched."""
    options, i = RunOptions(), 0
    while i < len(argv) and argv[i].startswith("-"):
        arg, i = argv[i], i + 1
        if arg == "--":
            break
        if arg in ("-h", "--help"):
            raise _Help
        name, equals, value = arg.partition("=")
        if name in _FLAGS and not equals:
            setattr(options, _FLAGS[name], True)
            continue
        if name not in _VALUED:
            raise UsageError(f"unrecognised option {arg}")
        if not equals:
            if i == len(argv):
                raise UsageError(f"{name} needs a value")
            value, i = argv[i], i + 1
        setattr(options, _VALUED[name], value)
    if options.engine not in ("jit", "interp"):
        raise UsageError(f"--engine {options.engine}: jit or interp")
    if options.jit_threshold is not None:
        threshold = options.jit_threshold
        if not threshold.isdigit():
            raise UsageError(f"--jit-threshold {threshold}: not a count")
        options.jit_threshold = int(threshold)
    if i == len(argv):
        raise UsageError("no program to run")
    options.program, options.args = argv[i], argv[i + 1:]
    return options


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
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] in (["-h"], ["--help"]):
            raise _Help
        if argv[:1] == ["cache"]:
            if argv[1:] not in (["stats"], ["clear"]):
                raise UsageError("cache stats, or cache clear")
            return _cache(argv[1])
        if argv[:1] != ["run"]:
            raise UsageError("the command is run or cache")
        args = parse_run(argv[1:])
    except _Help:
        print(HELP)
        return 0
    except UsageError as e:
        print(f"{USAGE}\nxlate: error: {e}", file=sys.stderr)
        return 2
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
