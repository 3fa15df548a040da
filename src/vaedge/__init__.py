"""vaedge: train a Keras VAE, export it as ONNX/TFLite graphs, generate on device.

The stages live in `vaedge.train`, `vaedge.export` and `vaedge.runtime`; only the first two
import TensorFlow.
"""

__version__ = "0.1.0"
