"""A plain `vaedge generate` runs without typer, rich or pydantic (vaedge.entry's fast path), and says
exactly what the typer command says: the same image, the same line, the same help and errors.
Tiny real bundles (tests/runtime/tiny_bundle.py) on the onnx backend: no training, no engine timing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli.terminal import environment
from vaedge.cli.generate_grid import OPTIONS, plain_request

pytest.importorskip("onnx")

PROBE = """
import gc, os, sys
sys.argv = ["vaedge", *sys.argv[1:]]
heavy = {"typer", "click", "rich", "pydantic", "pydantic_core", "shellingham", "tensorflow", "keras", "tf2onnx"}
end = os._exit
def report(code):  # the fast path ends here, skipping interpreter teardown
    print("IMPORTED", sorted(m for m in sys.modules if m.split(".")[0] in heavy), "GC", gc.isenabled(), "EXIT", code)
    sys.stdout.flush()
    end(code)
os._exit = report
from vaedge.entry import main
main()
print("RETURNED")
"""
TYPER_ONLY = "import sys; sys.argv[0] = 'vaedge'; from vaedge.cli import main; main()"


def vaedge(*args) -> list[str]:
    """`vaedge ARGS` through the console script's entry point (vaedge.entry), fast path included."""
    return [sys.executable, "-m", "vaedge", *map(str, args)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tests.runtime.tiny_bundle import make_bundle

    return make_bundle(tmp_path_factory.mktemp("tiny") / "b")


def run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment(100))


def test_a_plain_generate_imports_no_cli_framework_nor_tensorflow(tiny, tmp_path):
    args = ["generate", str(tiny), "--n", "6", "--seed", "0", "--out", str(tmp_path / "g.png"), "--backend=onnx"]
    result = run([sys.executable, "-c", PROBE, *args])
    assert result.returncode == 0, result.stderr
    assert f"{tmp_path / 'g.png'}: 6 images (CPUExecutionProvider, fp32)" in result.stdout
    assert "IMPORTED [] GC False EXIT 0" in result.stdout and "RETURNED" not in result.stdout, result.stdout


def test_the_fast_path_writes_what_the_typer_command_writes(tiny, tmp_path):
    common = ["--n", "5", "--seed", "3", "--columns", "2", "--temperature", "0.5", "--backend", "onnx"]
    fast = run(vaedge("generate", tiny, "--out", tmp_path / "one.png", "--npy", tmp_path / "one.npz", *common))
    slow = run(
        [sys.executable, "-c", TYPER_ONLY, "generate", str(tiny), "--out", str(tmp_path / "two.png")]
        + ["--npy", str(tmp_path / "two.npz"), *common]
    )
    assert fast.returncode == slow.returncode == 0, fast.stderr + slow.stderr
    assert fast.stdout.replace("one.png", "two.png") == slow.stdout
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes()
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        [],
        ["{bundle}"],
        ["/nonexistent", "--out", "{out}.png"],
        ["{bundle}", "--out", "{out}.png", "--n", "0"],
        ["{bundle}", "--out", "{out}.png", "--n", "abc"],
        ["{bundle}", "--out", "{out}.png", "--bogus"],
        ["{bundle}", "--out", "{out}.txt"],
        ["{bundle}", "--out", "{out}.png", "--backend", "nope"],
        ["{bundle}", "--out", "{out}.png", "--columns", "0", "--backend", "onnx"],
        ["{bundle}", "--out", "{out}.png", "--threads", "100000", "--backend", "onnx"],
    ],
)
def test_help_and_errors_are_the_typer_command_s_own(tiny, tmp_path, args):
    args = [a.format(bundle=tiny, out=tmp_path / "x") for a in args]
    fast = run(vaedge("generate", *args))
    slow = run([sys.executable, "-c", TYPER_ONLY, "generate", *args])
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr)
    assert fast.returncode != 0 or args == ["--help"]


def test_a_closed_stdout_is_one_line_as_from_the_typer_command(tiny, tmp_path):
    """`vaedge generate ... | head -c0`: the grid is written, then the line cannot be; one error line and
    exit 1 from both paths (the fast path ends without interpreter teardown only once its line is out)."""
    results = []
    for name, command in (("fast", vaedge("generate")), ("slow", [sys.executable, "-c", TYPER_ONLY, "generate"])):
        out = tmp_path / f"{name}.png"
        args = [str(tiny), "--out", str(out), "--n", "4", "--seed", "0", "--backend", "onnx"]
        child = subprocess.Popen(
            [*command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment(100)
        )
        child.stdout.close()  # before the child prints: its write meets a closed pipe
        stderr = child.stderr.read().decode()
        results.append((child.wait(timeout=120), stderr))
        assert out.stat().st_size > 0
    assert results[0] == results[1] == (1, "error: Broken pipe\n"), results


def test_the_plain_reader_knows_every_option_of_the_command_and_nothing_else():
    """Its option list is checked against the typer command's, so a new option cannot be missed."""
    from vaedge.cli import command

    generate = command(["generate"]).commands["generate"]
    assert set(OPTIONS) == {opt for p in generate.params if p.param_type_name == "option" for opt in p.opts}


@pytest.mark.parametrize(
    "args",
    [
        ["b", "--out", "x.png", "--n", "5.0"],  # typer's own number parsing decides
        ["b", "--out", "x.png", "--n", "-5"],
        ["b", "--out", "x.png", "--n", "4", "--n", "5"],
        ["b", "c", "--out", "x.png"],
        ["b", "--out"],
        ["b", "--out", "x.png", "--"],
        ["b", "--out", "x.png", "-h"],
        ["b", "--out", ""],
        ["--out", "x.png"],
    ],
)
def test_anything_not_plain_goes_to_typer(args):
    assert plain_request(args) is None


def test_a_plain_command_line_is_read_whole():
    request = plain_request(
        ["--n=8", "b", "--out", "x.png", "--provider", "A", "--provider", "B", "--threads", "2", "--temperature", "0.7"]
    )
    assert (str(request.bundle), str(request.out), request.n, request.temperature) == ("b", "x.png", 8, 0.7)
    assert (request.options.providers, request.options.threads, request.options.backend) == (("A", "B"), 2, "auto")
