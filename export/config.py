"""`ExportConfig`: how a bundle was made, stored in its manifest so it can be made again."""

from __future__ import annotations

from dataclasses import dataclass, field

from vaedge.errors import ExportError
from vaedge.export.convert import DEFAULT_OPSET

PRECISIONS = ("fp32", "fp16", "int8")


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

    def validate(self) -> None:
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
        if "fp32" not in self.precisions:
            self.precisions = ["fp32", *self.precisions]  # the reference graph every variant is checked with
        self.precisions = list(dict.fromkeys(self.precisions))
