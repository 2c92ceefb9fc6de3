"""The ``graff`` command: argument parsing and printing only; the work is library calls.

Every expected failure (bad data, config, path, damaged run directory, missing extra, an
operating-system error) ends in one plain line on stderr naming the cause and the fix, with
exit status 2 (1 for a run that diverged); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # without importing torch
        from graff import __version__

        print(f"graff {__version__}")
        return 0
    from graff.cli import _render as r
    from graff.errors import DivergenceError, GraffError, describe_os_error

    debug = "--debug" in argv
    try:
        from graff.cli._commands import COMMANDS
        from graff.cli._parser import blank_option, build_parser, unrecognised

        parser = build_parser()
        try:
            args, extra = parser.parse_known_args(argv)
        except SystemExit as stop:  # --help, or a usage error argparse has printed
            return int(stop.code or 0)
        problem = unrecognised(parser, args.command, extra, argv) if extra else None
        if problem or (problem := blank_option(parser, args)):
            r.error(problem)
            return 2
        from graff.perf import tune_allocator

        tune_allocator()  # reuse freed heap memory: 1.7–2× faster epochs (graff.perf)
        if getattr(args, "threads", None):
            import torch

            torch.set_num_threads(args.threads)
        return int(COMMANDS[args.command](args))
    except DivergenceError as err:
        if debug:
            raise
        r.error(str(err), label="run failed")
        return 1
    except GraffError as err:
        if debug:
            raise
        r.error(str(err))
        return 2
    except OSError as err:
        if debug:
            raise
        r.error(describe_os_error(err))
        return 2
    except MemoryError:
        if debug:
            raise
        r.error("out of memory; reduce model.hidden, the depth or the graph size")
        return 2
    except KeyboardInterrupt:
        r.error("stopped", label="interrupted")
        return 130


if __name__ == "__main__":  # python -m graff.cli
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
