"""`vaedge bench`: every decoder variant timed side by side in one process, against the machine's limit.

`timing` holds the measuring primitives (sgemm roofline, throughput, latency, RSS, cold start),
`keras_rows` the Keras and plain-tf2onnx rows (TensorFlow, imported only when asked for), `run`
assembles the report and `report` renders it as a table and a chart. The benchmark sits above
every stage: it may import the runtime and the export stage; nothing imports it but the CLI.
"""
