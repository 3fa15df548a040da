"""vaedge.runtime: generation from an exported bundle with numpy + onnxruntime (no TensorFlow).

>>> from vaedge import runtime
>>> generator = runtime.load("bundles/fm")
>>> images = generator.sample(64, seed=0)          # (64, 28, 28, 1) float32 in [0, 1]
"""

from vaedge.runtime.generator import Generator, load

__all__ = ["Generator", "load"]
