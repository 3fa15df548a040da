"""Progress on long steps: shown on a terminal (stderr, rich), never in pipes, never with --quiet; export's
and validate's default output is one line per file within 80 columns."""

from __future__ import annotations

import json

import pytest

from tests.cli.terminal import in_pipes, in_terminal, screen_lines, stderr_on_a_terminal
from tests.vaedge_command import command

SPINNER_DONE = "✓"


def test_validate_shows_progress_on_a_terminal_only(bundle):
    code, shown = in_terminal(command("validate", bundle), timeout=300)
    assert code == 0, shown
    assert "every graph against the stored reference" in shown and SPINNER_DONE in shown

    piped = in_pipes(command("validate", bundle), timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""  # no progress, no escape sequences
    assert SPINNER_DONE not in piped.stdout + piped.stderr and "\x1b[" not in piped.stdout

    code, quiet = in_terminal(command("validate", bundle, "--quiet"), timeout=300)
    assert code == 0 and SPINNER_DONE not in quiet


def test_validate_prints_one_line_per_file_and_the_table_with_verbose(bundle):
    short = in_pipes(command("validate", bundle.name), timeout=300, cwd=bundle.parent).stdout.splitlines()
    assert all(len(line) <= 80 for line in short), short
    assert any(line.startswith("decoder.onnx ") and line.rstrip().endswith("ok") for line in short)
    full = in_pipes(command("validate", bundle, "--verbose"), timeout=300).stdout
    assert "probe" in full and "latent grid" in full  # the full table's columns and rows
    assert len(full.splitlines()) > len(short)


def test_export_progress_on_a_terminal_names_its_stages(trained_run, fashion_mnist_dir, tmp_path):
    argv = command(
        "export", trained_run, "--out", "b", "--precision", "fp16", "--no-tflite", "--data", fashion_mnist_dir
    )
    code, shown = in_terminal(argv, timeout=900, cwd=tmp_path)
    assert code == 0, shown[-3000:]
    for stage in (
        "starting TensorFlow",
        "converting the encoder to ONNX",
        "optimising the decoder",
        "quantising the decoder",
        "validating every graph",
        "likelihood check",
    ):
        assert stage in shown, stage
    assert "b: bundle written and validated" in "\n".join(screen_lines(shown))


def test_export_default_output_fits_80_columns_without_progress(exported):
    """The shared bundle's export, run in pipes (tests/conftest.py): one line per file, none over 80 columns."""
    assert "starting TensorFlow" not in exported.output and "\x1b[" not in exported.output
    lines = exported.output.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert not any("…" in line for line in lines)  # no name cut by a table
    manifest = json.loads((exported.bundle / "vaedge.json").read_text())
    for entry in manifest["files"]:
        if entry["role"] in ("encoder", "decoder"):  # every file written has its own line, named in full
            assert any(line.startswith(entry["path"] + " ") for line in lines), entry["path"]
    for name in manifest["validation"]["skipped"]:  # and every variant not written says so
        assert any(line.startswith(name + " ") and "not written" in line for line in lines)
    if manifest["validation"]["skipped"]:
        assert any("--precision fp16" in line for line in lines)


def test_summary_names_the_gate_and_the_way_out_for_a_variant_not_written():
    from vaedge.cli.report import summary_lines
    from vaedge.runtime.parity import Check

    checks = [Check("decoder.onnx", "prior", "image", "max_abs", 2e-7, 1e-5, True)]
    skipped = {"decoder.int8.b64.tflite": "image [64 prior samples]: psnr_db 29.36 < gate 30"}
    lines = summary_lines(checks, {"decoder.onnx": 419426}, {"decoder.onnx": "fp32"}, skipped)
    assert lines[0].split() == ["decoder.onnx", "fp32", "410", "KiB", "diff", "2.0e-07", "<=", "1e-05", "ok"]
    assert "decoder.int8.b64.tflite" in lines[1] and "PSNR 29.4 dB < 30" in lines[1] and "not written" in lines[1]
    assert lines[2] == "not written (int8 under 30 dB PSNR): train more epochs, or --precision fp16"
    assert all(len(line) <= 80 for line in lines)


@pytest.fixture(scope="module")
def bench_piped(bundle, tmp_path_factory):
    """One `vaedge bench` with stdout piped (its report) and stderr a terminal (its progress)."""
    out = tmp_path_factory.mktemp("bench")
    files = ["--json", out / "b.json", "--plot", out / "b.png"]
    argv = command("bench", bundle, "--seconds", "0.02", "--cold-starts", "1", *files)
    code, stdout, shown = stderr_on_a_terminal(argv, timeout=900)
    assert code == 0, shown[-3000:]
    return stdout, shown, json.loads((out / "b.json").read_text())


def test_bench_without_keras_prints_no_nan_and_no_negative_memory(bench_piped):
    stdout, _, report = bench_piped
    assert "nan" not in stdout.lower() and "Keras script" not in stdout
    assert all(row["rss_delta_mb"] >= 0 for row in report["rows"])
    no_size = [r["name"] for r in report["rows"] if not r["size_bytes"] > 0]
    assert no_size == []
    assert "load average" in stdout and len(report["load_average"]) == 3
    before, after = report["sgemm_gflops_before_after"]
    assert report["sgemm_gflops"] == max(before, after) > 0


def test_bench_shows_progress_on_the_terminal_and_none_in_its_piped_report(bench_piped):
    stdout, shown, _ = bench_piped
    assert "GEMM rate" in shown and "timing onnxruntime fp32" in shown and "cold start" in shown
    assert "\x1b[" not in stdout and "GEMM rate" not in stdout and SPINNER_DONE not in stdout


def test_bench_plot_labels_are_whole(bench_piped):
    from PIL import Image, ImageDraw

    from vaedge.bench.report import chart_png

    _, _, report = bench_piped
    longest = max(report["rows"], key=lambda r: len(r["name"]))
    assert len(longest["name"]) > 40  # the chunked LiteRT row, cut at 40 characters before
    import io

    with Image.open(io.BytesIO(chart_png(report))) as chart:
        chart = chart.convert("L")
        width_needed = ImageDraw.Draw(Image.new("L", (1, 1))).textlength(longest["name"])
        row = report["rows"].index(longest)
        y = 30 + 10 * 2 + row * (26 + 10)
        band = chart.crop((10, y, 10 + int(width_needed) + 1, y + 26))
        dark_columns = [x for x in range(band.width) if min(band.crop((x, 0, x + 1, 26)).getdata()) < 128]
        assert dark_columns and dark_columns[-1] >= width_needed - 8  # the text's last letters are drawn


def test_progress_stays_off_a_piped_stdout_when_stderr_is_a_terminal(bundle):
    code, out, shown = stderr_on_a_terminal(command("validate", bundle.name), timeout=300, cwd=bundle.parent)
    assert code == 0
    assert SPINNER_DONE in shown  # the terminal saw the progress
    assert "\x1b[" not in out and SPINNER_DONE not in out  # the pipe got only the summary
    assert out.splitlines()[-1].endswith("every graph passes its gate")
