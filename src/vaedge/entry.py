"""The `vaedge` console entry point: Ctrl-C gets one line and exit 130 from the very first line.

Importing the commands (typer, rich, numpy) takes a moment; Python's default handling of a SIGINT
in that window is a KeyboardInterrupt traceback, and typer exits 130 silently while it parses. The
handler below covers the imports and the parsing; a command's own handling
(`vaedge.cli.errors.reported`) takes over when its body starts.

A plain `vaedge generate BUNDLE --out x.png ...` (the runtime's everyday command) runs without typer,
rich or pydantic (vaedge.cli.generate_grid): it imports only what it runs. It is one short pass
over arrays that reference counting frees, so it runs without the cyclic collector (which would only
re-walk numpy's and onnxruntime's import-time objects) and, once its grid is on disk and its line
written, ends without tearing the interpreter down (freeing every module's objects one by one, as
mypy's `hard_exit` also skips).
"""

import gc
import os
import signal
import sys

INTERRUPTED = 130


def _interrupted_while_starting(signum, frame):
    os.write(2, b"error: interrupted\n")
    os._exit(INTERRUPTED)


def _plain_generate(args: list[str]) -> bool:
    """Run `vaedge generate ARGS` without typer when its command line is plain; False: it is not (typer
    parses it, and shows help and usage errors). The same body, errors and output as the typer command."""
    from vaedge.cli.generate_grid import plain_request

    request = plain_request(args)
    if request is None:
        return False
    from vaedge.cli.errors import interrupts_raise, one_line
    from vaedge.cli.generate_grid import write_grid
    from vaedge.io.files import describe

    try:
        interrupts_raise()
        sys.stdout.write(write_grid(request) + "\n")
        sys.stdout.flush()  # a closed pipe is reported here, as every command reports it
    except (Exception, KeyboardInterrupt) as exc:
        failure = one_line(exc, "generate")
        if failure is None:
            raise
        sys.stderr.write(f"error: {describe(failure[0])}\n")
        sys.exit(failure[1])
    return True


def _exit_done() -> None:
    """End the process now that its grid is on disk and its line flushed (`_plain_generate`); if stderr
    cannot be flushed, return and let Python's own exit report it."""
    try:
        sys.stderr.flush()
    except OSError:
        return
    os._exit(0)


def main() -> None:
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    args = sys.argv[1:]
    if args[:1] == ["generate"]:
        gc.disable()
        if _plain_generate(args[1:]):
            _exit_done()
            return
        gc.enable()
    from vaedge.cli import command

    try:
        command(args)(prog_name="vaedge")
    except KeyboardInterrupt:  # between typer's parsing and a command's own handler
        sys.stderr.write("error: interrupted\n")
        sys.exit(INTERRUPTED)
