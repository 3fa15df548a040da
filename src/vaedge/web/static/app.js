// The page: sample grid, latent map and sliders, interpolation and the reconstruction of a dropped
// image, all through window.vaedge (vaedge.js). Sampling happens here, on the host:
// z = temperature * eps with eps from the portable stream (vaedge.eps: the same numbers as
// `vaedge generate --seed N`).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const { ready, decode, encode, eps, showError } = window.vaedge;
  let site = null, H = 0, W = 0, C = 0, D = 0;

  // ------------------------------------------------------------------ host sampling
  const scaled = (rowsOf, t) => rowsOf.map((row) => row.map((v) => t * v));

  // ------------------------------------------------------------------ drawing
  function draw(canvas, result, columns, scale) {
    const [n, h, w, c] = result.shape, rowsOf = Math.ceil(n / columns), pad = 1;
    const image = new ImageData(columns * (w + pad) + pad, rowsOf * (h + pad) + pad);
    for (let k = 0; k < n; k++) {
      const x0 = pad + (k % columns) * (w + pad), y0 = pad + Math.floor(k / columns) * (h + pad);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        const src = ((k * h + y) * w + x) * c, dst = ((y0 + y) * image.width + x0 + x) * 4;
        for (let ch = 0; ch < 3; ch++) image.data[dst + ch] = 255 * result.data[src + (c >= 3 ? ch : 0)];
        image.data[dst + 3] = 255;
      }
    }
    const tile = document.createElement("canvas");
    [tile.width, tile.height] = [image.width, image.height];
    tile.getContext("2d").putImageData(image, 0, 0);
    [canvas.width, canvas.height] = [image.width * scale, image.height * scale];
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(tile, 0, 0, canvas.width, canvas.height);
  }
  const number = (id) => Number($(id).value);
  const guard = (task) => (event) => {
    if (event) event.preventDefault();
    task().catch(showError);
  };

  async function sampleGrid() {
    const n = Math.max(1, Math.min(1024, Math.floor(number("count"))));
    const z = scaled(eps(n, number("seed")), number("temperature"));
    draw($("grid"), await decode(z), Math.min(n, Math.ceil(Math.sqrt(n))), 2);
  }

  async function interpolate() {
    const t = number("temperature"), steps = Math.max(2, Math.min(64, Math.floor(number("steps"))));
    const [a] = scaled(eps(1, number("seed-a")), t), [b] = scaled(eps(1, number("seed-b")), t);
    const z = Array.from({ length: steps }, (_, i) => a.map((v, j) => v + (b[j] - v) * i / (steps - 1)));
    draw($("lerp"), await decode(z), steps, 3);
  }

  // ------------------------------------------------------------------ latent map and sliders
  // The map spans z[0] and z[1] when D = 2; for larger D, the two dims whose z_mean varies most over
  // the bundle's held-out images (site.latents.order), the other dims held at their sliders' values.
  const SPAN = 3, CELLS = 15, MAX_SLIDERS = 32;
  let point = null, across = null, mapTiles = null, pending = false, busy = false;
  const sliderOf = {};
  async function showPoint() {
    pending = true;
    if (busy) return;  // the newest point is decoded once the current one is done
    busy = true;
    try {
      while (pending) {
        pending = false;
        const z = point.slice();
        draw($("preview"), await decode([z]), 1, 8);
        $("point").textContent = `z = [${z.map((v) => v.toFixed(2)).join(", ")}]`;
        if (mapTiles) markMap(z);
      }
    } finally {
      busy = false;
    }
  }
  function setDim(j, value) {
    point[j] = value;
    if (sliderOf[j]) sliderOf[j].value = value;
  }
  function markMap(z) {
    const canvas = $("map"), ctx = canvas.getContext("2d");
    ctx.drawImage(mapTiles, 0, 0);
    const x = (z[across[0]] + SPAN) / (2 * SPAN) * canvas.width, y = (SPAN - z[across[1]]) / (2 * SPAN) * canvas.height;
    ctx.strokeStyle = "#ff3b30";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x, y, 6, 0, 2 * Math.PI);
    ctx.stroke();
  }
  async function drawMap() {
    const [a, b] = across, steps = Array.from({ length: CELLS }, (_, i) => -SPAN + 2 * SPAN * (i + 0.5) / CELLS);
    const z = steps.slice().reverse().flatMap((y) => steps.map((x) => {
      const row = point.slice();
      [row[a], row[b]] = [x, y];
      return row;
    }));
    const canvas = $("map");
    draw(canvas, await decode(z), CELLS, 1);
    mapTiles = await createImageBitmap(canvas);
    markMap(point);
    canvas.dataset.draws = Number(canvas.dataset.draws || 0) + 1;
  }
  function addSliders(dims, variance) {
    for (const j of dims) {
      const label = document.createElement("label"), input = document.createElement("input");
      Object.assign(input, { type: "range", min: -SPAN, max: SPAN, step: 0.05, value: 0 });
      input.dataset.dim = j;
      input.addEventListener("input", () => { point[j] = Number(input.value); showPoint().catch(showError); });
      if (across && !across.includes(j)) input.addEventListener("change", () => drawMap().catch(showError));
      label.append(`z[${j}] `, input, variance ? ` var ${variance[j].toPrecision(2)}` : "");
      $("sliders").append(label);
      sliderOf[j] = input;
    }
  }
  async function latentSpace() {
    const latents = site.latents || {}, order = latents.order || [...Array(D).keys()], variance = latents.z_mean_variance;
    point = new Array(D).fill(0);
    across = D === 2 ? [0, 1] : D > 2 ? order.slice(0, 2) : null;
    const help = [];
    if (across) {
      const canvas = $("map");
      canvas.addEventListener("pointermove", (event) => {
        const box = canvas.getBoundingClientRect();
        setDim(across[0], -SPAN + 2 * SPAN * (event.clientX - box.left) / box.width);
        setDim(across[1], SPAN - 2 * SPAN * (event.clientY - box.top) / box.height);
        showPoint().catch(showError);
      });
      help.push(D === 2
        ? `Each tile is the decoder's image at that point of the 2-D latent space (z from -${SPAN} to ${SPAN}).`
        : `The map's tiles decode z[${across[0]}] (across) and z[${across[1]}] (up) from -${SPAN} to ${SPAN}: the two ` +
          `dims whose z_mean varies most over the bundle's held-out images; the other dims stay at their sliders' ` +
          `values (release a slider to redraw the map).`,
        "Move the pointer over the map to decode live.");
      await drawMap();
    } else {
      $("map").hidden = true;
    }
    if (D > 2 || !across) {
      const shown = order.slice(0, MAX_SLIDERS);
      help.push(`Each slider moves one dim of z (the prior is N(0, I) in every one)` + (variance ? ", most used dims first" : "") +
        (D > shown.length ? `; the other ${D - shown.length} dims stay at 0.` : "."));
      addSliders(shown, variance);
    }
    $("latent-help").textContent = help.join(" ");
    await showPoint();
  }

  // ------------------------------------------------------------------ reconstruction of a dropped image
  async function reconstruct(file) {
    if (!file || !file.type.startsWith("image/")) throw new TypeError(`${file ? file.name : "nothing"}: not an image`);
    const bitmap = await createImageBitmap(file), canvas = document.createElement("canvas");
    [canvas.width, canvas.height] = [W, H];
    const ctx = canvas.getContext("2d");
    ctx.drawImage(bitmap, 0, 0, W, H);
    const rgba = ctx.getImageData(0, 0, W, H).data, data = new Float32Array(H * W * C), invert = $("invert").checked;
    for (let p = 0; p < H * W; p++) {
      const gray = (rgba[4 * p] + rgba[4 * p + 1] + rgba[4 * p + 2]) / (3 * 255);
      for (let ch = 0; ch < C; ch++) {
        const v = C >= 3 ? rgba[4 * p + ch] / 255 : gray;
        data[p * C + ch] = invert ? 1 - v : v;
      }
    }
    const image = { shape: [1, H, W, C], data };
    const { z_mean } = await encode(image);
    draw($("original"), image, 1, 6);
    draw($("reconstructed"), await decode(z_mean), 1, 6);
    $("encoded").textContent = `encoder → z_mean = [${z_mean[0].map((v) => v.toFixed(3)).join(", ")}] → decoder`;
  }
  function wireDrop() {
    const zone = $("drop");
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      reconstruct(event.dataTransfer.files[0]).catch(showError);
    });
    $("file").addEventListener("change", (event) => reconstruct(event.target.files[0]).catch(showError));
  }

  ready.then(async (loaded) => {
    site = loaded;
    [H, W, C] = site.image.shape;
    D = site.latent_dim;
    $("sample-form").addEventListener("submit", guard(sampleGrid));
    $("lerp-form").addEventListener("submit", guard(interpolate));
    wireDrop();
    await sampleGrid();
    await latentSpace();
    await interpolate();
    document.body.dataset.rendered = "true";
  }).catch((error) => {
    $("status").textContent = "not ready";
    showError(error);
  });
})();
