"""The `nst` command: parses arguments and calls the library. Errors print one line, no traceback.

One module per family of commands, each adding its subparsers and naming their handlers:
run_command (`nst run`), study_commands (the workflow's tables, figures, scores),
layer_commands (per-layer charts, reconstructions), tool_commands (weights, presets, the
batching runner, the fork server, demo images), halving_command (a rung's decision), gallery_command (the
gallery page), judge_command (the rating page, people's rankings and agreement)."""
from __future__ import annotations

import argparse
import functools
import sys

from ..errors import NSTError
from . import gallery_command, halving_command, judge_command, layer_commands, run_command, study_commands, tool_commands
from .run_command import run_params_from_args  # noqa: F401  (tests and scripts call it as cli.run_params_from_args)

JOB_COMMANDS = ("run", "runner")  # processes that optimise (nst/execution/process.py)


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    """The parser and {command: handler}."""
    parser = argparse.ArgumentParser(prog="nst", description="Gatys-style neural style transfer runs.")
    sub = parser.add_subparsers(dest="command", required=True)
    handlers = {}
    for module in (run_command, tool_commands, study_commands, layer_commands, halving_command, gallery_command,
                   judge_command):
        handlers.update(module.add_parsers(sub))
    # the fork server's children run the workflow jobs' commands: this module's main
    handlers["forkserver"] = functools.partial(handlers["forkserver"], command=main)
    return parser, handlers


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the `nst` command itself: a workflow job may be served by its fork server
        from ..execution.forkserver import delegate

        served = delegate(sys.argv[1:])
        if served is not None:
            return served
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    if args.command in JOB_COMMANDS:
        from ..execution.process import keep_freed_memory

        keep_freed_memory()  # before torch is imported and allocates
    try:
        return handlers[args.command](args)
    except NSTError as err:  # the user's mistake, told in one line; anything else is a bug: traceback
        print(f"nst: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nst: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
