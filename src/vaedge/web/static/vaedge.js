// vaedge in the browser: the bundle's encoder and decoder run with onnxruntime-web (WebAssembly).
// window.vaedge = {ready, decode(z), encode(images), eps(n, seed), site, examples, runtime}: the API the page (app.js)
// and the tests use; bad input rejects with a message, and errors are shown on the page (showError).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_BATCH = 4096;
  const MODULE = "ort-wasm-simd-threaded.mjs", WASM = "ort-wasm-simd-threaded.wasm";
  let site = null, H = 0, W = 0, C = 0, D = 0;
  let encoder = null, decoder = null, examples = null, runtime = null;

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
  // Threads: every logical core when the page is cross-origin isolated (`vaedge web --serve` sends
  // COOP/COEP), else one; onnxruntime-web's own default is half the cores, one thread on 2 cores.
  const defaultThreads = () => (globalThis.crossOriginIsolated ? Math.min(16, navigator.hardwareConcurrency || 1) : 1);

  async function configureRuntime(info, threads) {
    if (typeof ort === "undefined") throw new Error(`onnxruntime-web did not load from ${info.base}`);
    ort.env.wasm.numThreads = threads !== null ? threads : defaultThreads();
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

  // The held-out images the site keeps (examples.bin, uint8 (N, H, W, C)), hash-checked like the models:
  // {images: {shape, data: Float32Array in [0, 1]}, labels (or null), classNames, names (one per image)}.
  async function loadExamples(entry) {
    const bytes = new Uint8Array(await (await fetchOk(entry.path)).arrayBuffer());
    const [n, h, w, c] = entry.shape;
    if (bytes.length !== n * h * w * c || h !== H || w !== W || c !== C)
      throw new Error(`${entry.path}: ${bytes.length} bytes, the site says shape ${JSON.stringify(entry.shape)}`);
    if (globalThis.crypto && crypto.subtle) {
      const actual = await sha256(bytes);
      if (actual !== entry.sha256) throw new Error(`${entry.path}: sha256 ${actual}, the site says ${entry.sha256}`);
    }
    const labels = entry.labels, classNames = entry.class_names || [];
    const names = Array.from({ length: n }, (_, i) => labels ? classNames[labels[i]] ?? String(labels[i]) : entry.unlabelled);
    return { images: { shape: [n, h, w, c], data: Float32Array.from(bytes, (b) => b / 255) }, labels, classNames,
             names, source: entry.source };
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
    examples = site.examples ? await loadExamples(site.examples) : null;
    // onnxruntime-web writes back 1 when it cannot start workers (no SharedArrayBuffer)
    const threads = ort.env.wasm.numThreads;
    runtime = { executionProvider: "wasm", threads, isolated: Boolean(globalThis.crossOriginIsolated),
                cores: navigator.hardwareConcurrency || null,
                mode: threads > 1 ? `threads ${threads}` : `single thread${globalThis.crossOriginIsolated ? "" : " (not cross-origin isolated)"}` };
    $("status").textContent = `${precision} encoder and decoder loaded: image ${H}×${W}×${C}, latent dim ${D}, ` +
      `onnxruntime-web ${ort.env.versions ? ort.env.versions.web : ""} (wasm, ${runtime.mode})`;
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

  // The portable eps stream, the same numbers as vaedge.runtime.sampling.portable_eps (docs/eps-stream.md):
  // splitmix64 words, u = ((word >> 11) + 0.5) / 2^53, Box-Muller in float64, rounded to float32.
  const GOLDEN = 0x9e3779b97f4a7c15n, MIX1 = 0xbf58476d1ce4e5b9n, MIX2 = 0x94d049bb133111ebn;
  function* uniforms(seed, start) {
    let state = BigInt.asUintN(64, BigInt(seed) + BigInt(start) * GOLDEN);
    for (;;) {
      state = BigInt.asUintN(64, state + GOLDEN);
      let x = BigInt.asUintN(64, (state ^ (state >> 30n)) * MIX1);
      x = BigInt.asUintN(64, (x ^ (x >> 27n)) * MIX2);
      x ^= x >> 31n;
      yield (Number(x >> 11n) + 0.5) / 2 ** 53;
    }
  }
  function eps(n, seed, startRow = 0) {  // (n, D) standard normal draws, rows startRow.. of the stream
    if (!Number.isSafeInteger(seed) || seed < 0) throw new TypeError(`seed is ${seed}, expected an integer in 0..2^53-1`);
    if (!Number.isInteger(n) || n < 1 || n > MAX_BATCH) throw new TypeError(`n is ${n}, expected 1..${MAX_BATCH}`);
    const u = uniforms(seed, 2 * startRow * D), normal = () => {
      const a = u.next().value, b = u.next().value;
      return Math.fround(Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * b));
    };
    return Array.from({ length: n }, () => Array.from({ length: D }, normal));
  }


  function drawImages(canvas, result, columns, scale, pad = 1) {  // images (n, H, W, C) in [0, 1] as a grid
    const [n, h, w, c] = result.shape, rowsOf = Math.ceil(n / columns);
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
  const ready = load();
  window.vaedge = { ready, decode, encode, eps, showError, drawImages };
  ready.then((loaded) => { window.vaedge.site = loaded; window.vaedge.examples = examples; window.vaedge.runtime = runtime; });
})();

