"""What `vaedge generate` does, without typer: the typer command (vaedge.cli.generate) and the plain
command line's fast path (vaedge.entry) both run `write_grid`.

`plain_request` reads a command line only when every token is one `vaedge generate` plainly takes
(known options, plain numbers, no help); anything else returns None and goes to typer, so help and
usage errors stay typer's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from vaedge.runtime.options import EngineOptions

INT = re.compile(r"^(0|[1-9][0-9]{0,17})$")
FLOAT = re.compile(r"^[0-9]{1,18}(\.[0-9]{1,18})?$")
# option -> (request field, parse); --provider repeats; the engine options go into `options`
OPTIONS = {
    "--out": ("out", Path),
    "--n": ("n", int),
    "--seed": ("seed", int),
    "--temperature": ("temperature", float),
    "--columns": ("columns", int),
    "--npy": ("npy", Path),
    "--backend": ("backend", str),
    "--provider": ("providers", str),
    "--precision": ("precision", str),
    "--threads": ("threads", int),
    "--device": ("device", str),
    "--public-key": ("public_key", Path),
}
ENGINE_FIELDS = ("backend", "precision", "providers", "threads", "device")


@dataclass(frozen=True)
class GenerateRequest:
    """One `vaedge generate` run: n images from the prior as a PNG/JPEG grid at `out` (and an .npz)."""

    bundle: Path
    out: Path
    n: int = 64
    seed: int | None = None
    temperature: float = 1.0
    columns: int | None = None
    npy: Path | None = None
    options: EngineOptions = field(default_factory=EngineOptions)
    public_key: Path | None = None


def write_grid(request: GenerateRequest) -> str:
    """Open the bundle, decode request.n prior samples, write the grid (and arrays); return the line to print."""
    from vaedge.errors import InputError
    from vaedge.io.files import describe
    from vaedge.runtime.generator import load_bundle

    generator = load_bundle(request.bundle, request.options, public_key=request.public_key)
    n, columns, npy = request.n, request.columns, request.npy
    if n <= 0:
        raise InputError(f"--n must be positive, got {n}")
    if columns is not None and columns < 1:
        raise InputError(f"--columns must be positive, got {columns}")
    import numpy as np

    from vaedge.io import atomic
    from vaedge.io.images import output_format, save_grid
    from vaedge.runtime.inputs import check_memory

    for target in (request.out, npy):
        if target is not None:
            atomic.check_file_target(target)  # before any work: never a device, FIFO or directory
    output_format(request.out)  # .png or .jpg: the format follows the suffix
    # Peak, for a JPEG (Pillow): the images (float32, A bytes), the uint8 mosaic (A/4), its 2x-scaled copy
    # and Pillow's (A each) and the file's bytes with their copy (up to A/2 each): 4.5 A. A PNG (encoded a
    # block of rows at a time) needs less. --npy adds its buffer and copy (2 A).
    image_array = n * int(np.prod(generator.image_shape)) * 4
    check_memory(int((4.5 + 2 * (npy is not None)) * image_array), f"{n} images and their PNG grid")

    temperature = request.temperature
    images, eps = generator.sample(n, seed=request.seed, temperature=temperature, return_eps=True)
    if npy is not None:
        import io

        buffer = io.BytesIO()
        np.savez(buffer, eps=eps, z=(temperature * eps).astype(np.float32), images=images)
        atomic.write_bytes(npy, buffer.getvalue())
    save_grid(request.out, images, columns=columns)
    return f"{describe(request.out)}: {n} images ({generator.providers[0]}, {generator.precision})"


def plain_request(args: list[str]) -> GenerateRequest | None:
    """The request of `vaedge generate ARGS` when every token is plain (see the module's docstring), else None."""
    values: dict = {"providers": []}
    bundle = None
    tokens = iter(args)
    for token in tokens:
        if not token.startswith("-"):
            if bundle is not None or not token:
                return None
            bundle = Path(token)
            continue
        name, given, value = token.partition("=")
        if name not in OPTIONS:
            return None  # --help, --, a short option, an unknown one: typer says what it means
        if not given:
            value = next(tokens, None)
        if not value or value.startswith("-"):
            return None
        key, parse = OPTIONS[name]
        if parse is int and not INT.match(value) or parse is float and not FLOAT.match(value):
            return None
        if key == "providers":
            values[key].append(value)
        elif key in values:
            return None  # given twice
        else:
            values[key] = parse(value)
    if bundle is None or "out" not in values:
        return None
    engine = {k: values.pop(k) for k in ENGINE_FIELDS if k in values}
    engine["providers"] = tuple(engine["providers"]) or None
    return GenerateRequest(bundle, options=EngineOptions(**engine), **values)
