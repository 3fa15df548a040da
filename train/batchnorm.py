"""Precise BatchNorm: inference statistics that belong to the weights being kept.

Keras keeps each BatchNormalization layer's inference statistics as an exponential moving average
(momentum 0.99) over batches whose weights kept changing, so they lag the weights; the exported
graphs use them. Before a model is validated or kept, `recalibrate` replaces them with the
population statistics of one pass over training images with the weights frozen (Wu & Johnson,
"Rethinking 'Batch' in BatchNorm", 2021):

- the images go through encoder, sampling and decoder in batches of the training batch size, each
  BatchNorm layer normalising with its own batch's statistics as in a training step; nothing is
  updated during the pass (no moving averages, no seed generators);
- each layer's moving_mean and moving_variance become the mean and (biased) variance of its inputs
  over every image and position of the pass: mean = S1 / n, variance = S2 / n - mean², from the
  sums S1 of x and S2 of x² and the count n. With equal batches that is the average of per-batch
  means and the average of per-batch E[x²] minus the mean squared.

Sums and counts add, so workers that each take some of the batches and all-reduce their sums get
exactly what one process gets on the same batches. Everything here is `keras.ops`, so it runs under
the TensorFlow and JAX backends.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
from keras import ops

STREAM = 0xB4  # keeps the calibration's choice of images and eps apart from every other seeded draw
_compiled = weakref.WeakKeyDictionary()  # vae -> its compiled batch step


def batchnorm_layers(vae) -> list:
    """The VAE's BatchNormalization layers, encoder first, in pipeline order."""
    return [
        layer
        for model in (vae.encoder, vae.decoder)
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def calibration_batches(n_train: int, images: int, batch_size: int, seed: int) -> list[np.ndarray]:
    """Index batches (sorted within each) of `images` training images drawn without replacement by a
    seeded permutation; the last batch may be short."""
    chosen = np.random.default_rng([seed, STREAM]).permutation(n_train)[: min(images, n_train)]
    return [np.sort(chosen[i : i + batch_size]) for i in range(0, len(chosen), batch_size)]


def batch_eps(seed: int, batch: int, size: int, latent_dim: int) -> np.ndarray:
    """eps (size, D) float32 of calibration batch `batch`: fixed by the seed, so a pass is repeatable."""
    return np.random.default_rng([seed, STREAM, batch]).standard_normal((size, latent_dim)).astype(np.float32)


def population_sums(
    vae, images: np.ndarray, batches: list[np.ndarray], batch_numbers: list[int], seed: int
) -> list[np.ndarray]:
    """Per BatchNorm layer, float64 (3, C): the sums over `batches` of x and x² per channel and the
    count per channel (the same in every column). `images` (N, H, W, C) in [0, 1]; `batch_numbers`
    name each batch, which picks its eps."""
    totals = [np.zeros((3, int(layer.moving_mean.shape[0]))) for layer in batchnorm_layers(vae)]
    step = _compiled.get(vae)
    if step is None:
        step = _compiled[vae] = _compile(lambda image, eps: _step(vae, image, eps))
    for batch, number in zip(batches, batch_numbers):
        image = ops.convert_to_tensor(images[batch])
        eps = ops.convert_to_tensor(batch_eps(seed, number, len(batch), vae.latent_dim))
        for total, sums in zip(totals, step(image, eps)):
            total += np.asarray(ops.convert_to_numpy(sums), np.float64)
    return totals


def set_statistics(vae, totals: list[np.ndarray]) -> None:
    """moving_mean = S1 / n and moving_variance = S2 / n - mean² for every layer, from population_sums."""
    for layer, (s1, s2, n) in zip(batchnorm_layers(vae), totals):
        mean = s1 / n
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(np.maximum(s2 / n - mean**2, 0.0).astype(np.float32))


def recalibrate(vae, images: np.ndarray, count: int, batch_size: int, seed: int, share=(0, 1), all_reduce=None) -> int:
    """Set every BatchNorm layer's statistics from a pass over `count` of `images` (N, H, W, C); return
    how many images the pass used. Worker `share[0]` of `share[1]` takes every share[1]-th batch and
    `all_reduce(list of arrays) -> list of arrays` sums them over the workers."""
    batches = calibration_batches(len(images), count, batch_size, seed)
    rank, workers = share
    numbers = list(range(len(batches)))[rank::workers]
    totals = population_sums(vae, images, [batches[i] for i in numbers], numbers, seed)
    if all_reduce is not None:
        totals = [np.asarray(t, np.float64) for t in all_reduce(totals)]
    set_statistics(vae, totals)
    return sum(len(b) for b in batches)


def _compile(function):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(function, reduce_retracing=True)
    return function  # other backends run it eagerly


def _step(vae, image, eps) -> list:
    """One batch through the VAE in batch-statistics mode: [(3, C) sums] per BatchNorm layer."""
    sums = []
    z_mean, z_log_var = _forward(vae.encoder, image, sums)
    z = ops.cast(z_mean, "float32") + ops.exp(0.5 * ops.cast(z_log_var, "float32")) * eps
    _forward(vae.decoder, z, sums)
    return sums


def _forward(model, x, sums: list):
    """Run a functional model layer by layer; BatchNorm layers use their batch's statistics and append
    their input's per-channel sums to `sums`. Returns the model's outputs (one tensor or a list)."""
    values = {id(model.inputs[0]): x}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        inputs = values[id(layer.input)]
        if isinstance(layer, keras.layers.BatchNormalization):
            output = _batch_normalize(layer, inputs, sums)
        else:
            output = layer(inputs, training=False)
        values[id(layer.output)] = output
    outputs = [values[id(t)] for t in model.outputs]
    return outputs if len(outputs) > 1 else outputs[0]


def _batch_normalize(layer, x, sums: list):
    x32 = ops.cast(x, "float32")
    axis = layer.axis % len(x.shape)
    axes = [a for a in range(len(x.shape)) if a != axis]
    count = ops.cast(ops.size(x32) // ops.shape(x32)[axis], "float32")
    s1, s2 = ops.sum(x32, axis=axes), ops.sum(ops.square(x32), axis=axes)
    sums.append(ops.stack([s1, s2, ops.ones_like(s1) * count]))
    mean, variance = ops.moments(x32, axes=axes)
    normalized = ops.batch_normalization(
        x32, mean, variance, axis=axis, offset=layer.beta, scale=layer.gamma, epsilon=layer.epsilon
    )
    return ops.cast(normalized, x.dtype)
