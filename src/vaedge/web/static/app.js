// The page: sample grid, latent map and sliders and interpolation, all through window.vaedge (vaedge.js);
// explain.js draws "What the encoder says about this image" and the class clusters. Sampling happens here, on the host:
// z = temperature * eps with eps from the portable stream (vaedge.eps: the same numbers as
// `vaedge generate --seed N`).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const { ready, decode, encode, eps, showError } = window.vaedge;
  let site = null, H = 0, W = 0, C = 0, D = 0;

  // ------------------------------------------------------------------ host sampling
  const scaled = (rowsOf, t) => rowsOf.map((row) => row.map((v) => t * v));

  const draw = window.vaedge.drawImages;
  const number = (id) => Number($(id).value);
  const guard = (task) => (event) => {
    if (event) event.preventDefault();
    task().catch(showError);
  };

  async function sampleGrid() {
    const n = Math.max(1, Math.min(1024, Math.floor(number("count"))));
    const seed = number("seed"), noise = eps(n, seed), z = scaled(noise, number("temperature"));
    window.vaedge.lastSample = { seed, eps: noise, z };
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
  // the bundle's held-out images (site.latents.order), the other dims held at their sliders' values. Its range,
  // [-SPAN, SPAN], is the bundle's (site.latent_map.span): the same as vaedge manifold, explain and clusters.
  const CELLS = 15, MAX_SLIDERS = 32;
  let SPAN = 3;
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
    ctx.setLineDash([5, 4]);  // the prior N(0, I)'s 1 and 2 sigma circles, as vaedge manifold draws them
    ctx.strokeStyle = "#5ac8fa";
    ctx.lineWidth = 1.5;
    for (const k of [1, 2]) {
      ctx.beginPath();
      ctx.ellipse(canvas.width / 2, canvas.height / 2, k * canvas.width / (2 * SPAN), k * canvas.height / (2 * SPAN), 0, 0, 2 * Math.PI);
      ctx.stroke();
    }
    ctx.setLineDash([]);
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
    canvas.dataset.span = SPAN;
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
  function ticks() {  // integer ticks (every `step`) placed where their value lies on the map
    const step = Math.max(1, Math.ceil(SPAN / 6)), values = [];
    for (let v = -Math.floor(SPAN / step) * step; v <= SPAN; v += step) values.push(v);
    for (const [id, side] of [["map-x-ticks", "left"], ["map-y-ticks", "top"]]) {
      $(id).innerHTML = "";
      for (const v of values) {
        const span = document.createElement("span"), at = (v + SPAN) / (2 * SPAN) * 100;
        span.textContent = String(v);
        span.style[side] = `${side === "left" ? at : 100 - at}%`;
        $(id).append(span);
      }
    }
  }
  async function latentSpace() {
    const latents = site.latents || {}, order = latents.order || [...Array(D).keys()], variance = latents.z_mean_variance;
    point = new Array(D).fill(0);
    across = D === 2 ? [0, 1] : D > 2 ? order.slice(0, 2) : null;
    SPAN = (site.latent_map && site.latent_map.span) || SPAN;
    ticks();
    if (across) [$("map-x").textContent, $("map-y").textContent] = [`z[${across[0]}]`, `z[${across[1]}]`];
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
        "Dashed: the prior N(0, I)'s 1 and 2 sd circles. Move the pointer over the map to decode live.");
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

  ready.then(async (loaded) => {
    site = loaded;
    [H, W, C] = site.image.shape;
    D = site.latent_dim;
    $("sample-form").addEventListener("submit", guard(sampleGrid));
    $("lerp-form").addEventListener("submit", guard(interpolate));
    await sampleGrid();
    await latentSpace();
    await interpolate();
    document.body.dataset.rendered = "true";
  }).catch((error) => {
    $("status").textContent = "not ready";
    showError(error);
  });
})();
