"""The `akeneo-sfcc` script. It imports the tool inside a guard: Ctrl-C while Python is still
loading it (a second or so on a cold start) ends with one line and 130, as it does in a run."""

import sys


def console() -> None:
    try:
        from .cli import console as run
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C) before the command started: nothing was done", file=sys.stderr)
        sys.exit(130)
    run()
