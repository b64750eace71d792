// NetworkExplorer: draw a digit (or pick a test image) and watch every layer of
// a trained network respond, computed here in the page from the exported weights.
// Python side: helpers/widgets/network_explorer.py; arithmetic: net_math.js.
import { h, choice, panel, watch } from "./ui.js";
import { drawPad } from "./draw_pad.js";
import { buildNet, centerDigit, decodeWeights, forward, normalize, receptiveField, softmax } from "./net_math.js";

const PAD = 140; // drawing canvas, pixels (shown larger); the digit is scaled down to 20x20 of 28x28
const INK = 11; // stroke width on that canvas: about 2 pixels after scaling, as in MNIST
const NEGATIVE = [33, 102, 172];
const POSITIVE = [178, 24, 43];
const NAMES = {
  conv: "Conv2d",
  maxpool: "MaxPool2d",
  avgpool: "AvgPool2d",
  globalavgpool: "AdaptiveAvgPool2d",
  affine: "BatchNorm",
  relu: "ReLU",
  sigmoid: "Sigmoid",
  tanh: "Tanh",
  flatten: "Flatten",
  linear: "Linear",
};

/**
 * Paint values (rows x cols, row by row, from `offset`) into a canvas: white at 0, red
 * above, blue below, strength sqrt(|v| / limit); or gray ink (0 white, 1 black).
 * Runs on every stroke, so it reuses the canvas's pixel buffer and allocates nothing.
 */
function paint(canvas, values, offset, rows, cols, limit, gray = false) {
  if (canvas.width !== cols) canvas.width = cols;
  if (canvas.height !== rows) canvas.height = rows;
  const ctx = canvas.getContext("2d");
  if (!canvas.cnnwPixels || canvas.cnnwPixels.width !== cols || canvas.cnnwPixels.height !== rows) {
    canvas.cnnwPixels = ctx.createImageData(cols, rows);
  }
  const img = canvas.cnnwPixels;
  const out = img.data;
  const scale = limit || 1;
  for (let t = 0; t < rows * cols; t++) {
    const v = values[offset + t];
    let r;
    let g;
    let b;
    if (gray) {
      r = g = b = 255 - v * 255;
    } else {
      const x = Math.max(-1, Math.min(1, v / scale));
      const s = Math.sqrt(Math.abs(x));
      const end = x < 0 ? NEGATIVE : POSITIVE;
      r = 255 + (end[0] - 255) * s;
      g = 255 + (end[1] - 255) * s;
      b = 255 + (end[2] - 255) * s;
    }
    out[4 * t] = r; // a Uint8ClampedArray rounds and clamps
    out[4 * t + 1] = g;
    out[4 * t + 2] = b;
    out[4 * t + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

function maxAbs(values) {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

/** Which conv layer made channel c of layer i (the last conv at or before it), or null. */
function sourceConv(net, i) {
  for (let t = i; t >= 0; t--) if (net[t].type === "conv") return t;
  return null;
}

function render({ model, el }) {
  const classes = model.get("classes");
  const put = (changes) => {
    for (const [name, value] of Object.entries(changes)) model.set(name, value);
    model.save_changes();
  };

  // ---- the drawing pad and the sample picker
  const pad = drawPad({
    size: PAD,
    ink: INK,
    onStart: () => {
      if (mode !== "sample") return;
      mode = "drawing"; // a stroke starts a new drawing in place of the picked image
      pad.clear();
      picker.select.value = "-1";
      put({ sample: -1 });
    },
    onStroke: () => update(),
    onEnd: () => {
      update();
      report();
    },
  });
  const clear = h("button", { type: "button", class: "cnnw-button", "data-role": "clear" }, "Clear");
  const labels = model.get("sample_labels");
  const options = [["-1", "your drawing"], ...labels.map((y, i) => [String(i), `test image ${i + 1}: a ${classes[y]}`])];
  const picker = choice({
    label: "Test image",
    options,
    value: String(model.get("sample")),
    role: "sample",
    onChange: (v) => pick(Number(v)),
  });
  const seen = h("canvas", { class: "cnnw-seen", width: 28, height: 28, "data-role": "input", role: "img",
    "aria-label": "the 28 by 28 input the network sees" });
  const field = h("canvas", { class: "cnnw-field", width: 28 * 8, height: 28 * 8, "aria-hidden": "true" });
  const seenWrap = h("div", { class: "cnnw-seen-wrap" }, seen, field);

  // ---- the prediction
  const verdict = h("p", { class: "cnnw-verdict", "data-role": "prediction", "aria-live": "polite" });
  const bars = h("div", { class: "cnnw-bars", "data-role": "probabilities" });
  const barRows = classes.map((name) => {
    const fill = h("span", { class: "cnnw-bar-fill" });
    const value = h("span", { class: "cnnw-bar-value" });
    const row = h("div", { class: "cnnw-bar" }, h("span", { class: "cnnw-bar-label" }, name),
      h("span", { class: "cnnw-bar-track" }, fill), value);
    bars.append(row);
    return { row, fill, value };
  });

  const layersBox = h("div", { class: "cnnw-layers", "data-role": "layers" });
  const detail = h("div", { class: "cnnw-detail", "data-role": "detail", "aria-live": "polite" },
    "Hover over or tap a feature map, or focus one with Tab, to see its kernel and receptive field. " +
    "Arrow keys move between maps; Shift and an arrow key move the unit inside a map.");
  const root = h(
    "div",
    { class: "cnnw cnnw-network" },
    h("div", { class: "cnnw-net-top" },
      panel("Draw a digit", pad.canvas, h("div", { class: "cnnw-net-controls" }, clear, picker.wrap)),
      panel("What the network sees: 28×28, centred", seenWrap),
      panel("Class probabilities", verdict, bars)),
    detail,
    layersBox,
  );
  el.append(root);

  let net = null;
  let shape = null;
  let steps = null;
  let input = null; // 28x28 in [0, 1]
  let tiles = []; // per layer: {canvases, limit} for spatial layers or {strip}
  let focused = null; // [layer index, channel, row, col]
  const timings = [];
  let mode = model.get("sample") >= 0 ? "sample" : "drawing";

  function samplePixels(i) {
    const bin = atob(model.get("samples"));
    const n = 28 * 28;
    const out = new Float64Array(n);
    for (let t = 0; t < n; t++) out[t] = bin.charCodeAt(i * n + t) / 255;
    return out;
  }

  /** (Re)build the network from the stored layers and weights, and the DOM for its layers. */
  function rebuild() {
    net = buildNet(model.get("layers"), decodeWeights(model.get("weights"), model.get("dtype")));
    shape = model.get("input_shape");
    tiles = [];
    const rows = [];
    net.forEach((L, i) => {
      const s = L.shape;
      const title = `${L.path} ${NAMES[L.type]}${L.folded ? " + BatchNorm" : ""} → ${s.join("×")}`;
      if (s.length === 3 && !(s[1] === 1 && s[2] === 1)) {
        const canvases = Array.from({ length: s[0] }, (_, c) => {
          const cv = h("canvas", { class: "cnnw-map", width: s[2], height: s[1], tabindex: -1, role: "img",
            "aria-label": `${L.path} channel ${c + 1}`, "data-layer": i, "data-channel": c });
          cv.style.setProperty("--w", String(s[2]));
          cv.addEventListener("mousemove", (event) => {
            const box = cv.getBoundingClientRect();
            const r = Math.min(s[1] - 1, Math.floor(((event.clientY - box.top) / box.height) * s[1]));
            const col = Math.min(s[2] - 1, Math.floor(((event.clientX - box.left) / box.width) * s[2]));
            select(i, c, r, col);
          });
          cv.addEventListener("focus", () => select(i, c, Math.floor(s[1] / 2), Math.floor(s[2] / 2)));
          return cv;
        });
        tiles.push({ canvases });
        rows.push(h("figure", { class: "cnnw-layer", "data-layer": i },
          h("figcaption", {}, title), h("div", { class: "cnnw-maps" }, canvases)));
      } else {
        const strip = h("canvas", { class: "cnnw-strip", width: s[0], height: 1, role: "img",
          "aria-label": `${L.path} ${s[0]} values`, "data-layer": i });
        tiles.push({ strip });
        rows.push(h("figure", { class: "cnnw-layer", "data-layer": i }, h("figcaption", {}, title), strip));
      }
    });
    layersBox.replaceChildren(...rows);
    const all = [...layersBox.querySelectorAll(".cnnw-map")];
    if (all.length) all[0].tabIndex = 0;
    layersBox.onkeydown = (event) => {
      const at = all.indexOf(document.activeElement);
      if (at < 0) return;
      let next = null;
      const here = all[at];
      const layer = Number(here.dataset.layer);
      const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
      if (event.shiftKey && event.key in moves && focused) {
        // Shift + arrow: the next unit of this map, as hovering over it would pick
        event.preventDefault();
        const [i, c, r, col] = focused;
        const [, H, W] = net[i].shape;
        const [dr, dc] = moves[event.key];
        select(i, c, Math.max(0, Math.min(H - 1, r + dr)), Math.max(0, Math.min(W - 1, col + dc)));
        return;
      }
      if (event.key === "ArrowRight") next = all[at + 1];
      else if (event.key === "ArrowLeft") next = all[at - 1];
      else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        const down = event.key === "ArrowDown";
        const layers = [...new Set(all.map((cv) => Number(cv.dataset.layer)))];
        const other = layers[layers.indexOf(layer) + (down ? 1 : -1)];
        if (other !== undefined) {
          const there = all.filter((cv) => Number(cv.dataset.layer) === other);
          next = there[Math.min(Number(here.dataset.channel), there.length - 1)];
        }
      }
      if (!next) return;
      event.preventDefault();
      here.tabIndex = -1;
      next.tabIndex = 0;
      next.focus();
    };
    update();
  }

  /** Preprocess, run the network, and paint every layer and the bars. */
  function update() {
    const start = performance.now();
    if (mode === "sample") input = samplePixels(model.get("sample"));
    else input = centerDigit(pad.read(), PAD, PAD) || new Float64Array(28 * 28);
    paint(seen, input, 0, 28, 28, 1, true);
    const x = normalize(input, model.get("mean"), model.get("std"));
    steps = forward(net, x, shape);
    steps.forEach((step, i) => {
      const t = tiles[i];
      const limit = maxAbs(step.data);
      if (t.canvases) {
        const [C, H, W] = step.shape;
        t.canvases.forEach((cv, c) => paint(cv, step.data, c * H * W, H, W, limit));
      } else {
        paint(t.strip, step.data, 0, 1, step.data.length, limit);
      }
    });
    const logits = steps[steps.length - 1].data;
    const probs = softmax(logits);
    const best = probs.indexOf(Math.max(...probs));
    const drawnNothing = mode === "drawing" && !input.some((v) => v > 0);
    barRows.forEach(({ row, fill, value }, k) => {
      fill.style.width = `${(100 * probs[k]).toFixed(1)}%`;
      value.textContent = `${(100 * probs[k]).toFixed(1)}%`;
      row.dataset.value = String(probs[k]);
      row.classList.toggle("cnnw-best", k === best);
    });
    verdict.textContent = drawnNothing
      ? "Draw a digit above (or pick a test image): an empty input still gets an answer."
      : `Prediction: ${classes[best]} (${(100 * probs[best]).toFixed(1)}%)`;
    verdict.dataset.best = String(best);
    if (focused) select(...focused);
    timings.push(performance.now() - start);
    if (timings.length > 500) timings.shift();
  }

  /** Show the kernel behind a map and the receptive field of one of its units. */
  function select(i, c, r, col) {
    focused = [i, c, r, col];
    const fctx = field.getContext("2d");
    fctx.clearRect(0, 0, field.width, field.height);
    const [[r0, r1], [c0, c1]] = receptiveField(net, i, r, col);
    const k = field.width / 28;
    fctx.strokeStyle = "#c2410c";
    fctx.lineWidth = 3;
    fctx.fillStyle = "rgba(255, 146, 43, 0.25)";
    const [y0, x0] = [Math.max(r0, 0), Math.max(c0, 0)];
    const [y1, x1] = [Math.min(r1, 27), Math.min(c1, 27)];
    fctx.fillRect(x0 * k, y0 * k, (x1 - x0 + 1) * k, (y1 - y0 + 1) * k);
    fctx.strokeRect(x0 * k, y0 * k, (x1 - x0 + 1) * k, (y1 - y0 + 1) * k);
    // the same outline on a small copy of the input beside the text, so it stays in
    // sight next to the maps where the page stacks the panels (a phone)
    const thumb = h("canvas", { class: "cnnw-thumb", width: field.width, height: field.height, role: "img",
      "data-role": "field-thumb", "aria-label": `the input with rows ${r0} to ${r1} and columns ${c0} to ${c1} outlined` });
    const tctx = thumb.getContext("2d");
    tctx.imageSmoothingEnabled = false;
    tctx.drawImage(seen, 0, 0, thumb.width, thumb.height);
    tctx.drawImage(field, 0, 0);
    const L = net[i];
    const conv = sourceConv(net, i);
    const parts = [
      h("p", { class: "cnnw-detail-head" },
        `${L.path} ${NAMES[L.type]}, channel ${c + 1}, unit (${r}, ${col}) = ${steps ? steps[i].data[(c * L.shape[1] + r) * L.shape[2] + col].toFixed(3) : ""}. ` +
        `It depends on input rows ${r0} to ${r1} and columns ${c0} to ${c1} ` +
        `(${r1 - r0 + 1}×${c1 - c0 + 1}, outlined on the input${r0 < 0 || c0 < 0 || r1 > 27 || c1 > 27 ? "; part of it is padding" : ""}).`),
    ];
    if (conv !== null) {
      const K = net[conv];
      const [kh, kw] = K.kernel_size;
      const per = kh * kw;
      const slices = [];
      const limit = maxAbs(K.W.subarray(c * K.in_channels * per, (c + 1) * K.in_channels * per));
      for (let ci = 0; ci < K.in_channels; ci++) {
        const cv = h("canvas", { class: "cnnw-kernel-map", width: kw, height: kh, role: "img",
          "aria-label": `kernel slice for input channel ${ci + 1}` });
        paint(cv, K.W, (c * K.in_channels + ci) * per, kh, kw, limit);
        slices.push(cv);
      }
      parts.push(h("p", {}, `Its kernel (${K.path}${K.folded ? ", BatchNorm folded in" : ""}): ` +
        `${K.in_channels} slice${K.in_channels > 1 ? "s" : ""} of ${kh}×${kw}, one per input channel; red positive, blue negative.`));
      parts.push(h("div", { class: "cnnw-kernels", "data-role": "kernel" }, slices));
    }
    detail.replaceChildren(thumb, h("div", { class: "cnnw-detail-text" }, ...parts));
  }

  function pick(i) {
    if (i >= 0) {
      mode = "sample";
      pad.show(samplePixels(i));
    } else {
      mode = "drawing";
    }
    put({ sample: i });
    update();
    report();
  }

  function report() {
    const probs = softmax(steps[steps.length - 1].data);
    put({ probabilities: probs });
  }

  clear.addEventListener("click", () => {
    pad.clear();
    picker.select.value = "-1";
    pick(-1);
  });

  if (mode === "sample") pad.show(samplePixels(model.get("sample")));
  // Prepare a small blob once, so that the reader's first stroke does not also pay for
  // compiling the preparation code (it then redraws as fast as the strokes after it).
  centerDigit(Float64Array.from({ length: 36 }, (_, t) => (t % 7 === 0 ? 1 : 0)), 6, 6);
  const stop = watch(model, ["layers", "weights", "dtype", "mean", "std", "input_shape"], ["sample"], rebuild, () => {
    const i = model.get("sample");
    if (picker.select.value !== String(i)) {
      picker.select.value = String(i);
      pick(i);
    }
  });

  // For tests and curious readers: the forward pass on any normalised input.
  root.cnnwNetwork = {
    forward: (x) => Array.from(forward(net, Float64Array.from(x), shape).at(-1).data),
    centerDigit: (img, H, W) => Array.from(centerDigit(Float64Array.from(img), H, W) || []),
    input: () => Array.from(input),
    timings,
  };
  return stop;
}

export default { render };
