"""`TrainConfig`: everything that defines a training run, saved as `train_config.json`."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

from vaedge.errors import TrainingError
from vaedge.io import atomic
from vaedge.io.datasets import DEFAULT_DATASET

CONFIG_FILE = "train_config.json"
MAX_SIDE = 4096  # as a bundle's manifest allows (runtime.manifest.MAX_SIDE)
BOUNDS = {"latent_dim": 4096, "batch_size": 65536, "epochs": 100_000, "limit": 10**9, "early_stop": 100_000}
MAX_LEARNING_RATE = 10.0
STRATEGIES = ("default", "mirrored", "multiworker")
LEGACY_RESULTS = ("image_shape", "versions", "used")  # read from old train_config.json files, never written


def check_image_shape(image_shape: tuple[int, int, int]) -> None:
    """Raise ValueError unless (H, W, C) has H, W multiples of 4 and C in {1, 3}."""
    height, width, channels = image_shape
    if height < 4 or width < 4 or height % 4 or width % 4:
        raise ValueError(f"image height and width must be multiples of 4, got {height}x{width}")
    if channels not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got {channels}")


def is_run(path: Path) -> bool:
    """True if `path` holds a `train_config.json` vaedge wrote (what --force may replace)."""
    from vaedge.io.files import read_marker

    raw = read_marker(path, CONFIG_FILE)
    return raw is not None and {"data", "latent_dim", "epochs"} <= set(raw)


@dataclass
class TrainConfig:
    """The settings of one training run. What the run found and ran as (image shape, versions, dtype
    policy...) is a result: `run_info.json` and metrics.json's `run` (vaedge.train.lifecycle)."""

    data: str = DEFAULT_DATASET
    image_size: list[int] | None = None
    channels: int | None = None
    latent_dim: int = 2
    batch_size: int = 128
    epochs: int = 10
    learning_rate: float = 2e-3  # with cosine decay (docs/training.md: learning rate)
    seed: int = 0
    limit: int | None = None
    mixed_precision: bool = False
    strategy: str = "default"
    jit_compile: bool | None = None  # None: Keras decides ("auto")
    lr_schedule: str = "cosine"  # or "constant"; see vaedge.train.schedule
    early_stop: int | None = None  # stop after this many epochs without a better held-out loss
    # precise BatchNorm: statistics recomputed from this many training images before each validation
    # and before a model is kept (0: Keras' moving averages); see vaedge.train.batchnorm and
    # docs/training.md for why this many
    bn_stats_images: int = 4096

    def validate(self) -> None:
        """Raise TrainingError listing every invalid field (types first, then ranges: each number has an
        upper bound too, as a count that sizes a model or an allocation must)."""
        problems = _type_problems(type(self), dataclasses.asdict(self))
        if problems:
            raise TrainingError("invalid training config: " + "; ".join(problems))
        for name, high in BOUNDS.items():
            value = getattr(self, name)
            if value is not None and not 1 <= value <= high:
                problems.append(f"{name} must be in 1..{high:,}, got {_short(value)}")
        if not 0 <= self.seed < 2**32:
            problems.append(f"seed must be in 0..{2**32 - 1}, got {_short(self.seed)}")
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate <= MAX_LEARNING_RATE):
            problems.append(f"learning_rate must be > 0 and at most {MAX_LEARNING_RATE:g}, got {self.learning_rate}")
        if self.strategy not in STRATEGIES:
            problems.append(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            problems.append(f"lr_schedule must be cosine or constant, got {self.lr_schedule!r}")
        if not 0 <= self.bn_stats_images <= 10**9:
            problems.append(f"bn_stats_images must be >= 0 and at most {10**9:,}, got {_short(self.bn_stats_images)}")
        if self.channels not in (None, 1, 3):
            problems.append(f"channels must be 1 or 3, got {self.channels}")
        if self.image_size is not None and not _ints(self.image_size, 2):
            problems.append(f"image_size must be 2 integers in 1..{MAX_SIDE}, got {_short(self.image_size)}")
        if problems:
            raise TrainingError("invalid training config: " + "; ".join(problems))
        if self.image_size is not None:
            if len(self.image_size) != 2:
                problems.append(f"image_size must be (H, W), got {self.image_size}")
            else:
                try:
                    check_image_shape((*self.image_size, self.channels or 1))
                except ValueError as exc:
                    problems.append(str(exc))
        if problems:
            raise TrainingError("invalid training config: " + "; ".join(problems))

    def save(self, run_dir: Path) -> None:
        atomic.write_json(Path(run_dir) / CONFIG_FILE, dataclasses.asdict(self))

    @classmethod
    def load(cls, run_dir: Path) -> TrainConfig:
        """Rebuild the config a run was made with from its `train_config.json`."""
        from vaedge.io.files import describe, read_regular

        path = Path(run_dir) / CONFIG_FILE
        name = describe(path)
        if not path.exists():
            raise TrainingError(f"{name}: not found; is {describe(run_dir)} a vaedge run directory?")
        try:
            raw = json.loads(read_regular(path, 1 << 20, TrainingError))
        except (ValueError, RecursionError) as exc:
            if isinstance(exc, TrainingError):
                raise
            raise TrainingError(f"{name}: not valid JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise TrainingError(f"{name}: expected a JSON object")
        legacy = {k: raw.pop(k) for k in LEGACY_RESULTS if k in raw}  # results, in runs made before run_info.json
        unknown = sorted(set(raw) - {f.name for f in dataclasses.fields(cls)})
        problems = [f"unknown fields {unknown}"] if unknown else []
        problems += _type_problems(cls, {k: v for k, v in raw.items() if k not in unknown})
        shape = legacy.get("image_shape")
        if shape is not None and not _ints(shape, 3):
            problems.append(f"image_shape must be 3 integers in 1..{MAX_SIDE}, got {_short(shape)}")
        if problems:
            raise TrainingError(f"{name}: " + "; ".join(problems))
        config = cls(**raw)
        try:
            config.validate()
            if shape is not None:
                check_image_shape(tuple(shape))
        except (TypeError, ValueError) as exc:  # TrainingError is a ValueError
            raise TrainingError(f"{name}: {exc}") from None
        return config


def _ints(value, size: int) -> bool:
    return isinstance(value, list) and len(value) == size and all(_is_int(v) and 1 <= v <= MAX_SIDE for v in value)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


NULLABLE = {
    "image_size": list,
    "channels": int,
    "limit": int,
    "jit_compile": bool,
    "early_stop": int,
}


def _type_problems(cls, raw: dict) -> list[str]:
    """Fields whose JSON type differs from their default's (bool is not an int; None only where allowed)."""
    problems = []
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        value = raw[f.name]
        if default is None:
            kind = NULLABLE.get(f.name, object)
            ok = value is None or (isinstance(value, kind) and (kind is not int or _is_int(value)))
        elif value is None:
            ok = False
        elif isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, type(default))
        if not ok:
            problems.append(
                f"{f.name} is {json.dumps(value)[:40]}, "
                f"expected a {type(default).__name__ if default is not None else 'value or null'}"
            )
    return problems
