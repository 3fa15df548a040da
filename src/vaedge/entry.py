"""The `vaedge` console entry point: Ctrl-C gets one line and exit 130 from the very first line.

Importing the commands (typer, rich, numpy) takes a moment; Python's default handling of a SIGINT
in that window is a KeyboardInterrupt traceback, and typer exits 130 silently while it parses. The
handler below covers the imports and the parsing; a command's own handling
(`vaedge.cli.errors.reported`) takes over when its body starts.
"""

import os
import signal
import sys

INTERRUPTED = 130


def _interrupted_while_starting(signum, frame):
    os.write(2, b"error: interrupted\n")
    os._exit(INTERRUPTED)


def main() -> None:
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    from vaedge.cli import command

    try:
        command(sys.argv[1:])(prog_name="vaedge")
    except KeyboardInterrupt:  # between typer's parsing and a command's own handler
        sys.stderr.write("error: interrupted\n")
        sys.exit(INTERRUPTED)
