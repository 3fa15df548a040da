"""The one place that picks how a run trains: in this process (`vaedge.train.run`) or across
TF_CONFIG's workers (`vaedge.train.distributed`). Both go through `vaedge.train.lifecycle`.

This module imports no TensorFlow at the top: a multi-worker strategy must exist before anything
initialises TensorFlow, so the choice is made first.
"""

from __future__ import annotations

from pathlib import Path

from vaedge.train import cluster as cluster_
from vaedge.train.config import TrainConfig


def train(
    config: TrainConfig | None,
    out: Path,
    force: bool = False,
    resume: bool = False,
    verbose: int = 1,
    peer_timeout: float = cluster_.DEFAULT_PEER_TIMEOUT,
) -> Path | None:
    """Train (or, with `resume`, continue) the run in `out`; returns it, or None on a worker other than
    the chief. With `resume`, `config` is read from `out` (the chief's, on a cluster)."""
    out = Path(out)
    if cluster_.wanted(None if resume else config.strategy, out, resume):
        strategy, cluster = cluster_.start(peer_timeout)
        from vaedge.quiet import import_tensorflow

        import_tensorflow()
        from vaedge.train import distributed

        return distributed.train(None if resume else config, out, cluster, strategy, force, resume, verbose)
    from vaedge.quiet import import_tensorflow
    from vaedge.train import lifecycle

    start = lifecycle.begin(config, out, force, resume)  # a refused target or resume: before TensorFlow loads
    import_tensorflow()
    from vaedge.train import run

    return run.train(config, out, force=force, resume=resume, verbose=verbose, start=start)
