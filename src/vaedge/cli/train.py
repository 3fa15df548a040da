"""`vaedge train`: train the VAE and write a run directory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.errors import fail, reported
from vaedge.io.files import describe
from vaedge.train.config import TrainConfig

DEFAULTS = TrainConfig()  # the help shows the dataclass's defaults; options left out take them


@reported
def train(
    out: Path = typer.Option(..., "--out", help="Run directory to create (or continue with --resume)."),
    data: Optional[str] = typer.Option(
        None, help=f"mnist, fashion_mnist, an IDX folder, an .npz or an image folder (default {DEFAULTS.data})."
    ),
    epochs: Optional[int] = typer.Option(None, help=f"Passes over the training data (default {DEFAULTS.epochs})."),
    latent_dim: Optional[int] = typer.Option(None, help=f"Size of z (default {DEFAULTS.latent_dim})."),
    batch_size: Optional[int] = typer.Option(None, help=f"Images per step (default {DEFAULTS.batch_size})."),
    learning_rate: Optional[float] = typer.Option(
        None, help=f"Adam learning rate at the start of the schedule (default {DEFAULTS.learning_rate:g})."
    ),
    seed: Optional[int] = typer.Option(
        None, help=f"Seeds weights, shuffling, eps and samples (default {DEFAULTS.seed})."
    ),
    limit: Optional[int] = typer.Option(None, help="Use only the first N training images."),
    image_size: Optional[tuple[int, int]] = typer.Option(None, help="Resize images to H W (multiples of 4)."),
    channels: Optional[int] = typer.Option(None, help="1 (grayscale) or 3 (RGB)."),
    mixed_precision: Optional[bool] = typer.Option(
        None, "--mixed-precision", help="bfloat16 compute on CPUs, float16 on GPUs; loss in float32."
    ),
    strategy: Optional[str] = typer.Option(
        None, help=f"default, mirrored (local GPUs) or multiworker (TF_CONFIG) (default {DEFAULTS.strategy})."
    ),
    jit_compile: Optional[bool] = typer.Option(
        None, "--jit-compile/--no-jit-compile", help="XLA-compile the train step (default: Keras decides)."
    ),
    lr_schedule: Optional[str] = typer.Option(
        None, help=f"cosine (decay to 0 over the epochs) or constant (default {DEFAULTS.lr_schedule})."
    ),
    early_stop: Optional[int] = typer.Option(None, help="Stop after N epochs without a better held-out loss."),
    force: bool = typer.Option(False, help="Replace an existing run directory."),
    resume: bool = typer.Option(False, help="Continue the run in --out from its last checkpoint and saved config."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    peer_timeout: float = typer.Option(120.0, help="multiworker: seconds to wait for every worker to come up."),
) -> None:
    """Train the VAE; writes encoder.keras, decoder.keras, train_config.json, metrics.json, samples.png."""
    given = {
        "data": data,
        "epochs": epochs,
        "latent_dim": latent_dim,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "limit": limit,
        "image_size": list(image_size) if image_size else None,
        "channels": channels,
        "mixed_precision": mixed_precision,
        "strategy": strategy,
        "jit_compile": jit_compile,
        "lr_schedule": lr_schedule,
        "early_stop": early_stop,
    }
    given = {k: v for k, v in given.items() if v is not None}
    from vaedge.train.cluster import wanted

    multiworker = wanted(given.get("strategy"), out, resume)
    if resume and multiworker:  # a worker without the run resumes with the chief's config
        given.pop("strategy", None)
    if resume and given:
        raise fail(
            f"--resume continues with {out}/train_config.json; "
            f"drop {', '.join('--' + k.replace('_', '-') for k in given)}"
        )
    if resume and force:
        raise fail("--resume and --force contradict each other")

    from vaedge.io.datasets import check_data_path
    from vaedge.train.launch import train as launch

    check_data_path(data)  # a wrong path is reported now, not after TensorFlow's import
    config = TrainConfig(**given)
    # Keras' bar on a terminal; a line per epoch in a log or pipe (Keras would redraw its bar there too)
    verbose = 0 if quiet else 1 if sys.stdout.isatty() else 2
    try:  # a failed or interrupted run removes its own hidden sibling (vaedge.train.run_dir.discard_claim)
        run_dir = launch(config, out, force=force, resume=resume, verbose=verbose, peer_timeout=peer_timeout)
    except BaseException:
        _end_progress_line(quiet)
        raise
    if run_dir is None:  # a worker other than the chief
        from vaedge.train.cluster import start

        _, cluster = start()
        typer.echo(describe(f"{cluster.name}: done; {cluster.chief} wrote the run"))
        return
    import json

    metrics = json.loads((run_dir / "metrics.json").read_text())
    typer.echo(finished_line(run_dir, metrics))


def _end_progress_line(quiet: bool) -> None:
    """Keras' progress bar redraws one line without ending it: end it, so an error starts on a fresh line."""
    if not quiet and sys.stdout.isatty():
        sys.stdout.write("\n")
        sys.stdout.flush()


def finished_line(run_dir: Path, metrics: dict) -> str:
    """The line `vaedge train` ends with: epochs run (singular for one), held-out figures, the epoch kept."""
    epochs = metrics["epochs"]
    return (
        f"{describe(run_dir)}: {epochs} epoch{'' if epochs == 1 else 's'}, test negative ELBO "
        f"{metrics['test_neg_elbo']:.2f} nats (reconstruction {metrics['test_reconstruction']:.2f} + KL "
        f"{metrics['test_kl']:.2f}), kept epoch {metrics['best_epoch']} (last epoch "
        f"{metrics['last_epoch_test_neg_elbo']:.2f})"
    )
