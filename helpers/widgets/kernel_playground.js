// KernelPlayground: run a 3x3 kernel over a real photo and see the result,
// negative responses in blue, positive in red, zero white (nothing clipped).
// Python side: kernel_playground.py (class KernelPlayground); arithmetic:
// conv_math.js; colours: paint.js.
//
// render() = build() once, then draw() when the kernel, stride, padding or
// photo change; pick() reads out one output pixel. The view writes out_shape
// and preset (the menu entry that matches the kernel): what it drew.
import { h, choice, uid, panel, watch, save, report, traitSlider, ARROWS, clamp } from "./ui.js";
import { filterImage, fmt, parseWeight, sizeFormula } from "./conv_math.js";
import { fromBase64, unitPixels } from "./bytes.js";
import { cellAt, diverging, divergingGradient, maxAbs, paint, photoGray } from "./paint.js";

const SETTINGS = ["kernel", "stride", "padding", "image"];
const HINT = "Tap or click the output to read a value (or focus it and use the arrow keys).";

/** A weight as its number box shows it: at most 3 decimals. */
function shown(v) {
  return String(Math.round(v * 1000) / 1000);
}

/** The preset whose weights are K, or "custom". */
function matching(presets, K) {
  return Object.keys(presets).find((name) => JSON.stringify(presets[name]) === JSON.stringify(K)) ?? "custom";
}

// ---- build: the controls, the kernel's number boxes, the two images

function build(model, el) {
  const view = { model, result: null, at: { r: 0, c: 0 } };
  const presets = model.get("presets");
  view.menu = choice({
    label: "Kernel",
    role: "preset",
    value: matching(presets, model.get("kernel")),
    options: [...Object.keys(presets).map((name) => [name, name]), ["custom", "custom (edit the numbers)"]],
    onChange: (name) => {
      if (name !== "custom") save(model, { kernel: presets[name] });
    },
  });
  view.sliders = { stride: traitSlider(model, "stride", "Stride s"), padding: traitSlider(model, "padding", "Padding p") };
  view.problem = h("p", { class: "cnnw-problem", role: "alert", "data-role": "problem", hidden: true });
  view.editor = kernelEditor(view);
  view.input = h("canvas", { class: "cnnw-photo", role: "img", "aria-label": "the input photo, grayscale" });
  // The output is one Tab stop: arrow keys move a marked pixel (Shift: 8 at a time)
  // and its value is read out, as a click or tap does.
  view.output = h("canvas", { class: "cnnw-photo", role: "img", "data-role": "output", tabindex: 0 });
  view.marker = h("div", { class: "cnnw-marker", "aria-hidden": "true", hidden: true });
  view.sizeLine = h("p", { class: "cnnw-formula", "data-role": "formula", "aria-live": "polite" });
  view.range = h("span", { "data-role": "range" });
  view.low = h("span", {});
  view.high = h("span", {});
  const colorbar = h(
    "div",
    { class: "cnnw-colorbar-wrap" },
    h("div", { class: "cnnw-colorbar", "aria-hidden": "true", style: `background: ${divergingGradient()}` }),
    h("div", { class: "cnnw-colorbar-labels" }, view.low, h("span", {}, "0"), view.high),
  );
  view.picked = h("p", { class: "cnnw-note", "data-role": "picked", "aria-live": "polite" }, HINT);
  view.inPanel = panel("Input", view.input);
  view.outPanel = panel("Output", h("div", { class: "cnnw-photo-wrap" }, view.output, view.marker), colorbar);
  listenToOutput(view);
  el.append(
    h(
      "div",
      { class: "cnnw cnnw-playground" },
      h("div", { class: "cnnw-controls" }, view.menu.wrap, view.sliders.stride.wrap, view.sliders.padding.wrap),
      h("div", { class: "cnnw-kernel-box" }, h("p", { class: "cnnw-subhead" }, "Kernel weights (edit any number, then press Enter or Tab):"), view.editor),
      view.problem,
      view.sizeLine,
      h("div", { class: "cnnw-stage" }, view.inPanel, view.outPanel),
      h("p", { class: "cnnw-note" }, view.range),
      view.picked,
    ),
  );
  return view;
}

/**
 * The 3x3 kernel as nine labelled number boxes (view.weights). A box left empty or
 * holding no finite number (1e999, NaN) goes back to the weight in use, and says so.
 */
function kernelEditor(view) {
  const editor = h("div", { class: "cnnw-kernel-edit", role: "group", "aria-label": "kernel weights", "data-role": "kernel" });
  view.weights = [];
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      const id = uid("w");
      const input = h("input", { type: "number", id, step: "0.1", "data-r": r, "data-c": c });
      input.addEventListener("change", () => editWeight(view, r, c, input));
      view.weights.push(input);
      editor.append(h("div", {}, h("label", { for: id, class: "cnnw-sr" }, `weight row ${r}, column ${c}`), input));
    }
  }
  return editor;
}

function editWeight(view, r, c, input) {
  const v = parseWeight(input.value);
  const K = view.model.get("kernel").map((row) => row.slice());
  if (v === null) {
    input.value = shown(K[r][c]);
    view.problem.textContent = `Weight row ${r}, column ${c} needs a finite number; it stays ${fmt(K[r][c])}.`;
    view.problem.hidden = false;
    return;
  }
  view.problem.hidden = true;
  K[r][c] = v;
  save(view.model, { kernel: K });
}

/** Click, tap, focus or arrow keys on the output read out one pixel. */
function listenToOutput(view) {
  const { output } = view;
  output.addEventListener("click", (event) => {
    if (view.result) pick(view, ...cellAt(output, event, view.result.H2, view.result.W2));
  });
  output.addEventListener("focus", () => view.result && pick(view, view.at.r, view.at.c));
  output.addEventListener("keydown", (event) => {
    if (!view.result || !(event.key in ARROWS)) return;
    event.preventDefault();
    const step = event.shiftKey ? 8 : 1;
    const [dr, dc] = ARROWS[event.key];
    pick(view, view.at.r + dr * step, view.at.c + dc * step);
  });
}

// ---- draw: filter the photo, paint both images, write the lines under them

function draw(view) {
  const { model } = view;
  view.problem.hidden = true; // a new kernel or setting answers any earlier complaint
  const H = model.get("height");
  const W = model.get("width");
  const photo = unitPixels(fromBase64(model.get("image")));
  const K = model.get("kernel");
  const s = model.get("stride");
  const p = model.get("padding");
  const result = filterImage(photo, H, W, K.flat(), s, p);
  const { H2, W2, data } = result;
  view.result = result;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const limit = maxAbs(data) || 1; // symmetric: 0 stays white
  paint(view.input, photo, { rows: H, cols: W, colour: photoGray });
  paint(view.output, data, { rows: H2, cols: W2, colour: diverging(limit) });
  for (const canvas of [view.input, view.output]) canvas.style.setProperty("--w", canvas.width);
  view.inPanel.querySelector("figcaption").textContent = `Input ${H}×${W} (grayscale)`;
  view.outPanel.querySelector("figcaption").textContent = `Output ${H2}×${W2}`;
  view.output.setAttribute("aria-label", `filtered image, ${H2} by ${W2} pixels, values from ${fmt(lo)} to ${fmt(hi)}`);
  view.low.textContent = fmt(-limit);
  view.high.textContent = fmt(limit);
  view.sizeLine.replaceChildren(
    `Output size: rows ${sizeFormula(H, 3, p, s)} = ${H2}, columns ${sizeFormula(W, 3, p, s)} = ${W2}, so `,
    h("strong", { "data-role": "out-size" }, `${H2} × ${W2}`),
  );
  view.range.textContent =
    `Output values run from ${fmt(lo)} to ${fmt(hi)}: blue is negative, white is 0, red is positive. ` +
    `The colour scale spans ±${fmt(limit)}, so no value is clipped; colour strength grows with the ` +
    `square root of the size, so weak responses stay visible.`;
  view.range.dataset.min = lo;
  view.range.dataset.max = hi;
  K.flat().forEach((v, t) => {
    if (document.activeElement !== view.weights[t]) view.weights[t].value = shown(v);
  });
  const preset = matching(model.get("presets"), K);
  view.menu.select.value = preset;
  view.sliders.stride.show(s);
  view.sliders.padding.show(p);
  view.picked.textContent = HINT;
  delete view.picked.dataset.value;
  view.marker.hidden = true;
  view.at = { r: Math.min(view.at.r, H2 - 1), c: Math.min(view.at.c, W2 - 1) };
  report(model, { out_shape: [H2, W2], preset });
}

/** Read out output pixel (r, c) and mark it on the canvas. */
function pick(view, r, c) {
  const { H2, W2, data } = view.result;
  view.at = { r: clamp(r, 0, H2 - 1), c: clamp(c, 0, W2 - 1) };
  const value = data[view.at.r * W2 + view.at.c];
  view.picked.textContent = `Output pixel (row ${view.at.r}, column ${view.at.c}) = ${value.toFixed(3)}`;
  view.picked.dataset.value = String(value);
  Object.assign(view.marker.style, {
    left: `${(100 * view.at.c) / W2}%`,
    top: `${(100 * view.at.r) / H2}%`,
    width: `${100 / W2}%`,
    height: `${100 / H2}%`,
  });
  view.marker.hidden = false;
}

function render({ model, el }) {
  const view = build(model, el);
  return watch(model, SETTINGS, [], () => draw(view));
}

export default { render };
