"""`vaedge evaluate`: negative ELBO and IWAE -log p(x) of every exported variant, in nats per image."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.bundle_options import AUTO, BUNDLE, Backend, PublicKey, Threads, open_bundle
from vaedge.cli.errors import fail, reported
from vaedge.io.files import describe


@reported
def evaluate(
    bundle: Path = BUNDLE,
    data: Optional[str] = typer.Option(
        None,
        help="Test images: fashion_mnist, mnist, an IDX folder/file (t10k-* alone is enough) or an .npz "
        "(x_test alone is enough). Default: the dataset the bundle's manifest names.",
    ),
    k: int = typer.Option(100, help="Importance samples per image (IWAE); K=1 is the ELBO."),
    limit: int = typer.Option(500, help="At most this many test images."),
    seed: int = typer.Option(
        0, help="Seed for eps (and binarisation); training's held-out figure uses its run's --seed."
    ),
    binarize: bool = typer.Option(
        False, help="Score stochastically binarised test images (fixed by --seed), as published MNIST likelihoods are."
    ),
    precision: Optional[list[str]] = typer.Option(
        None, help="Variants to evaluate (default: every one the bundle has)."
    ),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the figures as JSON."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
    backend: Backend = AUTO,
    threads: Threads = None,
    public_key: PublicKey = None,
) -> None:
    """Estimate -log p(x) with the exported graphs and host sampling; compare every variant with fp32."""
    if k < 1 or k > 100_000:
        raise fail(f"--k must be in 1..100000, got {k}")
    if limit < 1:
        raise fail(f"--limit must be at least 1, got {limit}")
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from vaedge.io import atomic
    from vaedge.io.datasets import read_test_split
    from vaedge.runtime.backends import backend as backend_row
    from vaedge.runtime.backends import installed_backends
    from vaedge.runtime.evaluate import BINARIZED, LIKELIHOOD
    from vaedge.runtime.evaluate import evaluate as estimate
    from vaedge.runtime.manifest import read_manifest
    from vaedge.runtime.options import EngineOptions

    formats = {row.format for row in (installed_backends() if backend == "auto" else [backend_row(backend)])}
    if json_path is not None:
        atomic.check_file_target(json_path)
    manifest = read_manifest(bundle)
    available = sorted(
        {f.precision for f in manifest.files if f.role == "decoder" and f.format in formats},
        key=["fp32", "fp16", "int8"].index,
    )
    wanted = list(dict.fromkeys(precision or available))
    missing = [p for p in wanted if p not in available]
    if missing:
        raise fail(
            f"{describe(bundle)}: no {', '.join(missing)} {backend} variant (has: {', '.join(available) or 'none'})"
        )
    if data is None:
        data = manifest_dataset(manifest.raw)
        if data is None:
            raise fail(f"{describe(bundle)}: its manifest names no dataset; pass --data")
        Console(stderr=True, markup=False, highlight=False).print(f"data: {data} (named by the bundle's manifest)")
    source, images = read_test_split(data, limit)
    shape, expected = tuple(images.shape[1:]), tuple(manifest.image_shape)
    if shape != expected and not (expected[2] == 1 and shape == expected[:2]):
        raise fail(f"{source}: test images are {shape}, the bundle's are {expected}")
    results = []
    console = Console(stderr=True, markup=False, highlight=False)
    with Progress(console=console, transient=True, disable=quiet) as progress:  # drawn only on a terminal
        for variant in wanted:
            generator = open_bundle(bundle, EngineOptions(backend, variant, threads=threads), public_key)
            task = progress.add_task(f"{variant}: {len(images)} images x K={k}", total=len(images) * k)
            quality = estimate(
                generator,
                images,
                k=k,
                seed=seed,
                binarize=binarize,
                progress=lambda done, total: progress.update(task, completed=done),
            )
            results.append(quality)
    fp32 = next((q for q in results if q.precision == "fp32"), None)
    rows = []
    for quality in results:  # same images, same eps: differences to fp32 are paired
        row = quality.as_dict()
        row["iwae_vs_fp32"], row["iwae_vs_fp32_stderr"] = quality.minus(fp32) if fp32 else (None, None)
        row["neg_elbo_vs_fp32"] = quality.neg_elbo - fp32.neg_elbo if fp32 else None
        rows.append(row)
    results = rows
    likelihood = LIKELIHOOD + (BINARIZED if binarize else "")
    kind = "binarised test images" if binarize else "test images"
    table = Table(title=f"{describe(bundle)}: nats per image on {len(images)} {kind}, K={k}, seed {seed}")
    for column in ("variant", "negative ELBO", "IWAE -log p(x)", "± stderr", "IWAE vs fp32 (paired)"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for r in results:
        delta = "" if r["iwae_vs_fp32"] is None else f"{r['iwae_vs_fp32']:+.3f} ± {r['iwae_vs_fp32_stderr']:.3f}"
        table.add_row(
            f"{r['file']} ({r['backend']} {r['precision']})",
            f"{r['neg_elbo']:.2f}",
            f"{r['iwae_nll']:.2f}",
            f"{r['iwae_stderr']:.2f}",
            delta,
        )
    out = Console(markup=False, highlight=False)
    if not out.is_terminal:
        out = Console(markup=False, highlight=False, width=120)  # logs and pipes: one row per variant
    out.print(table)
    out.print(f"likelihood: {likelihood}")
    if json_path is not None:
        atomic.write_json(
            json_path,
            {
                "bundle": str(bundle),
                "data": data,
                "likelihood": likelihood,
                "seed": seed,
                "binarize": binarize,
                "variants": results,
            },
        )


def manifest_dataset(raw: dict) -> str | None:
    """The dataset a bundle was exported (else trained) with, as its manifest names it, or None."""
    from vaedge.io.datasets import default_data

    return default_data(None, raw.get("export_config"), raw.get("train_config"))
