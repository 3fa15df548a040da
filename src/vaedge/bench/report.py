"""The benchmark as a rich table and as a PNG bar chart (pillow; no plotting library needed)."""

from __future__ import annotations

import io
import math
import os

from rich.table import Table


def _fmt(x: float, digits: int = 0) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


def table(results: dict) -> Table:
    t = Table(
        title=f"decoder, {results['decoder_flops_per_image'] / 1e6:.2f} MFLOP/image; sgemm "
        f"{results['sgemm_gflops']:.0f} GFLOP/s -> roofline {results['roofline_images_per_s']:,.0f} img/s"
    )
    columns = [
        "variant",
        "img/s b=1",
        "img/s b=64",
        "img/s b=256",
        "p50 ms",
        "p99 ms",
        "x roofline",
        "x Keras call",
        "KiB",
        "RSS +MiB",
    ]
    keras = any(math.isfinite(r["vs_keras_call"]) for r in results["rows"])
    if not keras:  # without --keras there is nothing to compare with: no column of dashes
        columns.remove("x Keras call")
    for column in columns:
        t.add_column(column, justify="left" if column == "variant" else "right")
    for r in results["rows"]:
        ips = {int(k): v for k, v in r["images_per_s"].items()}
        cells = [
            r["name"],
            *(_fmt(ips[b]) if b in ips else "–" for b in (1, 64, 256)),
            _fmt(r["latency_p50_ms"], 3),
            _fmt(r["latency_p99_ms"], 3),
            _fmt(r["vs_roofline"], 2),
            _fmt(r["vs_keras_call"], 1),
            _fmt(r["size_bytes"] / 1024) if r["size_bytes"] else "–",
            _fmt(r["rss_delta_mb"], 1),
        ]
        if not keras:
            del cells[7]
        t.add_row(*cells)
    return t


def summary(results: dict) -> list[str]:
    """The lines under the table: cold start (Keras' only when it was measured), memory and the machine's load."""
    cold = results["cold_start_s"]
    line = f"cold start to PNG: runtime {cold['runtime_generate']:.2f} s"
    if math.isfinite(cold.get("keras_script", math.nan)):
        line += f", Keras script {cold['keras_script']:.2f} s ({cold['speedup']:.1f}x)"
    lines = [line + f"; peak RSS {results['peak_rss_mb']:.0f} MiB"]
    before, after = results.get("sgemm_gflops_before_after", [results["sgemm_gflops"]] * 2)
    lines.append(f"sgemm {before:.0f} GFLOP/s before the rows, {after:.0f} after; the roofline uses the better")
    load = results.get("load_average")
    if load:
        cores = os.cpu_count() or 1
        busy = " (busy: other work skews every speed figure)" if load[0] > 0.5 * cores else ""
        lines.append(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {cores} cores{busy}")
    lines.append("RSS +MiB: resident memory a row added (0 when it reused memory freed by an earlier row)")
    return lines


def chart_png(results: dict, width: int = 900) -> bytes:
    """Horizontal bars: img/s at batch 256 per variant, with the roofline as a red line."""
    from PIL import Image, ImageDraw

    rows = results["rows"]
    roofline = results["roofline_images_per_s"]
    values = [float(r["images_per_s"].get("256", r["images_per_s"].get(256, 0))) for r in rows]
    top = max([*values, roofline if math.isfinite(roofline) else 0, 1.0]) * 1.1
    bar_h, pad = 26, 10
    height = pad * 3 + 30 + len(rows) * (bar_h + pad)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    label_w = int(max(draw.textlength(r["name"]) for r in rows)) + 3 * pad if rows else 260  # whole names, never cut
    draw.text((pad, pad), "decoder throughput at batch 256 (img/s); red: sgemm roofline", fill="black")
    scale = (width - label_w - 2 * pad) / top
    for i, (row, value) in enumerate(zip(rows, values)):
        y = 30 + pad * 2 + i * (bar_h + pad)
        draw.text((pad, y + 7), row["name"], fill="black")
        colour = (120, 120, 120) if row["engine"] == "Keras" else (40, 110, 200)
        draw.rectangle([label_w, y, label_w + value * scale, y + bar_h], fill=colour)
        draw.text((label_w + value * scale + 4, y + 7), f"{value:,.0f}", fill="black")
    if math.isfinite(roofline):
        x = label_w + roofline * scale
        draw.line([x, 30, x, height - pad], fill=(220, 30, 30), width=2)
        draw.text((x + 3, 30), f"{roofline:,.0f}", fill=(220, 30, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
