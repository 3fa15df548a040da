"""vaedge.web: a static site that runs a bundle's ONNX graphs in the browser with onnxruntime-web."""
