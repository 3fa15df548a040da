"""A run's checkpoint read back for `--resume`: a run directory is a folder anyone may have edited.

Nothing is trusted before it is checked: `history.json` is strict JSON of equal-length lists of
finite numbers, one per finished epoch; `vae.keras` is a bounded regular file whose zip and
`config.json` are read first, and it may name only Keras's own classes and vaedge's registered
ones (no Lambda, no function, no module outside `keras`), with the image shape and latent dim the
run's config says, before Keras (in safe mode) builds anything from it.
"""

from __future__ import annotations

import io
import math
import tempfile
import zipfile
from pathlib import Path

from vaedge.errors import TrainingError
from vaedge.io.files import MiB, describe, parse_json, read_regular

MAX_HISTORY_BYTES = 16 * MiB
MAX_CHECKPOINT_BYTES = 2048 * MiB
MAX_CONFIG_BYTES = 4 * MiB
VAEDGE_MODULES = ("vaedge.train.model",)
REFUSED_CLASSES = ("Lambda", "__lambda__", "TFOpLambda", "function")


def read_history(path: Path, epochs: int) -> dict[str, list[float]]:
    """{metric: one finite number per epoch} from a checkpoint's history.json; TrainingError otherwise."""
    name = describe(path)
    history = parse_json(read_regular(path, MAX_HISTORY_BYTES, TrainingError), path, TrainingError)
    ok = (
        isinstance(history, dict)
        and "loss" in history
        and all(
            isinstance(k, str)
            and isinstance(v, list)
            and len(v) == epochs
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)
            for k, v in history.items()
        )
    )
    if not ok:
        raise TrainingError(
            f"{name}: expected {{metric: [one finite number per epoch]}} for {epochs} epochs, "
            "with a 'loss'; this checkpoint was edited or is not vaedge's"
        )
    return history


def check_keras_config(config, name: str, image_shape, latent_dim: int) -> None:
    """Refuse a Keras config that names anything but Keras's classes and vaedge's, or another model."""
    problems: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            module, cls = node.get("module"), node.get("class_name")
            if cls in REFUSED_CLASSES:
                problems.append(f"a {describe(str(cls))} (arbitrary code)")
            if module is not None and not (
                isinstance(module, str)
                and (module == "keras" or module.startswith("keras.") or module in VAEDGE_MODULES)
            ):
                problems.append(f"class {describe(str(cls))[:60]} from module {describe(str(module))[:60]}")
            registered = node.get("registered_name")
            if isinstance(registered, str) and ">" in registered and not registered.startswith("vaedge>"):
                problems.append(f"registered class {describe(registered)[:60]}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    model = config.get("config", {}) if isinstance(config, dict) else {}
    if not isinstance(config, dict) or config.get("registered_name") != "vaedge>VAE" or not isinstance(model, dict):
        problems.append("the model is not vaedge's VAE")
    elif model.get("image_shape") != list(image_shape) or model.get("latent_dim") != latent_dim:
        problems.append(
            f"a model of images {describe(str(model.get('image_shape')))[:40]} and latent dim "
            f"{describe(str(model.get('latent_dim')))[:20]}, the run's config says {list(image_shape)} "
            f"and {latent_dim}"
        )
    if problems:
        raise TrainingError(f"{name}: refused before loading: " + "; ".join(dict.fromkeys(problems)))


def load_vae(path: Path, image_shape, latent_dim: int):
    """The VAE of a checkpoint's vae.keras, checked as the module says, loaded in Keras's safe mode."""
    import keras

    from vaedge.train.model import VAE

    name = describe(path)
    data = read_regular(path, MAX_CHECKPOINT_BYTES, TrainingError)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {m.filename: m for m in archive.infolist()}
        if (
            "config.json" not in members
            or members["config.json"].file_size > MAX_CONFIG_BYTES
            or sum(m.file_size for m in members.values()) > MAX_CHECKPOINT_BYTES
        ):
            raise TrainingError(f"{name}: not a .keras file of a size a VAE has")
        config = parse_json(archive.read("config.json"), f"{name}/config.json", TrainingError)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        if isinstance(exc, TrainingError):
            raise
        raise TrainingError(f"{name}: not a valid .keras zip ({describe(str(exc))[:120]})") from None
    check_keras_config(config, name, image_shape, latent_dim)
    try:
        with tempfile.TemporaryDirectory() as tmp:  # Keras reads a path: the very bytes checked above
            copy = Path(tmp) / "vae.keras"
            copy.write_bytes(data)
            vae = keras.saving.load_model(copy, safe_mode=True)
    except Exception as exc:  # noqa: BLE001  Keras raises ValueError, TypeError, OSError, KeyError... for a broken file
        raise TrainingError(
            f"{name}: cannot load as the run's VAE ({type(exc).__name__}: "
            f"{describe((str(exc).splitlines() or [''])[0])[:160]})"
        ) from None
    if not isinstance(vae, VAE):
        raise TrainingError(f"{name}: holds a {type(vae).__name__}, not vaedge's VAE")
    return vae
