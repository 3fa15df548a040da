"""The latent map's range: the rule export records in the manifest, the same span in `vaedge explain`,
`vaedge manifold` and `vaedge clusters`, `--range` over it, and a z beyond the map drawn as a triangle
at its edge with a note, never outside its panel. A synthetic encoder puts z_mean exactly where each
case needs it: z_mean = [REACH * mean pixel, 0], z_log_var = -2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.runtime.tiny_bundle import LATENT, SIDE, make_bundle
from vaedge import runtime
from vaedge.cli import app
from vaedge.errors import BundleError
from vaedge.explain import drawing
from vaedge.explain.figures import clusters_figure, explain_figure, map_figure
from vaedge.explain.held_out import FASHION_MNIST, HeldOut
from vaedge.export.latent_range import latent_map_section
from vaedge.runtime.manifest import MANIFEST, PRIOR_SPAN, build_manifest, parse_manifest

REACH = 40.0
RED = tuple(int(drawing.MEAN_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
runner = CliRunner()


def reach_encoder() -> bytes:
    """image (N, SIDE, SIDE, 1) -> z_mean = [REACH * mean pixel, 0], z_log_var = [-2, -2]."""
    from onnx import TensorProto, helper, numpy_helper

    pixels = SIDE * SIDE
    weight = np.zeros((pixels, LATENT), np.float32)
    weight[:, 0] = REACH / pixels
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["image", "flat"], ["x"]),
            helper.make_node("MatMul", ["x", "w"], ["z_mean"]),
            helper.make_node("MatMul", ["x", "zero"], ["nothing"]),
            helper.make_node("Add", ["nothing", "log_var"], ["z_log_var"]),
        ],
        "encoder",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", SIDE, SIDE, 1])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", LATENT]) for n in ("z_mean", "z_log_var")],
        [
            numpy_helper.from_array(weight, "w"),
            numpy_helper.from_array(np.zeros_like(weight), "zero"),
            numpy_helper.from_array(np.full(LATENT, -2.0, np.float32), "log_var"),
            numpy_helper.from_array(np.array([-1, pixels], np.int64), "flat"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def image_at(z: float) -> np.ndarray:
    """The (SIDE, SIDE, 1) image the reach encoder puts at z_mean = [z, 0]."""
    return np.full((SIDE, SIDE, 1), z / REACH, np.float32)


def with_section(bundle, section: dict):
    raw = json.loads((bundle / MANIFEST).read_text())
    raw = build_manifest(raw["image"]["shape"], raw["latent_dim"], raw["files"], latent_map=section)
    (bundle / MANIFEST).write_text(json.dumps(raw))
    return bundle


@pytest.fixture(scope="module")
def old_bundle(tmp_path_factory):
    """As exported before the range was recorded: no latent_map section."""
    return make_bundle(tmp_path_factory.mktemp("range") / "old", encoder_bytes=reach_encoder())


@pytest.fixture(scope="module")
def recorded_bundle(tmp_path_factory):
    """The section export writes for held-out z_mean reaching 3.5 in dim 0: span 4."""
    bundle = make_bundle(tmp_path_factory.mktemp("range") / "recorded", encoder_bytes=reach_encoder())
    z_mean = np.stack([np.linspace(-3.5, 3.5, 200), np.zeros(200)], axis=1)
    return with_section(bundle, latent_map_section(z_mean))


def test_the_rule_covers_the_99th_percentile_and_never_less_than_the_prior():
    rng = np.random.default_rng(0)
    wide = rng.normal(0, 2.5, (1000, 2))
    reach = np.quantile(np.abs(wide), 0.99, axis=0).max()
    section = latent_map_section(wide)
    assert section["span"] == np.ceil(reach) and section["dims"] == [0, 1] and section["images"] == 1000
    assert latent_map_section(rng.normal(0, 0.3, (500, 2)))["span"] == PRIOR_SPAN
    wide4 = np.zeros((400, 4))
    wide4[:, 3], wide4[:, 1], wide4[:, 0] = rng.normal(0, 3, 400), rng.normal(0, 2, 400), rng.normal(0, 9, 400) * 0.01
    assert latent_map_section(wide4)["dims"] == [3, 1]  # the dims the map shows, as map_dims picks them


def test_old_bundles_fall_back_to_the_prior_and_the_schema_checks_the_span(old_bundle, recorded_bundle):
    assert runtime.load(old_bundle).manifest.map_span == PRIOR_SPAN
    assert runtime.load(recorded_bundle).manifest.map_span == 4.0
    raw = json.loads((old_bundle / MANIFEST).read_text())
    for span in (0, -2, "6", True, 1e9):
        bad = build_manifest(raw["image"]["shape"], raw["latent_dim"], raw["files"], latent_map={"span": span})
        with pytest.raises(BundleError, match="latent_map.span"):
            parse_manifest(old_bundle, bad)


def red_pixels(picture, box):
    pixels = np.asarray(picture.crop(box).convert("RGB"))
    ys, xs = np.nonzero((pixels == RED).all(axis=-1))
    return xs + box[0], ys + box[1]


def test_z_mean_beyond_the_map_is_a_triangle_at_its_edge_with_a_note(old_bundle, recorded_bundle):
    generator = runtime.load(recorded_bundle)  # span 4
    inside, _ = explain_figure(generator, image_at(3.5), samples=4)
    beyond, post = explain_figure(generator, image_at(40.0), samples=4)
    np.testing.assert_allclose(post.z_mean, [40.0, 0.0], atol=1e-4)
    assert inside.span == beyond.span == 4.0 and not any(n.startswith("z_mean") for n in inside.notes)
    assert beyond.notes == [
        "z_mean lies beyond the map (|z| > 4): drawn as the red triangle at its edge",
        "4 of 4 sampled z lie beyond the map: drawn as triangles at its edge",
    ]
    left, top, right, bottom = box = beyond.panels["map"]
    xs, ys = red_pixels(inside.picture, box)  # a dot where z = 3.5 lies: 7/8 of the way across
    assert abs(xs.mean() - (left + (3.5 + 4) / 8 * (right - left))) <= 1 and abs(ys.mean() - (top + bottom) / 2) <= 1
    xs, ys = red_pixels(beyond.picture, box)  # z = 40: a triangle at the right edge, level with z[1] = 0
    assert xs.min() > right - 25 and xs.max() < right and abs(ys.mean() - (top + bottom) / 2) <= 1
    assert len(xs) > 40  # a filled marker, not a stray pixel
    # nothing spills out of the map (z just past its edge, or far): around it, the figures are the same pixels
    near, _ = explain_figure(generator, image_at(4.2), samples=4)
    around = (beyond.panels["heads"][2], 0, beyond.panels["decodes"][0], beyond.picture.size[1])
    a, b, c = (np.asarray(f.picture.crop(around)).copy() for f in (inside, beyond, near))
    for pixels in (a, b, c):
        pixels[top : bottom + 1, left - around[0] : right + 1 - around[0]] = 0
    assert (a == b).all() and (a == c).all()
    # an old bundle's map is the prior's [-3, 3]: 3.5 is beyond it
    old, _ = explain_figure(runtime.load(old_bundle), image_at(3.5), samples=4)
    assert old.span == PRIOR_SPAN and old.notes[0].startswith("z_mean lies beyond the map (|z| > 3)")


def test_cli_notes_and_range_override(recorded_bundle, tmp_path):
    from PIL import Image

    Image.fromarray(np.full((SIDE, SIDE), 255, np.uint8)).save(tmp_path / "white.png")  # z_mean = [40, 0]
    args = ["explain", str(recorded_bundle), str(tmp_path / "white.png"), "--polarity", "as-is", "--samples", "2"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "e.png")])
    assert result.exit_code == 0, result.output
    assert "note: z_mean lies beyond the map (|z| > 4)" in result.output
    wider = runner.invoke(app, [*args, "--range", "50", "--out", str(tmp_path / "w.png")])
    assert wider.exit_code == 0 and "note:" not in wider.output, wider.output
    manifold = runner.invoke(app, ["manifold", str(recorded_bundle), "--size", "4", "--out", str(tmp_path / "m.png")])
    assert manifold.exit_code == 0 and "over [-4, 4]^2" in manifold.output, manifold.output
    bad = runner.invoke(app, ["manifold", str(recorded_bundle), "--range", "0", "--out", str(tmp_path / "b.png")])
    assert bad.exit_code == 1 and bad.output.startswith("error: --range must be") and bad.output.count("\n") == 1
    assert not (tmp_path / "b.png").exists()


def test_the_far_warning_starts_where_held_out_images_end_not_at_the_prior():
    """A trained encoder spreads ordinary images past |z| = 4; the warning waits for the bundle's span."""
    from vaedge.explain.posterior import FAR, far_limit, posterior

    ordinary = posterior(np.array([5.0, 0.0]), np.zeros(2), 1, 0)
    assert far_limit(3) == FAR and ordinary.far_from_prior(3)  # a prior-sized map: 5 is far
    assert not ordinary.far_from_prior(6) and posterior(np.array([6.5, 0.0]), np.zeros(2), 1, 0).far_from_prior(6)


def test_cli_warns_far_only_past_the_bundles_span(recorded_bundle, tmp_path):
    from PIL import Image

    Image.fromarray(np.full((SIDE, SIDE), 255, np.uint8)).save(tmp_path / "white.png")  # z_mean = [40, 0]
    args = ["explain", str(recorded_bundle), str(tmp_path / "white.png"), "--polarity", "as-is", "--samples", "2"]
    near = runner.invoke(app, [*args, "--range", "50", "--out", str(tmp_path / "w.png")])
    assert near.exit_code == 0 and "warning" not in near.output, near.output
    far = runner.invoke(app, [*args, "--out", str(tmp_path / "f.png")])
    assert far.exit_code == 0 and "warning: z_mean lies beyond |z| = 4," in far.output, far.output


def test_manifold_clusters_and_explain_share_the_bundles_range(recorded_bundle):
    generator = runtime.load(recorded_bundle)
    z_mean = np.array([[1.0, 0.0], [-3.9, 0.0], [9.0, 0.0]], np.float32)
    held_out = HeldOut(np.zeros((3, SIDE, SIDE, 1), np.uint8), np.array([0, 1, 2]), FASHION_MNIST, "synthetic")
    figures = {
        "manifold": map_figure(generator, cells=4),
        "clusters": clusters_figure(generator, held_out, z_mean),
        "explain": explain_figure(generator, image_at(1.0))[0],
    }
    assert {name: f.span for name, f in figures.items()} == dict.fromkeys(figures, 4.0)
    assert figures["clusters"].notes == ["1 of 3 lie beyond the map (|z| > 4): triangles at its edge"]
    overridden = {
        "manifold": map_figure(generator, cells=4, span=9.5),
        "clusters": clusters_figure(generator, held_out, z_mean, span=9.5),
        "explain": explain_figure(generator, image_at(1.0), span=9.5)[0],
    }
    assert {f.span for f in overridden.values()} == {9.5} and overridden["clusters"].notes == []
