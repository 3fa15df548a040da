"""Precise BatchNorm and the held-out figure: what a run stores is what its weights give.

Population statistics are recomputed here with Keras' own training-mode BatchNorm (a probe model
that outputs every BatchNorm layer's input), independently of vaedge.train.batchnorm's walker.
"""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest

from vaedge.train import batchnorm
from vaedge.train.config import TrainConfig
from vaedge.train.data import load_dataset
from vaedge.train.run import heldout_pipeline
from vaedge.train.run_dir import checkpoint_model


def keras_population_statistics(vae, images: np.ndarray, config: TrainConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """(mean, variance) per BatchNorm layer of its inputs over the calibration batches, float64, through
    Keras' training-mode layers (which update the moving averages: the caller restores them)."""
    layers = batchnorm.batchnorm_layers(vae)
    n_encoder = sum(layer in vae.encoder.layers for layer in layers)
    encoder = keras.Model(vae.encoder.inputs, [layer.input for layer in layers[:n_encoder]] + vae.encoder.outputs)
    decoder = keras.Model(vae.decoder.inputs, [layer.input for layer in layers[n_encoder:]])
    batches = batchnorm.calibration_batches(len(images), config.bn_stats_images, config.batch_size, config.seed)
    inputs = [[] for _ in layers]
    for number, batch in enumerate(batches):
        *seen, z_mean, z_log_var = encoder([images[batch]], training=True)
        eps = batchnorm.batch_eps(config.seed, number, len(batch), config.latent_dim)
        seen += decoder([np.asarray(z_mean) + np.exp(0.5 * np.asarray(z_log_var)) * eps], training=True)
        for found, x in zip(inputs, seen):
            found.append(np.asarray(x, np.float64).reshape(-1, x.shape[-1]))
    return [(np.concatenate(x).mean(axis=0), np.concatenate(x).var(axis=0)) for x in inputs]


def stored_statistics(vae) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        (np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)) for layer in batchnorm.batchnorm_layers(vae)
    ]


def assert_population_statistics(vae, images, config):
    stored = stored_statistics(vae)
    assert len(stored) == 6
    recomputed = keras_population_statistics(vae, images, config)
    for layer, (mean, variance), (want_mean, want_variance) in zip(batchnorm.batchnorm_layers(vae), stored, recomputed):
        np.testing.assert_allclose(mean, want_mean, atol=1e-4, err_msg=layer.name)
        np.testing.assert_allclose(variance, want_variance, atol=1e-4, err_msg=layer.name)
        # not the initial values a lagging moving average keeps near: the layer was really recalibrated
        assert np.abs(want_mean).max() > 1e-3, layer.name


def test_kept_model_stores_population_statistics(trained_run):
    config = TrainConfig.load(trained_run)
    metrics = json.loads((trained_run / "metrics.json").read_text())
    images = load_dataset(config.data, None, config.channels, config.limit, config.seed).x_train
    from vaedge.train.lifecycle import read_run_info

    assert read_run_info(trained_run)["used"]["batchnorm"]["images"] == min(config.bn_stats_images, len(images)) > 0
    vae = keras.saving.load_model(checkpoint_model(trained_run, metrics["best_epoch"]))
    encoder = keras.saving.load_model(trained_run / "encoder.keras")
    decoder = keras.saving.load_model(trained_run / "decoder.keras")
    exported = [
        (np.asarray(layer.moving_mean), np.asarray(layer.moving_variance))
        for model in (encoder, decoder)
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    for (mean, variance), (kept_mean, kept_variance) in zip(exported, stored_statistics(vae)):
        assert np.array_equal(mean, kept_mean) and np.array_equal(variance, kept_variance)
    assert_population_statistics(vae, images, config)


def test_two_validations_of_one_model_give_one_number(trained_run):
    config = TrainConfig.load(trained_run)
    metrics = json.loads((trained_run / "metrics.json").read_text())
    data = load_dataset(config.data, None, config.channels, config.limit, config.seed)
    vae = keras.saving.load_model(checkpoint_model(trained_run, metrics["best_epoch"]))
    vae.compile(optimizer="adam")
    test = heldout_pipeline(data.x_test, config.batch_size, config.latent_dim, config.seed)
    first = vae.evaluate(test, verbose=0, return_dict=True)["loss"]
    second = vae.evaluate(test, verbose=0, return_dict=True)["loss"]
    assert first == pytest.approx(second, abs=1e-4)
    # and it is the figure the run reported for the kept epoch, and the one metrics.json keeps
    assert first == pytest.approx(metrics["history"]["val_loss"][metrics["best_epoch"] - 1], abs=1e-3)
    assert first == pytest.approx(metrics["test_neg_elbo"], abs=1e-3) and math.isfinite(first)
    assert metrics["test_images"] == len(data.x_test) and "default_rng([0, i])" in metrics["test_eps"]


def test_recalibration_is_repeatable_and_sums_split_over_workers(trained_run):
    """Two halves of the batches, summed, are the whole pass: what the cluster's all-reduce relies on."""
    config = TrainConfig.load(trained_run)
    images = load_dataset(config.data, None, config.channels, config.limit, config.seed).x_train
    vae = keras.saving.load_model(checkpoint_model(trained_run, 1))
    config.bn_stats_images = 640  # 5 batches: worker 0 takes 3, worker 1 takes 2
    used = batchnorm.recalibrate(vae, images, config.bn_stats_images, config.batch_size, config.seed)
    whole = stored_statistics(vae)
    halves = []
    for rank in (0, 1):
        batchnorm.recalibrate(
            vae,
            images,
            config.bn_stats_images,
            config.batch_size,
            config.seed,
            share=(rank, 2),
            all_reduce=lambda totals: halves.append(totals) or totals,
        )
    batchnorm.set_statistics(vae, [a + b for a, b in zip(*halves)])
    assert used == 640 and halves[0][0][2, 0] > halves[1][0][2, 0] > 0
    for (mean, variance), (want_mean, want_variance) in zip(stored_statistics(vae), whole):
        np.testing.assert_allclose(mean, want_mean, atol=1e-6)
        np.testing.assert_allclose(variance, want_variance, atol=1e-6)
    assert_population_statistics(vae, images, config)


def test_zero_images_keeps_the_moving_averages_and_says_so():
    from vaedge.errors import TrainingError
    from vaedge.train.lifecycle import batchnorm_used

    assert batchnorm_used(TrainConfig(bn_stats_images=0), 100) == {
        "statistics": "Keras moving averages (momentum 0.99)"
    }
    assert batchnorm_used(TrainConfig(bn_stats_images=4096), 1000)["images"] == 1000
    with pytest.raises(TrainingError, match="bn_stats_images must be >= 0"):
        TrainConfig(bn_stats_images=-1).validate()
