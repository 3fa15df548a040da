// "What the encoder says about this image" and the class clusters, through window.vaedge (vaedge.js).
// window.vaedge.explain(input, {samples, seed}) encodes one image (input: {example: i} or {shape, data}),
// samples K z = z_mean + sigma * eps here, on the host, decodes them and draws everything; it resolves
// to the numbers drawn, with the ellipses' radii read back from the drawing in map units (z).
// window.vaedge.clusters() resolves to the scatter's points. The map: z[a] across, z[b] up, each over
// [-span, span] (the bundle's, site.latent_map.span), CELLS tiles a side: the same map as `vaedge manifold`,
// `vaedge explain` and `vaedge clusters`, with the prior's 1- and 2-sigma circles dashed. Nothing is drawn
// outside the map: a point beyond it is a triangle at its edge, pointing the way it lies, and a note says so.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const api = window.vaedge, { ready, decode, encode, eps, showError, drawImages } = api;
  const PRIOR_SPAN = 3, CELLS = 15, MAP = 420, LEFT = 46, BOTTOM = 40, PAD = 10, FAR = 4, THUMBS = 24;
  const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                   "#bcbd22", "#17becf"], UNLABELLED = "#999999";
  let site = null, H = 0, W = 0, C = 0, D = 0, dims = [0, 1], tiles = null, current = null, SPAN = PRIOR_SPAN;

  // ------------------------------------------------------------------ the map and its axes
  const tickStep = (span) => Math.max(1, Math.ceil(span / 6));
  const px = (z, span) => [LEFT + (z[dims[0]] + span) / (2 * span) * MAP, PAD + (span - z[dims[1]]) / (2 * span) * MAP];
  function axes(ctx, span) {
    ctx.strokeStyle = ctx.fillStyle = "#333";
    ctx.lineWidth = 1;
    ctx.strokeRect(LEFT, PAD, MAP, MAP);
    ctx.font = "12px sans-serif";
    const step = tickStep(span);
    for (let v = -Math.floor(span / step) * step; v <= span; v += step) {
      const x = LEFT + (v + span) / (2 * span) * MAP, y = PAD + (span - v) / (2 * span) * MAP;
      ctx.fillRect(x, PAD + MAP, 1, 5);
      ctx.fillRect(LEFT - 5, y, 5, 1);
      ctx.textAlign = "center"; ctx.textBaseline = "top"; ctx.fillText(String(v), x, PAD + MAP + 7);
      ctx.textAlign = "right"; ctx.textBaseline = "middle"; ctx.fillText(String(v), LEFT - 8, y);
    }
    ctx.font = "14px sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    ctx.fillText(`z[${dims[0]}]`, LEFT + MAP / 2, PAD + MAP + 22);
    ctx.save();
    ctx.translate(12, PAD + MAP / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(`z[${dims[1]}]`, 0, -6);
    ctx.restore();
  }
  function sized(canvas) {
    [canvas.width, canvas.height] = [LEFT + MAP + PAD, PAD + MAP + BOTTOM];
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    return ctx;
  }
  async function mapTiles() {  // the decoded map, other dims at 0 (the prior's mean)
    const centres = Array.from({ length: CELLS }, (_, i) => -SPAN + 2 * SPAN * (i + 0.5) / CELLS);
    const z = centres.slice().reverse().flatMap((y) => centres.map((x) => {
      const row = new Array(D).fill(0);
      [row[dims[0]], row[dims[1]]] = [x, y];
      return row;
    }));
    const canvas = document.createElement("canvas");
    drawImages(canvas, await decode(z), CELLS, 1, 0);
    return createImageBitmap(canvas);
  }
  function inMap(ctx, draw) {  // everything drawn on the map is clipped to it
    ctx.save();
    ctx.beginPath();
    ctx.rect(LEFT, PAD, MAP, MAP);
    ctx.clip();
    try { return draw(); } finally { ctx.restore(); }
  }
  function priorCircles(ctx, span, colour) {  // N(0, I)'s 1 and 2 sigma: radius 1 and 2 in z
    const [cx, cy] = [LEFT + MAP / 2, PAD + MAP / 2];
    ctx.setLineDash([5, 4]);
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    for (const k of [1, 2]) {
      const r = k * MAP / (2 * span);
      ctx.beginPath();
      ctx.arc(cx, cy, r, 0, 2 * Math.PI);
      ctx.stroke();
    }
    ctx.setLineDash([]);
    ctx.font = "11px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "bottom";
    for (const k of [1, 2]) {
      const r = k * MAP / (2 * span), text = k === 2 ? "prior 2 sd" : "1 sd";
      ctx.lineWidth = 3; ctx.strokeStyle = colour === "#555" ? "#fff" : "#000"; ctx.strokeText(text, cx, cy - r - 2);
      ctx.fillStyle = colour; ctx.fillText(text, cx, cy - r - 2);
    }
  }
  function marker(ctx, p, radius, fill, label) {  // a dot, or a triangle at the edge for a point beyond the map
    const margin = 1.6 * radius + 1;
    const edge = [Math.min(Math.max(p[0], LEFT + margin), LEFT + MAP - margin),
                  Math.min(Math.max(p[1], PAD + margin), PAD + MAP - margin)];
    const beyond = p[0] < LEFT || p[0] > LEFT + MAP || p[1] < PAD || p[1] > PAD + MAP;
    if (!beyond) { dot(ctx, p, radius, fill, label); return { beyond, at: p }; }
    const dx = p[0] - edge[0], dy = p[1] - edge[1], n = Math.hypot(dx, dy) || 1, [ux, uy] = [dx / n, dy / n];
    const size = 1.6 * radius, back = [edge[0] - ux * size * 0.6, edge[1] - uy * size * 0.6];
    ctx.beginPath();
    ctx.moveTo(edge[0] + ux * size, edge[1] + uy * size);
    ctx.lineTo(back[0] - uy * size * 0.8, back[1] + ux * size * 0.8);
    ctx.lineTo(back[0] + uy * size * 0.8, back[1] - ux * size * 0.8);
    ctx.closePath();
    ctx.fillStyle = fill;
    ctx.fill();
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1;
    ctx.stroke();
    if (label) dot(ctx, edge, 0, fill, label);
    return { beyond, at: edge };
  }
  function dot(ctx, [x, y], radius, fill, label) {
    ctx.beginPath();
    ctx.arc(x, y, radius, 0, 2 * Math.PI);
    ctx.fillStyle = fill;
    if (radius > 0) ctx.fill();
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1;
    if (radius > 0) ctx.stroke();
    if (label) {
      ctx.font = "bold 11px sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "bottom";
      ctx.lineWidth = 3; ctx.strokeText(label, x + radius, y - radius);
      ctx.fillStyle = "#fff"; ctx.fillText(label, x + radius, y - radius);
    }
  }

  // ------------------------------------------------------------------ one image's posterior
  const fmt = (row) => `[${row.slice(0, 8).map((v) => v.toFixed(3)).join(", ")}${row.length > 8 ? ", …" : ""}]`;
  function imageOf(input) {
    if (input && Number.isInteger(input.example)) {
      const ex = api.examples, n = ex ? ex.images.shape[0] : 0;
      [dropped, $("file").value, $("invert").checked] = [null, "", false];  // held-out images are as trained on
      if (input.example < 0 || input.example >= n) throw new RangeError(`example ${input.example}: this site keeps ${n}`);
      const size = H * W * C;
      return { shape: [1, H, W, C], data: ex.images.data.slice(input.example * size, (input.example + 1) * size),
               name: `held-out image ${input.example} (${ex.names[input.example]})` };
    }
    return input;
  }
  async function explain(input, options = {}) {
    await ready;
    const image = imageOf(input);
    const samples = options.samples ?? Number($("eps-count").value), seed = options.seed ?? Number($("eps-seed").value);
    if (!Number.isInteger(samples) || samples < 1 || samples > 64) throw new RangeError(`samples is ${samples}, expected 1..64`);
    [$("eps-seed").value, $("eps-count").value] = [seed, samples];  // what "new eps" and "draw" start from
    const { z_mean: [mean], z_log_var: [logVar] } = await encode(image);
    const sigma = logVar.map((v) => Math.fround(Math.exp(0.5 * v)));
    const noise = eps(samples, seed);
    const z = noise.map((row) => row.map((e, j) => Math.fround(mean[j] + sigma[j] * e)));
    const [decoded, reconstruction] = [await decode(z), await decode([mean])];
    const farLimit = Math.max(FAR, SPAN);  // past the prior and past 99% of held-out images (the map's span)
    const far = mean.some((v) => Math.abs(v) > farLimit);

    drawImages($("original"), image, 1, 4);
    drawImages($("samples-strip"), decoded, Math.min(samples, 2), 2);  // two columns, as in vaedge explain
    drawImages($("reconstructed"), reconstruction, 1, 4);
    const ctx = sized($("explain-map"));
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(tiles, LEFT, PAD, MAP, MAP);
    axes(ctx, SPAN);
    const scale = MAP / (2 * SPAN), [cx, cy] = px(mean, SPAN), ellipses = [];
    inMap(ctx, () => priorCircles(ctx, SPAN, "#5ac8fa"));
    for (const [k, colour] of [[2, "#ff9500"], [1, "#ffcc00"]]) {
      const rx = k * sigma[dims[0]] * scale, ry = k * sigma[dims[1]] * scale;
      inMap(ctx, () => {
        ctx.beginPath();
        ctx.ellipse(cx, cy, rx, ry, 0, 0, 2 * Math.PI);
        ctx.strokeStyle = colour;
        ctx.lineWidth = 2;
        ctx.stroke();
      });
      ellipses.unshift({ k, centre: [(cx - LEFT) / scale - SPAN, SPAN - (cy - PAD) / scale], radii: [rx / scale, ry / scale],
                         pixels: { centre: [cx, cy], radii: [rx, ry] } });
    }
    const points = z.map((row) => px(row, SPAN));
    const [samplesDrawn, meanDrawn] = inMap(ctx, () => [points.map((p, i) => marker(ctx, p, 4, "#30d158", String(i + 1))),
                                                        marker(ctx, [cx, cy], 6, "#ff3b30")]);
    const samplesBeyond = samplesDrawn.filter((m) => m.beyond).length, notes = [];
    if (meanDrawn.beyond) notes.push(`z_mean lies beyond the map (|z| > ${SPAN}): drawn as the red triangle at its edge.`);
    if (samplesBeyond) notes.push(`${samplesBeyond} of ${samples} sampled z lie beyond the map: drawn as triangles at its edge.`);
    $("beyond").hidden = !notes.length;
    $("beyond").textContent = notes.join(" ");

    const [a, b] = dims;
    $("heads").innerHTML = "";
    const rows = [["Dense layer z_mean", "the course's mu", mean], ["Dense layer z_log_var", "the course's \"sigma\": a log-variance", logVar],
                  ["σ = exp(0.5 · z_log_var)", "the standard deviation", sigma]];
    for (const [layer, course, values] of rows) {
      const tr = document.createElement("tr");
      for (const text of [layer, course, fmt(values)]) tr.append(Object.assign(document.createElement("td"), { textContent: text }));
      $("heads").append(tr);
    }
    $("encoded").textContent = `encoder → z_mean = ${fmt(mean)} → decoder` + (D > 2 ? `; the map shows z[${a}] and z[${b}]` : "");
    $("far").hidden = !far;
    $("far").textContent = far ? `z_mean = ${fmt(mean)} lies beyond |z| = ${farLimit} in a dim, past the prior N(0, I) and 99% of held-out images: ` +
      "this image is unlike the training data; is its polarity right?" : "";
    current = { image, seed, samples };
    const result = { name: image.name || "your image", z_mean: mean, z_log_var: logVar, sigma, seed, eps: noise, z, dims,
                     span: SPAN, notes, markers: { mean: meanDrawn, samples: samplesDrawn },
                     ellipses, points: points.map(([x, y]) => [(x - LEFT) / scale - SPAN, SPAN - (y - PAD) / scale]),
                     decoded: Array.from(decoded.data), reconstruction: Array.from(reconstruction.data), far,
                     inverted: $("invert").checked };
    api.lastExplained = result;
    return result;
  }

  // ------------------------------------------------------------------ your own image
  let dropped = null;  // the dropped image's pixels, kept so the checkbox can redo it
  function fromPixels(rgba, invert) {
    const data = new Float32Array(H * W * C);
    for (let p = 0; p < H * W; p++) {
      const gray = (rgba[4 * p] + rgba[4 * p + 1] + rgba[4 * p + 2]) / (3 * 255);
      for (let ch = 0; ch < C; ch++) {
        const v = C >= 3 ? rgba[4 * p + ch] / 255 : gray;
        data[p * C + ch] = invert ? 1 - v : v;
      }
    }
    return { shape: [1, H, W, C], data };
  }
  function lightBorder(rgba) {  // the training images are light objects on a dark background
    let sum = 0, count = 0;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      if (y > 0 && y < H - 1 && x > 0 && x < W - 1) continue;
      const p = 4 * (y * W + x);
      sum += (rgba[p] + rgba[p + 1] + rgba[p + 2]) / (3 * 255);
      count++;
    }
    return sum / count > 0.5;
  }
  async function openFile(file) {
    if (!file || !file.type.startsWith("image/")) throw new TypeError(`${file ? file.name : "nothing"}: not an image`);
    const bitmap = await createImageBitmap(file), canvas = document.createElement("canvas");
    [canvas.width, canvas.height] = [W, H];
    const ctx = canvas.getContext("2d");
    ctx.drawImage(bitmap, 0, 0, W, H);
    dropped = { rgba: ctx.getImageData(0, 0, W, H).data, name: file.name };
    $("invert").checked = lightBorder(dropped.rgba);
    return explainDropped();
  }
  const explainDropped = () => explain({ ...fromPixels(dropped.rgba, $("invert").checked), name: dropped.name });
  function wire() {
    const zone = $("drop");
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      openFile(event.dataTransfer.files[0]).catch(showError);
    });
    $("file").addEventListener("change", (event) => openFile(event.target.files[0]).catch(showError));
    $("invert").addEventListener("change", () => { if (dropped) explainDropped().catch(showError); });
    $("new-eps").addEventListener("click", () => {
      $("eps-seed").value = Number($("eps-seed").value) + 1;
      if (current) explain(current.image).catch(showError);
    });
    $("eps-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if (current) explain(current.image).catch(showError);
    });
  }

  // ------------------------------------------------------------------ held-out thumbnails and clusters
  function thumbnails() {
    const ex = api.examples, size = H * W * C;
    for (let i = 0; i < Math.min(THUMBS, ex.images.shape[0]); i++) {
      const canvas = document.createElement("canvas");
      drawImages(canvas, { shape: [1, H, W, C], data: ex.images.data.subarray(i * size, (i + 1) * size) }, 1, 2);
      canvas.title = ex.names[i];
      canvas.dataset.example = i;
      canvas.addEventListener("click", () => explain({ example: i }).catch(showError));
      $("thumbs").append(canvas);
    }
  }
  let clusterPoints = null;
  async function drawClusters() {
    const ex = api.examples, { z_mean } = await encode(ex.images);
    const span = SPAN, ctx = sized($("clusters"));
    axes(ctx, span);
    const colourOf = (i) => (ex.labels ? COLOURS[ex.labels[i] % COLOURS.length] : UNLABELLED);
    clusterPoints = inMap(ctx, () => {
      const drawn = z_mean.map((row, i) => {
        const p = px(row, span), shown = marker(ctx, p, 3, colourOf(i));
        return { z: [row[dims[0]], row[dims[1]]], pixel: p, at: shown.at, beyond: shown.beyond,
                 label: ex.labels ? ex.labels[i] : null, name: ex.names[i] };
      });
      priorCircles(ctx, span, "#555");  // over the dots: its labels stay legible
      return drawn;
    });
    const beyond = clusterPoints.filter((p) => p.beyond).length;
    const counts = new Map();
    z_mean.forEach((_, i) => counts.set(ex.names[i], [colourOf(i), (counts.get(ex.names[i]) || [0, 0])[1] + 1]));
    const order = ex.labels ? [...new Set(ex.labels)].sort((x, y) => x - y).map((k) => ex.names[ex.labels.indexOf(k)]) : [...counts.keys()];
    $("legend").innerHTML = "";
    for (const name of order) {
      const [colour, count] = counts.get(name), li = document.createElement("li"), swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colour;
      li.append(swatch, `${name} (${count})`);
      $("legend").append(li);
    }
    $("clusters-help").textContent = `z_mean of the ${z_mean.length} held-out images this site keeps (${ex.source}), ` +
      `over z[${dims[0]}] and z[${dims[1]}] from -${span} to ${span}; dashed: the prior's 1 and 2 sd circles.` +
      (beyond ? ` ${beyond} lie beyond the map: triangles at its edge.` : "");
    return { span, dims, points: clusterPoints };
  }
  api.explain = explain;
  api.clusters = async () => { await explained; return { dims, span: clusterSpan, points: clusterPoints }; };
  let clusterSpan = SPAN;

  const explained = ready.then(async (loaded) => {
    site = loaded;
    [H, W, C] = site.image.shape;
    D = site.latent_dim;
    SPAN = (site.latent_map && site.latent_map.span) || PRIOR_SPAN;
    const order = (site.latents && site.latents.order) || [...Array(D).keys()];
    dims = D === 2 ? [0, 1] : order.slice(0, 2);
    if (D < 2) { $("explain").hidden = true; return; }
    wire();
    tiles = await mapTiles();
    if (api.examples) {
      thumbnails();
      clusterSpan = (await drawClusters()).span;
      await explain({ example: 0 });
    } else {
      $("clusters-section").hidden = true;
    }
    document.body.dataset.explained = "true";
  });
  explained.catch((error) => { document.body.dataset.explained = "error"; showError(error); });
})();
