// NetworkExplorer: draw a digit (or pick a test image) and watch every layer of
// a trained network respond, computed here in the page from the exported weights.
// Python side: network_explorer.py; arithmetic: net_math.js; colours: paint.js.
//
// render() = build() once; rebuild() when the weights change (update_model in
// Python), update() on every stroke or picked image, select() for the unit under
// the pointer. The view writes `probabilities` (what it computed); the picked
// test image, `sample`, is written by whichever side the reader used.
import { h, choice, panel, watch, save, report, ARROWS, clamp } from "./ui.js";
import { drawingBoard } from "./drawing_board.js";
import { fromBase64, unitPixels } from "./bytes.js";
import { cellAt, diverging, inkGray, maxAbs, paint } from "./paint.js";
import { buildNet, centerDigit, decodeWeights, forward, normalize, receptiveField, softmax } from "./net_math.js";

const BOARD = 140; // drawing canvas, pixels (shown larger); the digit is scaled down to 20x20 of 28x28
const INK = 11; // stroke width on that canvas: about 2 pixels after scaling, as in MNIST
const SIDE = 28; // the network's input is SIDE x SIDE
const MODEL_TRAITS = ["layers", "weights", "dtype", "mean", "std", "input_shape"];
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

/** Which conv layer made channel c of layer i (the last conv at or before it), or null. */
function sourceConv(net, i) {
  for (let t = i; t >= 0; t--) if (net[t].type === "conv") return t;
  return null;
}

// ---- build: the drawing board, the picker, the prediction, empty places for the layers

function build(model, el) {
  const classes = model.get("classes");
  const view = {
    model,
    classes,
    net: null,
    activations: null, // each layer's output for the current input (net_math.forward)
    input: null, // 28x28 in [0, 1]
    tiles: [], // per layer: {canvases} for maps, or {strip} for vectors
    focused: null, // [layer index, channel, row, col] of the selected unit
    timings: [],
    source: model.get("sample") >= 0 ? "sample" : "drawing", // where the input comes from
  };
  view.board = drawingBoard({
    size: BOARD,
    ink: INK,
    onStart: () => {
      if (view.source !== "sample") return;
      view.source = "drawing"; // a stroke starts a new drawing in place of the picked image
      view.board.clear();
      view.picker.select.value = "-1";
      save(model, { sample: -1 });
    },
    onStroke: () => update(view),
    onEnd: () => {
      update(view);
      reportProbabilities(view);
    },
  });
  const clear = h("button", { type: "button", class: "cnnw-button", "data-role": "clear" }, "Clear");
  clear.addEventListener("click", () => {
    view.board.clear();
    view.picker.select.value = "-1";
    pick(view, -1);
  });
  const options = [["-1", "your drawing"], ...model.get("sample_labels").map((y, i) => [String(i), `test image ${i + 1}: a ${classes[y]}`])];
  view.picker = choice({ label: "Test image", options, value: String(model.get("sample")), role: "sample", onChange: (v) => pick(view, Number(v)) });
  view.seen = h("canvas", { class: "cnnw-seen", width: SIDE, height: SIDE, "data-role": "input", role: "img",
    "aria-label": "the 28 by 28 input the network sees" });
  view.field = h("canvas", { class: "cnnw-field", width: SIDE * 8, height: SIDE * 8, "aria-hidden": "true" });
  view.verdict = h("p", { class: "cnnw-verdict", "data-role": "prediction", "aria-live": "polite" });
  const bars = h("div", { class: "cnnw-bars", "data-role": "probabilities" });
  view.bars = classes.map((name) => {
    const fill = h("span", { class: "cnnw-bar-fill" });
    const value = h("span", { class: "cnnw-bar-value" });
    const row = h("div", { class: "cnnw-bar" }, h("span", { class: "cnnw-bar-label" }, name),
      h("span", { class: "cnnw-bar-track" }, fill), value);
    bars.append(row);
    return { row, fill, value };
  });
  view.layersBox = h("div", { class: "cnnw-layers", "data-role": "layers" });
  view.layersBox.addEventListener("keydown", (event) => mapKey(view, event));
  view.detail = h("div", { class: "cnnw-detail", "data-role": "detail", "aria-live": "polite" },
    "Hover over or tap a feature map, or focus one with Tab, to see its kernel and receptive field. " +
    "Arrow keys move between maps; Shift and an arrow key move the unit inside a map.");
  view.root = h(
    "div",
    { class: "cnnw cnnw-network" },
    h("div", { class: "cnnw-net-top" },
      panel("Draw a digit", view.board.canvas, h("div", { class: "cnnw-net-controls" }, clear, view.picker.wrap)),
      panel("What the network sees: 28×28, centred", h("div", { class: "cnnw-seen-wrap" }, view.seen, view.field)),
      panel("Class probabilities", view.verdict, bars)),
    view.detail,
    view.layersBox,
  );
  el.append(view.root);
  return view;
}

/** Test image i of the ones Python stored, as 28x28 values in [0, 1]. */
function samplePixels(model, i) {
  return unitPixels(fromBase64(model.get("samples")), i * SIDE * SIDE, SIDE * SIDE);
}

// ---- rebuild: the network and one row of canvases per layer

function rebuild(view) {
  const { model } = view;
  view.net = buildNet(model.get("layers"), decodeWeights(model.get("weights"), model.get("dtype")));
  view.tiles = [];
  view.layersBox.replaceChildren(...view.net.map((L, i) => layerRow(view, L, i)));
  const maps = view.layersBox.querySelectorAll(".cnnw-map");
  if (maps.length) maps[0].tabIndex = 0;
  update(view);
  reportProbabilities(view); // new weights, new answer: Python's copy must not go stale
}

/** A layer's figure: one canvas per channel for maps, one strip for a vector. */
function layerRow(view, L, i) {
  const s = L.shape;
  const title = h("figcaption", {}, `${L.path} ${NAMES[L.type]}${L.folded ? " + BatchNorm" : ""} → ${s.join("×")}`);
  if (s.length === 3 && !(s[1] === 1 && s[2] === 1)) {
    const [C, H, W] = s;
    const canvases = Array.from({ length: C }, (_, c) => {
      const canvas = h("canvas", { class: "cnnw-map", width: W, height: H, tabindex: -1, role: "img",
        "aria-label": `${L.path} channel ${c + 1}`, "data-layer": i, "data-channel": c });
      canvas.style.setProperty("--w", String(W));
      canvas.addEventListener("mousemove", (event) => select(view, i, c, ...cellAt(canvas, event, H, W)));
      canvas.addEventListener("focus", () => select(view, i, c, Math.floor(H / 2), Math.floor(W / 2)));
      return canvas;
    });
    view.tiles.push({ canvases });
    return h("figure", { class: "cnnw-layer", "data-layer": i }, title, h("div", { class: "cnnw-maps" }, canvases));
  }
  const strip = h("canvas", { class: "cnnw-strip", width: s[0], height: 1, role: "img",
    "aria-label": `${L.path} ${s[0]} values`, "data-layer": i });
  view.tiles.push({ strip });
  return h("figure", { class: "cnnw-layer", "data-layer": i }, title, strip);
}

/**
 * The maps are one Tab stop. Arrow keys move between maps (left/right in a layer,
 * up/down to the same channel of the next layer with maps); Shift + arrow moves the
 * selected unit inside its map, as hovering over it would.
 */
function mapKey(view, event) {
  const all = [...view.layersBox.querySelectorAll(".cnnw-map")];
  const at = all.indexOf(document.activeElement);
  if (at < 0 || !(event.key in ARROWS)) return;
  const [dr, dc] = ARROWS[event.key];
  if (event.shiftKey && view.focused) {
    event.preventDefault();
    const [i, c, r, col] = view.focused;
    const [, H, W] = view.net[i].shape;
    select(view, i, c, clamp(r + dr, 0, H - 1), clamp(col + dc, 0, W - 1));
    return;
  }
  const here = all[at];
  let next = all[at + dc];
  if (dr !== 0) {
    const layers = [...new Set(all.map((cv) => Number(cv.dataset.layer)))];
    const other = layers[layers.indexOf(Number(here.dataset.layer)) + dr];
    const there = all.filter((cv) => Number(cv.dataset.layer) === other);
    next = there[Math.min(Number(here.dataset.channel), there.length - 1)];
  }
  if (!next) return; // the edge: leave the key to the page
  event.preventDefault();
  here.tabIndex = -1;
  next.tabIndex = 0;
  next.focus();
}

// ---- update: prepare the input, run the network, paint every layer and the bars

function update(view) {
  const start = performance.now();
  const { model } = view;
  view.input = view.source === "sample"
    ? samplePixels(model, model.get("sample"))
    : centerDigit(view.board.read(), BOARD, BOARD) || new Float64Array(SIDE * SIDE);
  paint(view.seen, view.input, { rows: SIDE, cols: SIDE, colour: inkGray });
  const x = normalize(view.input, model.get("mean"), model.get("std"));
  view.activations = forward(view.net, x, model.get("input_shape"));
  view.activations.forEach((out, i) => paintLayer(view.tiles[i], out));
  showProbabilities(view);
  if (view.focused) select(view, ...view.focused);
  view.timings.push(performance.now() - start);
  if (view.timings.length > 500) view.timings.shift();
}

/** One layer's output on its canvases, on one colour scale for the whole layer. */
function paintLayer(tile, { data, shape }) {
  const colour = diverging(maxAbs(data));
  if (tile.canvases) {
    const [, H, W] = shape;
    tile.canvases.forEach((canvas, c) => paint(canvas, data, { rows: H, cols: W, colour, offset: c * H * W }));
  } else {
    paint(tile.strip, data, { rows: 1, cols: data.length, colour });
  }
}

function probabilities(view) {
  return softmax(view.activations.at(-1).data);
}

function showProbabilities(view) {
  const probs = probabilities(view);
  const best = probs.indexOf(Math.max(...probs));
  view.bars.forEach(({ row, fill, value }, k) => {
    fill.style.width = `${(100 * probs[k]).toFixed(1)}%`;
    value.textContent = `${(100 * probs[k]).toFixed(1)}%`;
    row.dataset.value = String(probs[k]);
    row.classList.toggle("cnnw-best", k === best);
  });
  const drawnNothing = view.source === "drawing" && !view.input.some((v) => v > 0);
  view.verdict.textContent = drawnNothing
    ? "Draw a digit above (or pick a test image): an empty input still gets an answer."
    : `Prediction: ${view.classes[best]} (${(100 * probs[best]).toFixed(1)}%)`;
  view.verdict.dataset.best = String(best);
}

/** Send the probabilities to Python: after a stroke ends, not on every piece of one. */
function reportProbabilities(view) {
  report(view.model, { probabilities: probabilities(view) });
}

// ---- select: one unit's value, receptive field and kernel

function select(view, i, c, r, col) {
  view.focused = [i, c, r, col];
  const L = view.net[i];
  const [[r0, r1], [c0, c1]] = receptiveField(view.net, i, r, col);
  outlineField(view.field, r0, r1, c0, c1);
  const value = view.activations[i].data[(c * L.shape[1] + r) * L.shape[2] + col];
  const parts = [
    h("p", { class: "cnnw-detail-head" },
      `${L.path} ${NAMES[L.type]}, channel ${c + 1}, unit (${r}, ${col}) = ${value.toFixed(3)}. ` +
      `It depends on input rows ${r0} to ${r1} and columns ${c0} to ${c1} ` +
      `(${r1 - r0 + 1}×${c1 - c0 + 1}, outlined on the input${r0 < 0 || c0 < 0 || r1 >= SIDE || c1 >= SIDE ? "; part of it is padding" : ""}).`),
  ];
  const conv = sourceConv(view.net, i);
  if (conv !== null) parts.push(...kernelSlices(view.net[conv], c));
  view.detail.replaceChildren(fieldThumb(view, r0, r1, c0, c1), h("div", { class: "cnnw-detail-text" }, ...parts));
}

/** Outline input rows r0..r1 and columns c0..c1 (clipped to the input) on the overlay canvas. */
function outlineField(field, r0, r1, c0, c1) {
  const ctx = field.getContext("2d");
  ctx.clearRect(0, 0, field.width, field.height);
  const k = field.width / SIDE;
  const [y0, x0] = [Math.max(r0, 0), Math.max(c0, 0)];
  const [y1, x1] = [Math.min(r1, SIDE - 1), Math.min(c1, SIDE - 1)];
  ctx.strokeStyle = "#c2410c";
  ctx.lineWidth = 3;
  ctx.fillStyle = "rgba(255, 146, 43, 0.25)";
  ctx.fillRect(x0 * k, y0 * k, (x1 - x0 + 1) * k, (y1 - y0 + 1) * k);
  ctx.strokeRect(x0 * k, y0 * k, (x1 - x0 + 1) * k, (y1 - y0 + 1) * k);
}

/**
 * The same outline on a small copy of the input beside the text, so it stays in
 * sight next to the maps where the page stacks the panels (a phone).
 */
function fieldThumb(view, r0, r1, c0, c1) {
  const { seen, field } = view;
  const thumb = h("canvas", { class: "cnnw-thumb", width: field.width, height: field.height, role: "img",
    "data-role": "field-thumb", "aria-label": `the input with rows ${r0} to ${r1} and columns ${c0} to ${c1} outlined` });
  const ctx = thumb.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(seen, 0, 0, thumb.width, thumb.height);
  ctx.drawImage(field, 0, 0);
  return thumb;
}

/** The kernel behind output channel c of conv layer K: one small canvas per input channel. */
function kernelSlices(K, c) {
  const [kh, kw] = K.kernel_size;
  const per = kh * kw;
  const start = c * K.in_channels * per;
  const colour = diverging(maxAbs(K.W, start, start + K.in_channels * per));
  const slices = Array.from({ length: K.in_channels }, (_, ci) => {
    const canvas = h("canvas", { class: "cnnw-kernel-map", width: kw, height: kh, role: "img",
      "aria-label": `kernel slice for input channel ${ci + 1}` });
    paint(canvas, K.W, { rows: kh, cols: kw, colour, offset: start + ci * per });
    return canvas;
  });
  return [
    h("p", {}, `Its kernel (${K.path}${K.folded ? ", BatchNorm folded in" : ""}): ` +
      `${K.in_channels} slice${K.in_channels > 1 ? "s" : ""} of ${kh}×${kw}, one per input channel; red positive, blue negative.`),
    h("div", { class: "cnnw-kernels", "data-role": "kernel" }, slices),
  ];
}

// ---- pick: a test image (i >= 0) or the reader's drawing (-1)

function pick(view, i) {
  if (i >= 0) {
    view.source = "sample";
    view.board.show(samplePixels(view.model, i));
  } else {
    view.source = "drawing";
  }
  save(view.model, { sample: i });
  update(view);
  reportProbabilities(view);
}

function render({ model, el }) {
  const view = build(model, el);
  if (view.source === "sample") view.board.show(samplePixels(model, model.get("sample")));
  // Prepare a small blob once, so that the reader's first stroke does not also pay for
  // compiling the preparation code (it then redraws as fast as the strokes after it).
  centerDigit(Float64Array.from({ length: 36 }, (_, t) => (t % 7 === 0 ? 1 : 0)), 6, 6);
  // `sample` set from Python: show that image (a change from this view is already shown)
  const followSample = () => {
    const i = model.get("sample");
    if (view.picker.select.value !== String(i)) {
      view.picker.select.value = String(i);
      pick(view, i);
    }
  };
  const stop = watch(model, MODEL_TRAITS, ["sample"], () => rebuild(view), followSample);

  // For tests and curious readers: the forward pass on any normalised input.
  view.root.cnnwNetwork = {
    forward: (x) => Array.from(forward(view.net, Float64Array.from(x), model.get("input_shape")).at(-1).data),
    centerDigit: (img, H, W) => Array.from(centerDigit(Float64Array.from(img), H, W) || []),
    input: () => Array.from(view.input),
    timings: view.timings,
  };
  return stop;
}

export default { render };
