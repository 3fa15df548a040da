"""Progress on long steps, the way Keras and pip show it: a line per stage with a bar where the count is
known and the elapsed time, on stderr, only on a terminal.

Library code reports and never prints: it calls `step("converting the encoder")` at a stage boundary
(the previous step of the run ends there) or `stage(...)` around a counted loop. Both do nothing unless
a command opened `shown()`, so library code called from Python, tests or a pipe stays silent.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

_shown = None  # the rich Progress of the command running, while it shows one
_open_task = None  # the step started by `step()`, ended by the next one


def on_terminal(stream_fd: int = 2) -> bool:
    return os.isatty(stream_fd)


@contextlib.contextmanager
def shown(enabled: bool = True) -> Iterator[None]:
    """Show progress on stderr for the block, when `enabled` (not --quiet) and stderr is a terminal.

    The display writes to a duplicate of file descriptor 2 taken now, so it stays visible while native
    libraries' chatter is sent to /dev/null (vaedge.quiet). When the block ends, normally or not, the
    display's last line is finished, so an error message that follows starts on a fresh line.
    """
    global _shown, _open_task
    if not enabled or not on_terminal(2) or _shown is not None:
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    stream = os.fdopen(os.dup(2), "w", buffering=1)
    console = Console(file=stream, markup=False, highlight=False)
    columns = (
        SpinnerColumn(finished_text="✓"),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        # stdout stays where it points: what a command prints for a pipe never goes to the terminal's stderr
        with Progress(*columns, console=console, redirect_stdout=False, redirect_stderr=False) as progress:
            _shown = progress
            try:
                yield
                _finish_open_step()
            finally:
                _shown, _open_task = None, None
    finally:
        stream.close()


def _finish_open_step() -> None:
    global _open_task
    if _shown is not None and _open_task is not None:
        task = next((t for t in _shown.tasks if t.id == _open_task), None)
        if task is not None and not task.finished:
            total = task.total or 1
            _shown.update(_open_task, total=total, completed=total)
    _open_task = None


def step(description: str, total: int | None = None) -> Callable[[int], None]:
    """End the step in progress (if any) and start the next; returns `advance(n=1)` for a counted step."""
    global _open_task
    if _shown is None:
        return _ignore
    _finish_open_step()
    _open_task = _shown.add_task(description, total=total)
    task = _open_task
    return lambda n=1: _shown.advance(task, n) if _shown is not None else None


@contextlib.contextmanager
def stage(description: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """One step around a block; yields `update(done, total=None)` to report how far a counted step is."""
    if _shown is None:
        yield _ignore
        return
    _finish_open_step()
    progress = _shown
    task = progress.add_task(description, total=total)

    def update(done: int, new_total: int | None = None) -> None:
        progress.update(task, completed=done, **({"total": new_total} if new_total is not None else {}))

    yield update
    total = next(t.total for t in progress.tasks if t.id == task) or 1
    progress.update(task, total=total, completed=total)


def _ignore(*args, **kwargs) -> None:
    return None
