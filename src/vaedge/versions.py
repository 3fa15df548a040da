"""The library versions a run or a bundle was made with, recorded beside it."""

from __future__ import annotations

import importlib.metadata
import platform

from vaedge import __version__


def versions(*distributions: str) -> dict[str, str]:
    """{"vaedge", "python", and each installed distribution: its version} (read from metadata, no import)."""
    found = {"vaedge": __version__, "python": platform.python_version()}
    for name in distributions:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
