"""`ExportConfig`: how a bundle was made, stored in its manifest so it can be made again."""

from __future__ import annotations

from dataclasses import dataclass, field

from vaedge.errors import ExportError
from vaedge.runtime.manifest import PRECISIONS

DEFAULT_OPSET = 18  # the newest opset tf2onnx 1.17 emits; onnxruntime >= 1.16 runs it fully


@dataclass
class ExportConfig:
    """What `vaedge export` was asked for."""

    source: str = ""
    opset: int = DEFAULT_OPSET
    precisions: list[str] = field(default_factory=lambda: ["fp32"])
    tflite: bool = True
    data: str | None = None  # held-out and calibration images; default: the run's training data
    calibration_images: int = 512
    validation_images: int = 256
    seed: int = 0
    unsafe: bool = False

    def __post_init__(self) -> None:
        # fp32 is the reference graph every variant is checked with; each precision once, in order.
        self.precisions = list(dict.fromkeys(["fp32", *self.precisions]))

    def validate(self) -> None:
        """Raise ExportError listing every invalid field; changes nothing."""
        problems = []
        unknown = [p for p in self.precisions if p not in PRECISIONS]
        if unknown:
            problems.append(f"unknown precision(s) {', '.join(unknown)} (choose from {', '.join(PRECISIONS)})")
        if not 13 <= self.opset <= DEFAULT_OPSET:
            problems.append(f"opset must be between 13 and {DEFAULT_OPSET}, got {self.opset}")
        if self.calibration_images < 1 or self.validation_images < 1:
            problems.append("calibration and validation need at least one image")
        if problems:
            raise ExportError("invalid export config: " + "; ".join(problems))
