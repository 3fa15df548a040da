"""Files and arguments from strangers: hangs, bombs, swapped files, forged manifests, escapes, Ctrl-C."""

from __future__ import annotations

import gzip
import io
import os
import resource
import shutil
import signal
import subprocess
import sys
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.runtime.edit_bundle import assert_refused, copy_of, edit_manifest, entry
from tests.vaedge_command import vaedge
from vaedge import runtime
from vaedge.cli import app
from vaedge.errors import BundleError, DataError, InputError, OutputError
from vaedge.io import atomic
from vaedge.io.idx import IMAGES_MAGIC, read_idx
from vaedge.io.images import decode_image, read_images

runner = CliRunner()
pytestmark = pytest.mark.reliability


# ------------------------------------------------------------------ non-regular files, hangs
@pytest.mark.parametrize("where", ["decoder.onnx", "vaedge.json"])
def test_fifo_in_a_bundle_is_refused_without_hanging(bundle, tmp_path, where, reliability):
    target = copy_of(bundle, tmp_path)
    (target / where).unlink()
    os.mkfifo(target / where)
    result = vaedge("generate", target, "--n", 2, "--out", tmp_path / "x.png", timeout=30)
    assert result.returncode == 1 and "not a regular file (a FIFO)" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "x.png").exists()
    reliability("hang: FIFO as a bundle file or manifest", "refused at once (timeout 30 s), one line")


@pytest.mark.parametrize("suffix", [".png", ".npz", "-idx3-ubyte"])
def test_fifo_and_devices_as_inputs_are_refused(bundle, tmp_path, suffix, reliability):
    fifo = tmp_path / f"in{suffix}"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_images([fifo], (28, 28, 1))
    with pytest.raises(DataError, match="not a regular file"):
        read_idx(Path("/dev/zero"), IMAGES_MAGIC)
    reliability("hang: FIFO or /dev/zero as an image, IDX or npz input", "refused at once, typed error")


def test_out_naming_a_device_or_directory_is_refused(bundle, tmp_path, reliability):
    for target in (Path("/dev/null"), tmp_path):
        result = vaedge("generate", bundle, "--n", 2, "--out", target, timeout=60)
        assert result.returncode == 1 and "vaedge only replaces regular files" in result.stderr, result.stderr
    assert Path("/dev/null").is_char_device()
    with pytest.raises(OutputError):
        atomic.write_bytes(Path("/dev/null"), b"x")
    reliability("data loss: --out naming a device node or directory", "refused, the node untouched")


# ------------------------------------------------------------------ bombs, under a memory limit
BOMB = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))
from vaedge.io.images import read_images
from vaedge.errors import VaedgeError
for limit in (None, 1):
    try:
        print("READ", len(read_images([sys.argv[1]], (28, 28, 1), limit=limit)[0]))
    except VaedgeError as exc:
        print("REFUSED", exc)
"""


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header (IHDR) that declares width x height pixels, with no pixel data."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IEND", b"")
    )


def npz_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x_test.npy", "w", force_zip64=True) as member:
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                header, {"descr": "|u1", "fortran_order": False, "shape": (3_000_000, 28, 28)}
            )
            member.write(header.getvalue())
            zeros = bytes(1 << 20)
            for _ in range(2300):  # 2.3 GiB of zeros, a few MB compressed
                member.write(zeros)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["png 10^10 pixels", "gzip IDX 1 GiB", "IDX header overflow", "npz 2.3 GiB"])
def test_decompression_bombs_are_refused_within_a_memory_limit(tmp_path, kind, reliability):
    if kind.startswith("png"):
        path = tmp_path / "bomb.png"
        path.write_bytes(png_claiming(100_000, 100_000))
    elif kind.startswith("gzip"):
        path = tmp_path / "t10k-images-idx3-ubyte.gz"
        with gzip.open(path, "wb", compresslevel=9) as f:
            f.write(IMAGES_MAGIC.to_bytes(4, "big") + (1_400_000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2)
            for _ in range(1024):
                f.write(bytes(1 << 20))
    elif kind.startswith("IDX"):
        path = tmp_path / "t10k-images-idx3-ubyte"
        path.write_bytes(IMAGES_MAGIC.to_bytes(4, "big") + (0xFFFFFFFF).to_bytes(4, "big") * 3 + bytes(100))
    else:
        path = tmp_path / "bomb.npz"
        path.write_bytes(npz_bomb())
    assert path.stat().st_size < 8 << 20
    result = subprocess.run([sys.executable, "-c", BOMB, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    unlimited, limited = result.stdout.splitlines()
    assert unlimited.startswith("REFUSED"), result.stdout  # the whole file would not fit its budget
    assert limited.startswith("REFUSED" if kind.startswith(("png", "IDX")) else "READ 1"), result.stdout
    reliability(f"bomb: {kind} (1.5 GiB address-space limit)", "refused or read only what --limit asks, no crash")


# ------------------------------------------------------------------ integrity
def test_a_file_swapped_after_the_hash_check_is_not_what_runs(bundle, tmp_path, monkeypatch, reliability):
    """Time of check vs time of use: the engine loads the bytes that were hashed, not the path again."""
    import vaedge.runtime.manifest as manifest_module

    target = copy_of(bundle, tmp_path)
    expected = runtime.load(bundle).decode(np.zeros((1, 2), np.float32))
    real_read = manifest_module.read_regular

    def read_then_swap(path, *args, **kwargs):
        data = real_read(path, *args, **kwargs)
        if Path(path).name == "decoder.onnx":  # the attacker swaps the file right after it was read
            Path(path).write_bytes((target / "decoder.fp16.onnx").read_bytes())
        return data

    monkeypatch.setattr(manifest_module, "read_regular", read_then_swap)
    generator = runtime.load(target)
    np.testing.assert_array_equal(generator.decode(np.zeros((1, 2), np.float32)), expected)
    monkeypatch.undo()
    with pytest.raises(BundleError, match="decoder.onnx: size"):
        runtime.load(target)  # and the swapped file is refused from then on
    reliability(
        "integrity: model file swapped between hash check and load (TOCTOU)",
        "the hashed bytes run; swap refused next load",
    )


FORGED = {
    "manifest symlinked out": (
        lambda b: (
            shutil.copy(b / "vaedge.json", b.parent / "m.json"),
            (b / "vaedge.json").unlink(),
            os.symlink(b.parent / "m.json", b / "vaedge.json"),
        ),
        "vaedge.json: is a symlink",
    ),
    "file listed twice": (
        lambda b: edit_manifest(b, lambda m: m["files"].append({**entry(m, "decoder.onnx"), "path": "./decoder.onnx"})),
        "is not a plain file name",
    ),
    "bool for an int": (lambda b: edit_manifest(b, lambda m: m.update(latent_dim=True)), "latent_dim must be an int"),
    "string size": (
        lambda b: edit_manifest(b, lambda m: entry(m, "decoder.onnx").update(size="12")),
        "size must be an int",
    ),
    "absurd size": (
        lambda b: edit_manifest(b, lambda m: entry(m, "decoder.onnx").update(size=10**15)),
        "size must be an int",
    ),
    "latent dim disagrees": (
        lambda b: edit_manifest(b, lambda m: m.update(latent_dim=3)),
        r'shape \["N", 2\], expected \[N or a batch, 3\]',
    ),
    "tensor renamed": (
        lambda b: edit_manifest(b, lambda m: entry(m, "decoder.onnx")["inputs"][0].update(name="mu")),
        "names",
    ),
    "image shape disagrees": (lambda b: edit_manifest(b, lambda m: m["image"].update(shape=[32, 32, 1])), "expected"),
    "huge image": (
        lambda b: edit_manifest(b, lambda m: m["image"].update(shape=[10**6, 10**6, 1])),
        "image.shape must be",
    ),
    "escape in a name": (
        lambda b: edit_manifest(b, lambda m: entry(m, "decoder.onnx").update(path="\x1b[2Jx.onnx")),
        r"\\x1b",
    ),
}


@pytest.mark.parametrize("forgery", list(FORGED))
def test_forged_manifests_are_refused_before_any_work(bundle, tmp_path, forgery, reliability):
    forge, message = FORGED[forgery]
    target = copy_of(bundle, tmp_path)
    forge(target)
    assert_refused(target, message, tmp_path)
    result = runner.invoke(app, ["info", str(target)])
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "\x1b" not in result.output, result.output
    reliability(f"forged manifest (re-sealed): {forgery}", "BundleError before any engine runs; CLI one line")


def test_graph_disagreeing_with_its_manifest_is_refused(bundle, tmp_path, reliability):
    """A manifest that says fp16 graph shapes are something else: the real signature is checked."""
    target = copy_of(bundle, tmp_path)
    # the decoder's every form: onnxruntime runs decoder.ort where the bundle has one, the others decoder.onnx
    forms = [suffix for suffix in (".onnx", ".ort") if (target / f"decoder{suffix}").exists()]
    for suffix in forms:
        (target / f"decoder{suffix}").write_bytes((target / f"encoder{suffix}").read_bytes())

    def relabel(m):
        for suffix in forms:
            e, d = entry(m, f"encoder{suffix}"), entry(m, f"decoder{suffix}")
            d.update(sha256=e["sha256"], size=e["size"])

    edit_manifest(target, relabel)
    with pytest.raises(BundleError, match="does not match the manifest"):
        runtime.load(target)
    with pytest.raises(BundleError, match="does not match the manifest"):
        runtime.load(target, backend="onnx")
    reliability("integrity: graph whose real tensors differ from the manifest", "BundleError naming both")


def test_control_flow_graph_is_refused(tmp_path, reliability):
    """A decoder holding a Loop (here one that would run 2^62 times) never reaches onnxruntime."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from tests.runtime.forged_graphs import reseal
    from tests.runtime.tiny_bundle import make_bundle

    root = make_bundle(tmp_path / "loop")
    body = helper.make_graph(
        [helper.make_node("Identity", ["z_in"], ["z_out"]), helper.make_node("Identity", ["cond"], ["cond_out"])],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("z_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("z_out", TensorProto.FLOAT, None),
        ],
    )
    graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["n"], value=helper.make_tensor("n", TensorProto.INT64, [], [2**62])),
            helper.make_node("Constant", [], ["t"], value=helper.make_tensor("t", TensorProto.BOOL, [], [True])),
            helper.make_node("Loop", ["n", "t", "z"], ["looped"], body=body),
            helper.make_node("Reshape", ["looped", "shape"], ["image"]),
        ],
        "decoder",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 4, 4, 1])],
        [helper.make_tensor("shape", TensorProto.INT64, [4], [-1, 4, 4, 1])],
    )
    (root / "decoder.onnx").write_bytes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    )
    reseal(root, (4, 4, 1), 2)
    result = vaedge("generate", root, "--n", 1, "--out", tmp_path / "x.png", timeout=30)
    assert result.returncode == 1 and "Loop" in result.stderr and "never needs" in result.stderr, result.stderr
    reliability("hang: a decoder holding a Loop that never ends", "refused before onnxruntime sees it")


# ------------------------------------------------------------------ counts and API arguments
@pytest.mark.parametrize(
    "call, message",
    [
        (lambda g: g.interpolate(np.zeros(2), np.ones(2), steps=10**12), "more than half"),
        (lambda g: g.encode(np.broadcast_to(np.float32(0), (10**9, 28, 28, 1))), "more than half"),
        (lambda g: g.sample(2, temperature=Fraction(10**400, 3)), "temperature must be a finite number"),
        (lambda g: g.sample(2, temperature=10**400), "temperature must be a finite number"),
        (lambda g: g.decode([[1.0, 2.0], [3.0]]), "not an array|real numbers"),
        (lambda g: g.decode(None), "must be an array of numbers"),
        (lambda g: g.encode(b"\x00" * 784), "must be an array of numbers"),
    ],
)
def test_hostile_api_arguments_are_typed_errors(bundle, call, message, reliability):
    with pytest.raises(InputError, match=message):
        call(runtime.load(bundle))
    reliability("bad input: counts and argument types that reach allocation", "InputError before allocating")


@pytest.mark.parametrize("path", [None, b"/tmp", 3])
def test_bundle_paths_of_the_wrong_type(path, reliability):
    with pytest.raises(InputError, match="bundle must be a path"):
        runtime.load(path)
    reliability("bad input: None, bytes or int as a bundle path", "InputError")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--columns", "-1"], "--columns must be positive"),
        (["--threads", "1000000"], "threads must be at most"),
    ],
)
def test_cli_counts_are_bounded(bundle, tmp_path, args, message, reliability):
    result = runner.invoke(app, ["generate", str(bundle), "--n", "4", "--out", str(tmp_path / "x.png"), *args])
    assert result.exit_code == 1 and message in result.output and not (tmp_path / "x.png").exists(), result.output
    reliability("bad input: --columns, --threads out of range", "one line, nothing written")


# ------------------------------------------------------------------ names are data
def test_names_with_newlines_escapes_and_markup_stay_data(bundle, tmp_path, reliability):
    bad = tmp_path / "a\nb\x1b[31m.png"
    result = vaedge("encode", bundle, bad, timeout=60)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "\x1b" not in result.stderr
    assert "\\n" in result.stderr and "\\x1b" in result.stderr
    marked = tmp_path / "[red]x.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(marked)
    result = vaedge("encode", bundle, marked, timeout=60)
    assert result.returncode == 0 and "[red]x.png" in result.stdout, result.stdout + result.stderr
    reliability(
        "names as data: newline, ANSI escape, rich markup in a file name", "escaped, one line, printed verbatim"
    )


# ------------------------------------------------------------------ Ctrl-C from the first line
@pytest.mark.parametrize("delay", [0.05, 0.15, 0.3])
def test_ctrl_c_at_start_is_one_line_and_exit_130(bundle, tmp_path, delay, reliability):
    import time

    # Python's own start-up (site imports) comes before any code of ours: the child says when it is
    # about to import the entry point, and the signal lands inside the commands' imports after it.
    start = (
        "import sys; sys.stderr.write('starting\\n'); sys.stderr.flush(); sys.argv = ['vaedge'] + sys.argv[1:]; "
        "from vaedge.entry import main; main()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", start, "generate", str(bundle), "--n", "100000", "--out", str(tmp_path / "x.png")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr.readline() == "starting\n"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:  # finished before the signal arrived on a fast machine
        pytest.skip("the command finished before Ctrl-C")
    assert proc.returncode == 130 and err == "error: interrupted\n", (proc.returncode, err[-2000:])
    reliability("Ctrl-C in the first fraction of a second", "one line, exit 130")


# ------------------------------------------------------------------ every image mode Pillow opens
IMAGE_MODES = {
    "1": (lambda p: Image.new("1", (28, 28), 1).save(p), ".png", 255),
    "L": (lambda p: Image.new("L", (28, 28), 77).save(p), ".png", 77),
    "I;16": (lambda p: Image.fromarray(np.full((28, 28), 32896, np.uint16)).save(p), ".png", 128),
    "P with transparency": (lambda p: _palette_png(p), ".png", 0),
    "RGBA half transparent": (lambda p: Image.new("RGBA", (28, 28), (200, 200, 200, 128)).save(p), ".png", 100),
    "CMYK JPEG": (lambda p: Image.new("CMYK", (28, 28), (0, 0, 0, 0)).save(p, quality=95), ".jpg", 255),
    "animated GIF": (
        lambda p: Image.new("L", (28, 28), 90).save(p, save_all=True, append_images=[Image.new("L", (28, 28), 10)]),
        ".gif",
        90,
    ),
    "APNG": (
        lambda p: Image.new("L", (28, 28), 60).save(p, save_all=True, append_images=[Image.new("L", (28, 28), 200)]),
        ".png",
        60,
    ),
}


def _palette_png(path):
    image = Image.new("P", (28, 28), 1)
    image.putpalette([255, 255, 255, 255, 255, 255] + [0] * 762)
    image.info["transparency"] = 1
    image.save(path, transparency=1)


@pytest.mark.parametrize("mode", list(IMAGE_MODES))
def test_every_image_mode_becomes_what_the_docs_say(tmp_path, mode, reliability):
    make, suffix, expected = IMAGE_MODES[mode]
    path = tmp_path / f"x{suffix}"
    make(path)
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "default",
            "-c",
            "import sys; from vaedge.io.images import decode_image; print(int(decode_image(sys.argv[1], 1).mean()))",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert abs(int(result.stdout) - expected) <= 2, (mode, result.stdout)
    assert decode_image(path, 3).shape == (28, 28, 3)
    reliability(f"image mode: {mode}", "documented 8-bit value, no warning on stderr")


def test_memory_limit_helper_is_real():
    """The bomb tests' limit is enforced: allocating past it fails in the child."""
    code = (
        "import resource, numpy as np; resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))\n"
        "try:\n    np.ones(2 << 30, np.uint8)\nexcept MemoryError:\n    print('LIMITED')"
    )
    assert "LIMITED" in subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert resource.RLIMIT_AS
