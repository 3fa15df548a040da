"""`vaedge export --micro`: the bundle's int8-I/O batch-1 graphs, run under TensorFlow Lite Micro and measured.

The full-integer `{role}.int8io.b1.tflite` graphs are the microcontroller graphs: int8 in, int8 out,
batch 1, and (checked here) only ops TFLM's resolver has; with --micro the decoder's is rebuilt for
TFLM's memory first (export/micro_decoder.py). Each is run under TFLM and measured: the
smallest tensor arena (bisection), its flash (file bytes), TFLM vs LiteRT on the same file and the
same int8 inputs (`LSB_GATE`), TFLM's output against Keras (the PSNR gate), and the IWAE cost vs fp32
on the held-out images. The IWAE runs on LiteRT with the same file's bytes: TFLM's reference kernels
would take minutes for its 4096 decodes, and TFLM is held to LiteRT within `LSB_GATE` anyway.
A graph that TFLM refuses or that misses a gate gets no `micro` entry, and the reason is one line.
"""

from __future__ import annotations

import numpy as np

from vaedge.errors import BundleError, ExportError
from vaedge.export.quality import NLL_TARGET, K
from vaedge.export.validate import stored_subset
from vaedge.runtime.backends import open_bundle_file, open_model
from vaedge.runtime.fixed_batch import FixedBatchGraphs, quantize
from vaedge.runtime.manifest import (
    Manifest,
    MicroGraph,
    ModelFile,
    micro_section,
)
from vaedge.runtime.options import EngineOptions
from vaedge.runtime.parity import LATENT_GROUPS, PSNR_GATE, psnr
from vaedge.versions import versions

LSB_GATE = 1  # int8 output steps between TFLM and LiteRT on the same file and inputs
ROLES = ("encoder", "decoder")


def micro_file(manifest: Manifest, role: str) -> ModelFile | None:
    """The role's batch-1 TFLite graph with int8 inputs and outputs, if the bundle has one."""
    return next((f for f in manifest.find_all(role, "tflite", "int8") if f.batch == 1 and f.quantization), None)


def check_micro_ops(data: bytes, name: str) -> list[str]:
    """The graph's ops in execution order; ExportError (one line) naming any op TFLM's resolver lacks."""
    from vaedge.runtime.tflm_backend import graph_ops, missing_ops

    ops = graph_ops(data)
    lacking = missing_ops(ops)
    if lacking:
        raise ExportError(f"{name}: TFLM's op resolver has no kernel for {', '.join(lacking)}; not a micro graph")
    return ops


def measure(
    manifest: Manifest,
    loaded: dict[str, bytes],
    file: ModelFile,
    reference: dict,
    held_out: np.ndarray,
    seed: int,
    fp32_iwae: float,
) -> MicroGraph:
    """Run one graph under TFLM and measure it; ExportError (one line) when TFLM refuses it or a gate fails."""
    from vaedge.runtime.evaluate import evaluate
    from vaedge.runtime.generator import Generator
    from vaedge.runtime.tflm_backend import smallest_arena

    data = loaded[file.path]
    ops = check_micro_ops(data, file.path)
    try:
        arena = smallest_arena(data)
        tflm = open_bundle_file(manifest, file, loaded, EngineOptions("tflm"))
    except BundleError as exc:
        raise ExportError(f"{file.path}: TFLM refuses it: {exc}") from None
    litert = open_bundle_file(manifest, file, loaded)
    subset = stored_subset(reference)
    feeds = {"image": subset["images"]} if file.role == "encoder" else {"z": subset["latents"]}
    int8_feeds = {k: quantize(v, **file.quantization[k]) for k, v in feeds.items()}
    # the graphs' own int8 I/O, on both engines, any number of rows in pieces of the graph's batch
    # LiteRT on its builtin kernels (no XNNPACK): the kernel family TFLM's come from, so 1 LSB is the gate;
    # XNNPACK's own int8 kernels round differently (up to a few LSB on this decoder).
    from vaedge.runtime.litert_backend import TFLiteModel

    raw = {
        "tflm": FixedBatchGraphs({file.batch: open_model(data, "tflite", file.path, EngineOptions("tflm"))}),
        "tflite": FixedBatchGraphs({file.batch: TFLiteModel(data, file.path, xnnpack=False)}),
    }
    on_tflm, on_litert = raw["tflm"].run(int8_feeds), raw["tflite"].run(int8_feeds)
    lsb = max(int(np.abs(on_tflm[k].astype(np.int32) - on_litert[k].astype(np.int32)).max()) for k in on_tflm)
    worst_psnr = _psnr(manifest, file.role, tflm.run(feeds), subset)
    fp32 = {
        role: open_bundle_file(manifest, f, loaded) for role in ROLES for f in [manifest.find(role, "onnx", "fp32")]
    }
    pair = {**fp32, file.role: litert}
    quality = evaluate(
        Generator(manifest, (pair["encoder"], pair["decoder"]), EngineOptions("tflite", "int8")),
        held_out,
        k=K,
        seed=seed,
    )
    problems = []
    if lsb > LSB_GATE:
        problems.append(f"TFLM vs LiteRT {lsb} LSB (gate {LSB_GATE})")
    if not worst_psnr >= PSNR_GATE:
        problems.append(f"PSNR {worst_psnr:.1f} dB vs Keras (gate {PSNR_GATE:g})")
    if problems:
        raise ExportError(f"{file.path}: " + "; ".join(problems))
    return MicroGraph(
        role=file.role,
        file=file.path,
        ops=ops,
        arena_bytes=arena,
        flash_bytes=file.size,
        litert_max_lsb=lsb,
        psnr_db=round(min(worst_psnr, 999.0), 3),
        iwae_vs_fp32=round(quality.iwae_nll - fp32_iwae, 4),
    )


def _psnr(manifest: Manifest, role: str, out: dict, subset: dict) -> float:
    """The lowest PSNR (dB) of TFLM's images against Keras over the probes (encoders: their z_mean through
    the fp32 decoder)."""
    if role == "encoder":
        decoder = open_bundle_file(manifest, manifest.find("decoder", "onnx", "fp32"))
        posterior = subset["latent_group"] == LATENT_GROUPS.index("posterior means")
        return psnr(decoder.run({"z": out["z_mean"]})["image"], subset["decoded"][posterior])
    return min(
        psnr(out["image"][subset["latent_group"] == g], subset["decoded"][subset["latent_group"] == g])
        for g in range(len(LATENT_GROUPS))
    )


def micro_graphs(
    manifest: Manifest, loaded: dict[str, bytes], reference: dict, held_out: np.ndarray, seed: int, fp32_iwae: float
) -> tuple[dict, dict, dict]:
    """(the manifest's `micro` section, {file: why it is not a micro graph}, {file: likelihood note})
    for the staged bundle's manifest (in memory) and its files' hash-checked bytes `loaded`."""
    graphs, refused = [], {}
    for role in ROLES:
        file = micro_file(manifest, role)
        if file is None:
            refused[role] = f"{role}: no int8-I/O batch-1 TFLite graph (export with --precision int8, --tflite-batch 1)"
            continue
        try:
            graphs.append(measure(manifest, loaded, file, reference, held_out, seed, fp32_iwae))
        except ExportError as exc:
            refused[file.path] = str(exc)
    notes = {
        g.file: f"IWAE {g.iwae_vs_fp32:+.2f} nats vs fp32, more than the {NLL_TARGET:g} nat target"
        for g in graphs
        if abs(g.iwae_vs_fp32) > NLL_TARGET
    }
    return micro_section(graphs, versions("tflite-micro")["tflite-micro"]), refused, notes
