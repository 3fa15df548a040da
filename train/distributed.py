"""`vaedge train --strategy multiworker`: data-parallel training over TF_CONFIG's workers.

Route: TensorFlow's MultiWorkerMirroredStrategy with vaedge's own train step under `strategy.run`.
Keras 3's `fit` cannot run under that strategy: two workers on 127.0.0.1 both fail in the first
step with "Invalid reduction dimension 0 for input with 0 dimensions" (keras-team/keras#20585,
reproduced with Keras 3.15.1 / TensorFlow 2.21). JAX is not installed in the training extra.

Worker 0 is the chief: it alone writes the run directory. The chief's config (flags, or the run's
saved config on --resume) and its weights (fresh or from the last checkpoint) are broadcast to every
worker, so the workers cannot disagree. Each epoch all workers shuffle the training set with the
same seed and take an equal shard; gradients and metrics are summed over the cluster. Before each
validation every worker computes BatchNorm sums over its share of the calibration batches and the
sums are all-reduced, so the statistics equal one process's on the same images. The others write
their checkpoints to a scratch directory that is removed.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import tempfile
import time
from pathlib import Path

from vaedge.errors import ClusterError, TrainingError
from vaedge.train import lifecycle, run_dir, schedule
from vaedge.train.checkpoint import load_vae
from vaedge.train.cluster import Cluster, lost_message
from vaedge.train.collective import all_reduce_sum, broadcast_arrays, broadcast_json
from vaedge.train.config import TrainConfig

METRICS = ("loss", "reconstruction_loss", "kl_loss")


def rank(cluster: Cluster) -> int:
    """This task's place in the cluster (0: the chief), which picks its shard of the data."""
    return [task[:2] for task in cluster.tasks].index((cluster.job, cluster.index))


def train(
    config: TrainConfig | None,
    out: Path,
    cluster: Cluster,
    strategy,
    force: bool = False,
    resume: bool = False,
    verbose: int = 1,
) -> Path | None:
    """Train across the cluster; the chief returns its run directory, other workers None."""
    import keras
    import numpy as np
    import tensorflow as tf

    from vaedge.train.model import VAE

    out, start, data, refusal = Path(out), None, None, None
    if cluster.is_chief:  # every check of lifecycle's begin, before anything is shared
        try:
            start = lifecycle.begin(config, out, force, resume)
            data = lifecycle.load_data(start.config)
            lifecycle.check_resume(out, start.config, data.image_shape, resume)
        except ValueError as exc:  # typed errors: every worker stops with the chief's one line
            refusal = exc
    try:
        shared = broadcast_json(
            strategy,
            cluster,
            {
                "config": dataclasses.asdict(start.config) if start else None,
                "history": start.history if start else {},
                "refusal": str(refusal) if refusal else None,
            },
        )
    except tf.errors.OpError as exc:
        raise ClusterError(lost_message(cluster, "at start", exc)) from None
    if refusal is not None:
        raise refusal
    if shared["refusal"]:
        raise TrainingError(shared["refusal"])
    config, history = TrainConfig(**shared["config"]), shared["history"]
    checkpoint = start.checkpoint if start else None
    workers = len(cluster.tasks)
    if config.batch_size % workers:
        raise ClusterError(f"--batch-size {config.batch_size} does not split over {workers} workers")
    policy = lifecycle.seed_and_precision(config)
    data = data or lifecycle.load_data(config)
    used = {
        "policy": policy,
        "jit_compile": False,
        "workers": workers,
        "route": "MultiWorkerMirroredStrategy, vaedge's train step under strategy.run",
        "batchnorm": {
            **lifecycle.batchnorm_used(config, len(data.x_train)),
            **({"workers": "sums and counts all-reduced"} if config.bn_stats_images else {}),
        },
    }
    scratch, final = None, out
    if cluster.is_chief:
        if not resume:
            out = run_dir.claim_run_dir(out)
    else:
        out = scratch = Path(tempfile.mkdtemp(prefix=f"vaedge-worker{rank(cluster)}-"))
    try:
        info = None
        if cluster.is_chief:
            config.save(out)
            info = lifecycle.write_run_info(out, config, data.image_shape, used, resume)
        steps = schedule.steps_per_epoch(len(data.x_train) // workers, config.batch_size // workers)
        with strategy.scope():
            vae = VAE(tuple(data.image_shape), config.latent_dim, seed=config.seed, name="vae")
            vae.compile(
                optimizer=keras.optimizers.Adam(
                    schedule.learning_rate(config.lr_schedule, config.learning_rate, config.epochs, steps)
                )
            )
            vae.optimizer.build(vae.trainable_variables)
        if checkpoint:  # outside the scope: a plain model, read by the chief only
            saved = load_vae(checkpoint[1] / "vae.keras", data.image_shape, config.latent_dim)
            values = [np.asarray(v) for v in (*saved.variables, *saved.optimizer.variables)]
        else:
            values = [np.asarray(v) for v in (*vae.variables, *vae.optimizer.variables)]
        targets = [*vae.variables, *vae.optimizer.variables]
        if [tuple(v.shape) for v in targets] != [a.shape for a in values]:
            raise TrainingError(
                f"{checkpoint[1] if checkpoint else out}: its variables do not match the model {config}"
            )
        for variable, value in zip(targets, broadcast_arrays(strategy, cluster, values)):
            variable.assign(value.astype(variable.dtype))
        loop = _Loop(strategy, vae, cluster, config, data.image_shape)
        if verbose and cluster.is_chief:
            print(
                f"training on {len(data.x_train)} images {data.image_shape} from {data.source}, "
                f"{workers} workers x {config.batch_size // workers} images per step"
            )
        epoch = len(history.get("loss", []))
        while epoch < config.epochs and not schedule.should_stop(history, config.early_stop):
            started = time.perf_counter()
            bar = epoch_bar(loop.steps(len(data.x_train))) if verbose == 1 and cluster.is_chief else None
            logs = loop.epoch(data.x_train, epoch, bar)
            loop.recalibrate(data.x_train)
            logs.update({f"val_{k}": v for k, v in loop.evaluate(data.x_test).items()})
            epoch += 1
            # every worker saves its checkpoint: reads may be collective
            lifecycle.record_epoch(out, epoch, vae, history, logs)
            if verbose and cluster.is_chief:
                print(
                    f"epoch {epoch}/{config.epochs}: loss {logs['loss']:.2f}, val_loss {logs['val_loss']:.2f} "
                    f"({time.perf_counter() - started:.1f} s)"
                )
        if not cluster.is_chief:
            return None
        best = lifecycle.best_epoch(history)
        kept = keras.saving.load_model(run_dir.checkpoint_model(out, best))
        test = {k: history[f"val_{k}"][best - 1] for k in METRICS}
        last = {k: history[f"val_{k}"][-1] for k in METRICS}
        return lifecycle.finish(out, final, kept, config, history, test, last, info, len(data.x_test))
    except BaseException as exc:
        if cluster.is_chief:
            run_dir.discard_claim(out, final)
        if isinstance(exc, tf.errors.OpError):
            raise ClusterError(lost_message(cluster, "in training", exc)) from None
        raise
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


class _Loop:
    """The per-epoch train and evaluation steps, compiled once; per-image nats summed over workers."""

    def __init__(self, strategy, vae, cluster: Cluster, config: TrainConfig, image_shape):
        import tensorflow as tf

        self.strategy, self.vae, self.cluster, self.config = strategy, vae, cluster, config
        self.eps = None  # the held-out eps, made on the first evaluation
        self.local_batch = config.batch_size // len(cluster.tasks)
        spec = tf.TensorSpec((None, *image_shape), tf.float32)
        eps_spec = tf.TensorSpec((None, config.latent_dim), tf.float32)
        self.train_step = tf.function(self._train_step, input_signature=[spec])
        self.test_step = tf.function(self._test_step, input_signature=[spec, eps_spec])

    def _sums(self, image, training, eps=None):
        import tensorflow as tf

        from vaedge.train.model import kl_loss, reconstruction_loss

        reconstruction, z_mean, z_log_var = self.vae(image, training=training, eps=eps)
        reconstruction_nats, kl_nats = reconstruction_loss(image, reconstruction), kl_loss(z_mean, z_log_var)
        count = tf.cast(tf.shape(image)[0], tf.float32)
        return tf.reduce_sum(reconstruction_nats), tf.reduce_sum(kl_nats), count

    def _train_step(self, image):
        import tensorflow as tf

        def replica(image):
            context = tf.distribute.get_replica_context()
            with tf.GradientTape() as tape:
                reconstruction_sum, kl_sum, count = self._sums(image, training=True)
                total = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
                loss = (reconstruction_sum + kl_sum) / total  # the optimizer sums gradients over workers
            gradients = tape.gradient(loss, self.vae.trainable_variables)
            self.vae.optimizer.apply_gradients(zip(gradients, self.vae.trainable_variables))
            return tf.stack([reconstruction_sum, kl_sum, count])

        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(replica, args=(image,)), axis=None)

    def _test_step(self, image, eps):
        import tensorflow as tf

        sums = self.strategy.run(lambda image, eps: tf.stack(self._sums(image, False, eps)), args=(image, eps))
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, sums, axis=None)

    def steps(self, n_images: int) -> int:
        """Train steps in one epoch of `n_images` (every worker runs the same number)."""
        return math.ceil((n_images // len(self.cluster.tasks)) / self.local_batch)

    def epoch(self, images, epoch: int, bar=None) -> dict[str, float]:
        """One pass: the same seeded permutation on every worker, this worker's equal share of it.
        `bar`: a keras.utils.Progbar advanced after each step, with the running loss."""
        import numpy as np

        workers = len(self.cluster.tasks)
        order = np.random.default_rng([self.config.seed, epoch]).permutation(len(images))
        share = order[rank(self.cluster) :: workers][: len(images) // workers]
        return self._run(self.train_step, images, share, len(share), bar=bar)

    def evaluate(self, images) -> dict[str, float]:
        """Held-out figures with fixed eps (vaedge.eps): every test image once, over the workers."""
        import numpy as np

        from vaedge.eps import heldout_eps

        if self.eps is None or len(self.eps) != len(images):
            self.eps = heldout_eps(len(images), self.config.latent_dim, self.config.seed)
        share = np.arange(len(images))[rank(self.cluster) :: len(self.cluster.tasks)]
        return self._run(self.test_step, images, share, math.ceil(len(images) / len(self.cluster.tasks)), self.eps)

    def recalibrate(self, images) -> None:
        """Precise BatchNorm statistics: this worker's share of the calibration batches, sums all-reduced."""
        from vaedge.train import batchnorm

        if self.config.bn_stats_images:
            batchnorm.recalibrate(
                self.vae,
                images,
                self.config.bn_stats_images,
                self.config.batch_size,
                self.config.seed,
                share=(rank(self.cluster), len(self.cluster.tasks)),
                all_reduce=lambda arrays: all_reduce_sum(self.strategy, arrays),
            )

    def _run(self, step, images, share, longest: int, eps=None, bar=None) -> dict[str, float]:
        """Sum `step` over `share` in local batches; every worker runs the same number of steps (each is
        collective), set by the `longest` share: a shorter share ends in an empty step."""
        import numpy as np

        totals = np.zeros(3)
        for start in range(0, math.ceil(longest / self.local_batch) * self.local_batch, self.local_batch):
            index = np.sort(share[start : start + self.local_batch])
            args = (images[index],) if eps is None else (images[index], eps[index])
            totals += np.asarray(step(*args), dtype=np.float64)
            if bar is not None:
                bar.update(start // self.local_batch + 1, [("loss", (totals[0] + totals[1]) / max(totals[2], 1))])
        reconstruction, kl = totals[0] / totals[2], totals[1] / totals[2]
        return {"loss": reconstruction + kl, "reconstruction_loss": reconstruction, "kl_loss": kl}


def epoch_bar(steps: int):
    """Keras' own progress bar for the chief's epoch, on a terminal only (a log gets the epoch lines)."""
    import sys

    import keras

    return keras.utils.Progbar(steps, stateful_metrics=["loss"]) if sys.stdout.isatty() else None
