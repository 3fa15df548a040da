"""vaedge.runtime: generation from an exported bundle with numpy + onnxruntime (no TensorFlow)."""
