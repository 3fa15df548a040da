// vaedge in the browser: the bundle's encoder and decoder run with onnxruntime-web (WebAssembly).
// window.vaedge = {ready, decode(z), encode(images), site}: the API the page and the tests use.
// Sampling happens here, on the host: z = temperature * eps with eps from a seeded generator.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_BATCH = 4096;
  const MODULE = "ort-wasm-simd-threaded.mjs", WASM = "ort-wasm-simd-threaded.wasm";
  let site = null, H = 0, W = 0, C = 0, D = 0;
  let encoder = null, decoder = null;

  function showError(error) {
    const box = $("error");
    box.textContent = String((error && error.message) || error);
    box.hidden = false;
  }
  window.addEventListener("error", (event) => showError(event.message));
  window.addEventListener("unhandledrejection", (event) => showError(event.reason));

  async function fetchOk(url, integrity) {
    const response = await fetch(url, integrity ? { integrity, mode: "cors", credentials: "omit" } : {}).catch((error) => {
      throw new Error(`${url}: ${error.message}` + (integrity ? ` (unreachable, or its bytes do not match integrity ${integrity})` : ""));
    });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response;
  }

  async function sha256(bytes) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // From the CDN, the module and the wasm binary are fetched here with their SRI hashes, then
  // handed to onnxruntime-web, so no unchecked byte runs.
  async function configureRuntime(info, threads) {
    if (typeof ort === "undefined") throw new Error(`onnxruntime-web did not load from ${info.base}`);
    if (threads !== null) ort.env.wasm.numThreads = threads;
    if (info.source === "site") {
      ort.env.wasm.wasmPaths = new URL(info.base, location.href).href;  // a bare "ort/" would be a module specifier
      return;
    }
    const module = await (await fetchOk(info.base + MODULE, info.integrity[MODULE])).blob();
    ort.env.wasm.wasmBinary = await (await fetchOk(info.base + WASM, info.integrity[WASM])).arrayBuffer();
    ort.env.wasm.wasmPaths = { mjs: URL.createObjectURL(new Blob([module], { type: "text/javascript" })) };
  }

  async function loadModel(model) {
    const bytes = new Uint8Array(await (await fetchOk(model.path)).arrayBuffer());
    if (globalThis.crypto && crypto.subtle) {
      const actual = await sha256(bytes);
      if (actual !== model.sha256) throw new Error(`${model.path}: sha256 ${actual}, the site says ${model.sha256}`);
    }
    return ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  }

  async function load() {
    site = await (await fetchOk("vaedge-site.json")).json();
    [H, W, C] = site.image.shape;
    D = site.latent_dim;
    const params = new URLSearchParams(location.search);
    const precision = params.get("precision") || site.default_precision;
    const models = site.models[precision];
    if (!models) throw new Error(`precision ${precision}: this site has ${Object.keys(site.models).join(", ")}`);
    await configureRuntime(site.onnxruntime_web, params.has("threads") ? Number(params.get("threads")) : null);
    [encoder, decoder] = await Promise.all([loadModel(models.encoder), loadModel(models.decoder)]);
    $("status").textContent = `${precision} encoder and decoder loaded: image ${H}×${W}×${C}, latent dim ${D}, ` +
      `onnxruntime-web ${ort.env.versions ? ort.env.versions.web : ""} (${ort.env.wasm.numThreads || "auto"} threads)`;
    return site;
  }

  // onnxruntime-web runs one call at a time per session: calls queue here.
  let queue = Promise.resolve();
  function exclusive(task) {
    const run = queue.then(task, task);
    queue = run.catch(() => {});
    return run;
  }

  function flatten(name, rows, width, lo, hi) {
    const problems = [];
    if (!Array.isArray(rows) || rows.length < 1 || rows.length > MAX_BATCH)
      throw new TypeError(`${name}: expected an array of 1..${MAX_BATCH} arrays of ${width} numbers`);
    const flat = new Float32Array(rows.length * width);
    rows.forEach((row, i) => {
      if (!row || row.length !== width) return problems.push(`${name}[${i}] has ${row && row.length} numbers, expected ${width}`);
      for (let j = 0; j < width; j++) {
        const v = row[j];
        if (typeof v !== "number" || !(v >= lo && v <= hi)) problems.push(`${name}[${i}][${j}] is ${v}, expected a number in [${lo}, ${hi}]`);
        flat[i * width + j] = v;
      }
    });
    if (problems.length) throw new TypeError(problems.slice(0, 5).join("; ") + (problems.length > 5 ? `; and ${problems.length - 5} more` : ""));
    return flat;
  }

  function rows(data, n, width) {
    return Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * width, (i + 1) * width)));
  }

  async function decode(z) {
    await ready;
    const flat = flatten("z", z, D, -1e6, 1e6);
    const n = z.length, start = performance.now();
    const out = await exclusive(() => decoder.run({ z: new ort.Tensor("float32", flat, [n, D]) }));
    const ms = performance.now() - start;
    $("speed").textContent = `last decode: ${n} image${n > 1 ? "s" : ""} in ${ms.toFixed(1)} ms, ${(n / ms * 1000).toFixed(0)} images/s`;
    const data = out.image.data;
    if (!data.every(Number.isFinite)) throw new RangeError(`the decoder overflowed on these latents; latents from the prior are of order 1`);
    return { shape: [n, H, W, C], data };
  }

  async function encode(images) {
    await ready;
    const shape = images && images.shape, n = shape && shape[0];
    if (!Array.isArray(shape) || shape.length !== 4 || !Number.isInteger(n) || n < 1 || n > MAX_BATCH
        || shape[1] !== H || shape[2] !== W || shape[3] !== C)
      throw new TypeError(`images.shape is ${JSON.stringify(shape)}, expected [n, ${H}, ${W}, ${C}] with n in 1..${MAX_BATCH}`);
    const size = H * W * C, data = images.data;
    if (!data || data.length !== n * size) throw new TypeError(`images.data has ${data && data.length} numbers, expected ${n * size}`);
    const flat = flatten("images", rows(Float32Array.from(data, Number), n, size), size, 0, 1);
    const out = await exclusive(() => encoder.run({ image: new ort.Tensor("float32", flat, [n, H, W, C]) }));
    return { z_mean: rows(out.z_mean.data, n, D), z_log_var: rows(out.z_log_var.data, n, D) };
  }

  const ready = load();
  window.vaedge = { ready, decode, encode };
  ready.then((loaded) => { window.vaedge.site = loaded; });

  // ------------------------------------------------------------------ host sampling
  function mulberry32(seed) {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  function eps(n, seed) {  // n x D standard normal draws (Box-Muller)
    const uniform = mulberry32(seed);
    const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
    return Array.from({ length: n }, () => Array.from({ length: D }, normal));
  }
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

  // ------------------------------------------------------------------ latent map or sliders
  const SPAN = 3, CELLS = 15, MAP_SCALE = 1;
  let pending = null, busy = false, mapTiles = null;
  async function showPoint(z) {
    pending = z;
    if (busy) return;  // the newest point is decoded once the current one is done
    busy = true;
    try {
      while (pending) {
        const point = pending;
        pending = null;
        draw($("preview"), await decode([point]), 1, 8);
        $("point").textContent = `z = [${point.map((v) => v.toFixed(2)).join(", ")}]`;
        if (mapTiles) markMap(point);
      }
    } finally {
      busy = false;
    }
  }
  function markMap(point) {
    const canvas = $("map"), ctx = canvas.getContext("2d");
    ctx.drawImage(mapTiles, 0, 0);
    const x = (point[0] + SPAN) / (2 * SPAN) * canvas.width, y = (SPAN - point[1]) / (2 * SPAN) * canvas.height;
    ctx.strokeStyle = "#ff3b30";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x, y, 6, 0, 2 * Math.PI);
    ctx.stroke();
  }
  async function latentMap() {
    $("latent-help").textContent = "Each tile is the decoder's image at that point of the 2-D latent space " +
      `(z from -${SPAN} to ${SPAN}); move the pointer over the map to decode live.`;
    const steps = Array.from({ length: CELLS }, (_, i) => -SPAN + 2 * SPAN * (i + 0.5) / CELLS);
    const z = steps.slice().reverse().flatMap((y) => steps.map((x) => [x, y]));
    const canvas = $("map");
    draw(canvas, await decode(z), CELLS, MAP_SCALE);
    mapTiles = await createImageBitmap(canvas);
    canvas.addEventListener("pointermove", (event) => {
      const box = canvas.getBoundingClientRect();
      const x = -SPAN + 2 * SPAN * (event.clientX - box.left) / box.width;
      const y = SPAN - 2 * SPAN * (event.clientY - box.top) / box.height;
      showPoint([x, y]).catch(showError);
    });
    await showPoint([0, 0]);
  }
  async function sliders() {
    $("map").hidden = true;
    $("latent-help").textContent = `Latent dim ${D}: each slider moves one dimension of z (the prior is N(0, I) in every one).`;
    const shown = Math.min(D, 32), values = new Array(D).fill(0);
    for (let j = 0; j < shown; j++) {
      const label = document.createElement("label"), input = document.createElement("input");
      Object.assign(input, { type: "range", min: -3, max: 3, step: 0.05, value: 0 });
      input.addEventListener("input", () => { values[j] = Number(input.value); showPoint(values.slice()).catch(showError); });
      label.append(`z[${j}] `, input);
      $("sliders").append(label);
    }
    await showPoint(values.slice());
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

  ready.then(async () => {
    $("sample-form").addEventListener("submit", guard(sampleGrid));
    $("lerp-form").addEventListener("submit", guard(interpolate));
    wireDrop();
    await sampleGrid();
    await (D === 2 ? latentMap() : sliders());
    await interpolate();
    document.body.dataset.rendered = "true";
  }).catch((error) => {
    $("status").textContent = "not ready";
    showError(error);
  });
})();
