"""The `vaedge` command. Each command lives in its own module and imports heavy libraries lazily."""

from __future__ import annotations

import typer

from vaedge.cli.bench import bench
from vaedge.cli.clusters import clusters
from vaedge.cli.encode import encode
from vaedge.cli.evaluate import evaluate
from vaedge.cli.explain import explain
from vaedge.cli.export import export
from vaedge.cli.generate import generate
from vaedge.cli.info import info
from vaedge.cli.interpolate import interpolate
from vaedge.cli.manifold import manifold
from vaedge.cli.micro import micro
from vaedge.cli.reconstruct import reconstruct
from vaedge.cli.sign import sign
from vaedge.cli.train import train
from vaedge.cli.validate import validate
from vaedge.cli.web import web

app = typer.Typer(
    name="vaedge",
    help="Train a Keras VAE, export it to ONNX/TFLite, and generate images on device.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("train")(train)
app.command("export")(export)
app.command("validate")(validate)
app.command("generate")(generate)
app.command("reconstruct")(reconstruct)
app.command("interpolate")(interpolate)
app.command("manifold")(manifold)
app.command("encode")(encode)
app.command("info")(info)
app.command("bench")(bench)
app.command("evaluate")(evaluate)
app.command("sign")(sign)
app.command("web")(web)
app.command("explain")(explain)
app.command("clusters")(clusters)
app.command("micro")(micro)


@app.callback()
def root() -> None:
    """Train a Keras VAE, export it to ONNX/TFLite, and generate images on device."""


def command():
    """The click command behind `vaedge`, with one style of help (vaedge.cli.help_style)."""
    from typer.main import get_command

    from vaedge.cli.help_style import tidy

    return tidy(get_command(app))


def main() -> None:
    command()(prog_name="vaedge")
