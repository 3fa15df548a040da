"""The benchmark as a rich table and as a PNG bar chart (pillow; no plotting library needed)."""

from __future__ import annotations

import io
import math

from rich.table import Table


def _fmt(x: float, digits: int = 0) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.{digits}f}"


def table(results: dict) -> Table:
    t = Table(title=f"decoder, {results['decoder_flops_per_image'] / 1e6:.2f} MFLOP/image; sgemm "
                    f"{results['sgemm_gflops']:.0f} GFLOP/s -> roofline {results['roofline_images_per_s']:,.0f} img/s")
    for column in ("variant", "img/s b=1", "img/s b=64", "img/s b=256", "p50 ms", "p99 ms", "x roofline", "x Keras call", "KiB", "RSS +MiB"):
        t.add_column(column, justify="left" if column == "variant" else "right")
    for r in results["rows"]:
        ips = {int(k): v for k, v in r["images_per_s"].items()}
        t.add_row(r["name"], _fmt(ips[1]), _fmt(ips[64]), _fmt(ips[256]), _fmt(r["latency_p50_ms"], 3),
                  _fmt(r["latency_p99_ms"], 3), _fmt(r["vs_roofline"], 2), _fmt(r["vs_keras_call"], 1),
                  _fmt(r["size_bytes"] / 1024), _fmt(r["rss_delta_mb"], 1))
    return t


def chart_png(results: dict, width: int = 900) -> bytes:
    """Horizontal bars: img/s at batch 256 per variant, with the roofline as a red line."""
    from PIL import Image, ImageDraw

    rows = results["rows"]
    roofline = results["roofline_images_per_s"]
    values = [float(r["images_per_s"].get("256", r["images_per_s"].get(256, 0))) for r in rows]
    top = max([*values, roofline if math.isfinite(roofline) else 0, 1.0]) * 1.1
    label_w, bar_h, pad = 260, 26, 10
    height = pad * 3 + 30 + len(rows) * (bar_h + pad)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((pad, pad), "decoder throughput at batch 256 (img/s); red: sgemm roofline", fill="black")
    scale = (width - label_w - 2 * pad) / top
    for i, (row, value) in enumerate(zip(rows, values)):
        y = 30 + pad * 2 + i * (bar_h + pad)
        draw.text((pad, y + 7), row["name"][:40], fill="black")
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
