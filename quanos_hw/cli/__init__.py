"""The ``quanos`` command: a thin layer over the Python API.

Exit codes: 0 success, 2 bad input (one line on stderr, no traceback), 1 anything else,
130 interrupted (a resumable checkpoint was written). ``QUANOS_DEBUG=1`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line (exit 2) instead of usage + message."""

    def error(self, message: str):
        from ..errors import InputError

        raise InputError(f"{message} (see '{self.prog} --help')")


def _quiet_third_party() -> None:
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="fast_hadamard_transform")
    warnings.filterwarnings("ignore", message="brevitas.fx is deprecated")
    warnings.filterwarnings("ignore", category=UserWarning, module="brevitas")


def build_parser() -> argparse.ArgumentParser:
    from . import codesign_cmd, compare_cmd, dse_cmd, estimate_cmd, export_cmd, list_cmd, run_cmd

    parser = _Parser(prog="quanos", description="QUANOS hybrid quantization and hardware energy estimation",
                     epilog="'quanos list' prints the names every option accepts (models, datasets, MAC "
                            "architectures, technologies, dataflows, accelerators, attacks, suites, metrics, "
                            "policies).")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"quanos-hw {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run_cmd.add_parser(sub)
    estimate_cmd.add_parser(sub)
    compare_cmd.add_parser(sub)
    dse_cmd.add_parser(sub)
    codesign_cmd.add_parser(sub)
    export_cmd.add_parser(sub)
    list_cmd.add_parser(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    _quiet_third_party()
    from ..errors import InputError, TrainingDivergedError

    debug = os.environ.get("QUANOS_DEBUG") == "1"
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except InputError as exc:
        if debug:
            raise
        print(f"quanos: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # stdout closed early (e.g. piped into head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("quanos: interrupted; a resumable checkpoint was kept (rerun with --resume)", file=sys.stderr)
        return 130
    except TrainingDivergedError as exc:
        print(f"quanos: training diverged: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, exit 1
        if debug:
            raise
        print(f"quanos: internal error: {type(exc).__name__}: {_one_line(exc)} (QUANOS_DEBUG=1 shows a traceback)",
              file=sys.stderr)
        return 1


