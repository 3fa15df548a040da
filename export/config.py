"""`ExportConfig`: how a bundle was made, stored in its manifest so it can be made again."""

from __future__ import annotations

from dataclasses import dataclass, field

from vaedge.errors import ExportError
from vaedge.runtime.manifest import PRECISIONS

DEFAULT_OPSET = 18  # the newest opset tf2onnx 1.17 emits; onnxruntime >= 1.16 runs it fully
DEFAULT_TFLITE_BATCHES = (1, 64)  # latency, throughput: every TFLite graph has a fixed batch
MAX_TFLITE_BATCH = 4096


@dataclass
class ExportConfig:
    """What `vaedge export` was asked for (what it was made from is the manifest's `source`)."""

    opset: int = DEFAULT_OPSET
    precisions: list[str] = field(default_factory=lambda: ["fp32"])
    tflite: bool = True
    tflite_batches: list[int] = field(default_factory=lambda: list(DEFAULT_TFLITE_BATCHES))
    data: str | None = None  # held-out and calibration images; default: the run's training data
    calibration_images: int = 512
    validation_images: int = 256
    seed: int = 0
    unsafe: bool = False
    micro: bool = False  # int8-I/O batch-1 graphs measured under TensorFlow Lite Micro (export/micro.py)

    def __post_init__(self) -> None:
        # fp32 is the reference graph every variant is checked with; each precision once, in order.
        self.precisions = list(dict.fromkeys(["fp32", *self.precisions]))
        if self.micro:  # the micro graphs are the int8-I/O batch-1 TFLite graphs
            self.precisions = list(dict.fromkeys([*self.precisions, "int8"]))
            self.tflite_batches = [*self.tflite_batches, 1]
        if all(isinstance(b, int) and not isinstance(b, bool) for b in self.tflite_batches):
            self.tflite_batches = sorted(set(self.tflite_batches))

    def validate(self) -> None:
        """Raise ExportError listing every invalid field; changes nothing."""
        problems = []
        unknown = [p for p in self.precisions if p not in PRECISIONS]
        if unknown:
            problems.append(f"unknown precision(s) {', '.join(unknown)} (choose from {', '.join(PRECISIONS)})")
        if not 13 <= self.opset <= DEFAULT_OPSET:
            problems.append(f"opset must be between 13 and {DEFAULT_OPSET}, got {self.opset}")
        batches = self.tflite_batches
        if not batches or not all(
            isinstance(b, int) and not isinstance(b, bool) and 1 <= b <= MAX_TFLITE_BATCH for b in batches
        ):
            problems.append(f"tflite batches must be ints in 1..{MAX_TFLITE_BATCH}, at least one, got {batches}")
        if self.micro and not self.tflite:
            problems.append("--micro needs the TFLite graphs (drop --no-tflite)")
        if self.calibration_images < 1 or self.validation_images < 1:
            problems.append("calibration and validation need at least one image")
        if problems:
            raise ExportError("invalid export config: " + "; ".join(problems))
