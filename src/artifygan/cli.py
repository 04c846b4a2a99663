"""The ``artifygan`` command: one argparse group; each subcommand lives in ``commands/``.

Heavy imports (torch, models) happen inside the subcommands so ``artifygan --help`` stays instant.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from .commands import adapt, bench, demo, evaluate, export, prepare, serve, train, translate, video

COMMANDS = (prepare, train, translate, video, serve, evaluate, export, bench, demo, adapt)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="artifygan", description="Photo → cartoon GAN: train, translate.")
    parser.add_argument("--version", action="version", version=f"artifygan {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for cmd in COMMANDS:
        cmd.add(sub)
    return parser


PACKAGE = Path(__file__).resolve().parent


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """This package's own warnings (a step turned off for want of a detector, ...) print as one line,
    ``warning: ...``, not as Python's file, line number and source line; others keep their form."""
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        if issubclass(category, UserWarning) and Path(filename).resolve().is_relative_to(PACKAGE):
            print(f"warning: {message}", file=sys.stderr if file is None else file)
            return
        default(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = default


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # Dotted overrides may come after options (`train --name x loss.style=100`): argparse ends a
    # positional list at the first option, so collect the rest here.
    overrides = [a for a in extra if "=" in a and not a.startswith("-")]
    if overrides and isinstance(getattr(args, "overrides", None), list):
        args.overrides += overrides
        extra = [a for a in extra if a not in overrides]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        with one_line_warnings() if not args.verbose else contextlib.nullcontext():
            return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, KeyError) as exc:  # OSError: permissions, existing files, full disks
        if args.verbose:
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
