"""`vaedge export` writes each ONNX graph also in onnxruntime's own format, with the operators config of
a minimal onnxruntime build; both hashed in the manifest, the .ort files validated like the .onnx."""

from __future__ import annotations

import numpy as np

from vaedge import runtime
from vaedge.runtime.backends import open_bundle_file
from vaedge.runtime.graph_ops import is_ort_format, ort_ops
from vaedge.runtime.manifest import check_files, read_manifest


def test_every_onnx_graph_has_its_ort_form_and_the_config_lists_their_ops(bundle):
    manifest = read_manifest(bundle)
    onnx = {f.path: f for f in manifest.files if f.format == "onnx"}
    ort = {f.path: f for f in manifest.files if f.format == "ort"}
    assert sorted(ort) == sorted(name.removesuffix(".onnx") + ".ort" for name in onnx)
    for name, file in ort.items():
        source = onnx[file.extra["source"]]
        assert (file.role, file.precision, file.inputs, file.outputs) == (
            source.role,
            source.precision,
            source.inputs,
            source.outputs,
        )
        assert is_ort_format((bundle / name).read_bytes())
    check_files(manifest)  # every .ort and the config hashed
    (config,) = [f for f in manifest.files if f.format == "config"]
    assert config.path == "required_operators.config" and config.role == "operators"
    listed = {
        (domain, op)
        for line in (bundle / config.path).read_text().splitlines()
        if line and not line.startswith("#")
        for domain, _, ops in [line.split(";")]
        for op in ops.split(",")
    }
    used = {("ai.onnx" if d in ("", "ai.onnx") else d, op) for f in ort for d, op in ort_ops((bundle / f).read_bytes())}
    assert used == listed
    assert str(bundle) not in (bundle / config.path).read_text()  # no staging paths in the header


def test_ort_files_pass_the_same_gates_and_match_the_onnx_outputs(bundle):
    manifest = read_manifest(bundle)
    checks = manifest.raw["validation"]["checks"]
    assert {c["file"] for c in checks} >= {"decoder.ort", "encoder.ort", "decoder.int8.ort"}
    assert all(c["passed"] for c in checks if c["file"].endswith(".ort"))
    z = np.random.default_rng(0).standard_normal((64, manifest.latent_dim)).astype(np.float32)
    for precision in ("fp32", "fp16", "int8"):
        generator = runtime.load(bundle, backend="onnx", precision=precision)
        assert generator.decoder.name.endswith(".ort")
        onnx = open_bundle_file(manifest, manifest.find("decoder", "onnx", precision))
        # the same optimisations, bar onnxruntime's x86-only NCHWc layouts (left out of the portable .ort)
        np.testing.assert_allclose(generator.decode(z), onnx.run({"z": z})["image"], atol=1e-5)
