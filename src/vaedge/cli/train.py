"""`vaedge train`: train the VAE and write a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.errors import fail, reported
from vaedge.io.files import describe


@reported
def train(
    out: Path = typer.Option(..., "--out", help="Run directory to create (or continue with --resume)."),
    data: Optional[str] = typer.Option(None, help="mnist, fashion_mnist, an IDX folder, an .npz or an image folder. (default fashion_mnist)"),
    epochs: Optional[int] = typer.Option(None, help="Passes over the training data (default 10)."),
    latent_dim: Optional[int] = typer.Option(None, help="Size of z (default 2)."),
    batch_size: Optional[int] = typer.Option(None, help="Images per step (default 128)."),
    learning_rate: Optional[float] = typer.Option(None, help="Adam learning rate at the start of the schedule. (default 0.002)"),
    seed: Optional[int] = typer.Option(None, help="Seeds weights, shuffling, eps and samples (default 0)."),
    limit: Optional[int] = typer.Option(None, help="Use only the first N training images."),
    image_size: Optional[tuple[int, int]] = typer.Option(None, help="Resize images to H W (multiples of 4)."),
    channels: Optional[int] = typer.Option(None, help="1 (grayscale) or 3 (RGB)."),
    mixed_precision: Optional[bool] = typer.Option(None, "--mixed-precision", help="bfloat16 compute on CPUs, float16 on GPUs; loss in float32."),
    strategy: Optional[str] = typer.Option(None, help="default, mirrored (local GPUs) or multiworker (TF_CONFIG)."),
    jit_compile: Optional[bool] = typer.Option(None, "--jit-compile/--no-jit-compile", help="XLA-compile the train step (default: Keras decides)."),
    lr_schedule: Optional[str] = typer.Option(None, help="cosine (decay to 0 over the epochs) or constant. (default cosine)"),
    early_stop: Optional[int] = typer.Option(None, help="Stop after N epochs without a better held-out loss."),
    force: bool = typer.Option(False, help="Replace an existing run directory."),
    resume: bool = typer.Option(False, help="Continue the run in --out from its last checkpoint and saved config."),
    quiet: bool = typer.Option(False, help="No progress bar."),
    peer_timeout: float = typer.Option(120.0, help="multiworker: seconds to wait for every worker to come up."),
) -> None:
    """Train the VAE; writes encoder.keras, decoder.keras, train_config.json, metrics.json, samples.png."""
    given = {
        "data": data, "epochs": epochs, "latent_dim": latent_dim, "batch_size": batch_size,
        "learning_rate": learning_rate, "seed": seed, "limit": limit,
        "image_size": list(image_size) if image_size else None, "channels": channels,
        "mixed_precision": mixed_precision, "strategy": strategy, "jit_compile": jit_compile,
        "lr_schedule": lr_schedule, "early_stop": early_stop,
    }
    given = {k: v for k, v in given.items() if v is not None}
    from vaedge.train.cluster import wanted

    multiworker = wanted(given.get("strategy"), out, resume)
    if resume and multiworker:  # a worker without the run resumes with the chief's config
        given.pop("strategy", None)
    if resume and given:
        raise fail(f"--resume continues with {out}/train_config.json; drop {', '.join('--' + k.replace('_', '-') for k in given)}")
    if resume and force:
        raise fail("--resume and --force contradict each other")

    from vaedge.quiet import import_tensorflow

    if multiworker:  # the strategy must exist before anything else initialises TensorFlow
        from vaedge.train import cluster as cluster_, distributed

        strategy_, cluster = cluster_.start(peer_timeout)
    import_tensorflow()
    from vaedge.train.config import TrainConfig
    from vaedge.train.run import train as run_training

    config = TrainConfig(**given)
    if multiworker:
        run_dir = distributed.train(None if resume else config, out, cluster, strategy_, force=force, resume=resume,
                                    verbose=0 if quiet else 1)
        if run_dir is None:
            typer.echo(describe(f"{cluster.name}: done; {cluster.chief} wrote the run"))
            return
    else:
        run_dir = run_training(config, out, force=force, resume=resume, verbose=0 if quiet else 1)
    import json

    metrics = json.loads((run_dir / "metrics.json").read_text())
    typer.echo(
        f"{describe(run_dir)}: {metrics['epochs']} epochs, test negative ELBO {metrics['test_neg_elbo']:.2f} nats "
        f"(reconstruction {metrics['test_reconstruction']:.2f} + KL {metrics['test_kl']:.2f}), kept epoch "
        f"{metrics['best_epoch']} (last epoch {metrics['last_epoch_test_neg_elbo']:.2f})"
    )
