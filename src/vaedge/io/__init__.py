"""File I/O every stage shares: atomic publishing, IDX and image decoding, PNG grids.

The bottom of the dependency graph: imports nothing from `vaedge.train`, `vaedge.export` or
`vaedge.runtime`, and neither TensorFlow nor onnxruntime.
"""
