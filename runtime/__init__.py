"""vaedge.runtime: generation from an exported bundle with numpy + onnxruntime (no TensorFlow).

>>> from vaedge import runtime
>>> generator = runtime.load("bundles/fm")
>>> images = generator.sample(64, seed=0)          # (64, 28, 28, 1) float32 in [0, 1]
"""

__all__ = ["Generator", "load"]


def __getattr__(name: str):
    # numpy and the engines load on first use: `vaedge.runtime.options` alone stays light for the CLI
    if name in __all__:
        from vaedge.runtime import generator

        return getattr(generator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
