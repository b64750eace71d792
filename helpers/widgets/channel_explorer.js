// ChannelExplorer: a convolution with several input and output channels.
// Each input channel meets its own kernel slice; the per-channel sums plus the
// bias give one output value; one kernel per output channel, stacked.
// Python side: channel_explorer.py (class ChannelExplorer); arithmetic: conv_math.js.
//
// render() = build() once, then draw() when a setting changes and highlight()
// when the explained output value (channel, position) moves. The view writes
// Y and error (what it drew).
import { h, grid, selectable, stepper, panel, watch, save, report, slider, traitSlider } from "./ui.js";
import { fmt, isPadding, multiChannel, pad, sizeFormula, taps } from "./conv_math.js";

const SETTINGS = ["X", "K", "bias", "padding", "stride"];

/** A nested array's shape as text, e.g. "(2, 3, 3)". */
function shapeText(array) {
  const dims = [];
  for (let a = array; Array.isArray(a); a = a[0]) dims.push(a.length);
  return `(${dims.join(", ")})`;
}

// ---- build: the controls and the empty places that draw() and highlight() fill

function build(model, el) {
  const view = { model, drawn: null };
  const cells = () => view.drawn.result.size ** 2; // output cells per channel
  view.sliders = {
    padding: traitSlider(model, "padding", "Padding p"),
    stride: traitSlider(model, "stride", "Stride s"),
    // its range is the number of output channels, not a limit
    channel: slider({ label: "Output channel", role: "channel", min: 0, max: model.get("K").length - 1,
      value: model.get("channel"), onChange: (v) => save(model, { channel: v }) }),
  };
  view.shapes = h("p", { class: "cnnw-formula", "data-role": "formula", "aria-live": "polite" });
  view.problem = h("p", { class: "cnnw-problem", role: "alert", "data-role": "problem" });
  view.slices = h("div", { class: "cnnw-slices" });
  view.calc = h("p", { class: "cnnw-calc", "data-role": "calc" });
  view.volume = h("div", { class: "cnnw-stage cnnw-volume" });
  // steps through every output value, channel by channel
  view.stepper = stepper({
    label: "output",
    count: () => (view.drawn?.ok ? view.drawn.result.Y.length * cells() : 0),
    get: () => model.get("channel") * cells() + model.get("position"),
    set: (g) => save(model, { channel: Math.floor(g / cells()), position: g % cells() }),
  });
  el.append(
    h(
      "div",
      { class: "cnnw cnnw-channels" },
      h("div", { class: "cnnw-controls" }, view.sliders.padding.wrap, view.sliders.stride.wrap),
      view.shapes,
      view.problem,
      h("p", { class: "cnnw-subhead" }, "Each input channel meets its own slice of the kernel:"),
      view.slices,
      view.calc,
      view.stepper.wrap,
      h("p", { class: "cnnw-subhead" }, "The output channels, one per kernel, stacked into one output:"),
      // next to the outputs it picks from (the kernel slices above follow it too)
      h("div", { class: "cnnw-controls" }, view.sliders.channel.wrap),
      view.volume,
    ),
  );
  return view;
}

// ---- draw: the shapes line and the stacked output channels

function draw(view) {
  const { model } = view;
  const X = model.get("X");
  const K = model.get("K");
  const bias = model.get("bias");
  const p = model.get("padding");
  const s = model.get("stride");
  const result = multiChannel(X, K, bias, p, s);
  const ok = !result.problem;
  const n = X[0].length;
  const k = K[0][0].length;
  view.drawn = { K, bias, p, s, k, n, result, ok, padded: X.map((x) => pad(x, p)) };

  view.shapes.replaceChildren(
    h("span", { class: "cnnw-eq" }, `X ${shapeText(X)} ⋆ K ${shapeText(K)} + b (${bias.length})`),
    " → ",
    ok
      ? h("strong", { "data-role": "out-size" }, `Y (${K.length}, ${result.size}, ${result.size})`)
      : h("strong", {}, "no output"),
    ok ? `; each side ${sizeFormula(n, k, p, s)} = ${result.size}` : "",
  );
  view.problem.textContent = result.problem;
  view.problem.hidden = ok;
  view.volume.replaceChildren(
    ...(ok
      ? result.Y.map((plane, o) => outputChannel(view, plane, o, result.size))
      : [h("p", { class: "cnnw-none", "data-role": "output-none" }, "No output: see the message above.")]),
  );
  view.sliders.padding.show(p);
  view.sliders.stride.show(s);
  view.sliders.channel.show(model.get("channel"), 0, K.length - 1);
  view.stepper.wrap.hidden = !ok;
  report(model, { Y: result.Y, error: result.problem });
}

function outputChannel(view, plane, o, size) {
  const cells = grid(size, size, (r, c) => ({ text: fmt(plane[r][c]), value: plane[r][c], cls: "cnnw-out" }), {
    label: `output channel ${o}`,
    role: "output",
    tag: "button",
  });
  cells.dataset.channel = o;
  selectable(cells, size, size, -1, (i) => save(view.model, { channel: o, position: i }));
  return panel(`Output channel ${o}`, cells);
}

// ---- highlight: one output value, from its input windows and kernel slices

function highlight(view) {
  const { K, bias, k, result, ok, padded } = view.drawn;
  if (!ok) {
    view.slices.replaceChildren();
    view.calc.textContent = "";
    return;
  }
  const o = Math.min(Math.max(view.model.get("channel"), 0), K.length - 1);
  const position = Math.min(Math.max(view.model.get("position"), 0), result.size ** 2 - 1);
  const i = Math.floor(position / result.size);
  const j = position % result.size;
  const sums = result.parts[o][i][j]; // each input channel's share of y[o, i, j]
  view.slices.replaceChildren(...padded.map((P, c) => slice(view.drawn, P, c, o, i, j, sums[c])));
  const terms = sums.map((v, c) => `${fmt(v)} (channel ${c})`).join(" + ");
  view.calc.replaceChildren(
    h("span", { class: "cnnw-eq" }, `y[${o}, ${i}, ${j}] = ${terms} + ${fmt(bias[o])} (bias b[${o}]) = `),
    h("strong", {}, fmt(result.Y[o][i][j])),
  );
  markOutput(view.volume, o, position);
  view.sliders.channel.show(o, 0, K.length - 1);
  view.stepper.status.textContent = `Output channel ${o}, row ${i}, column ${j}`;
}

/** Input channel c with the window of output (i, j) lit, "⋆ K[o, c] =" and its partial sum. */
function slice({ K, p, s, k, n }, P, c, o, i, j, sum) {
  const reads = new Set(taps(i, j, k, s, 1).map(([r, q]) => r * P.length + q));
  const input = grid(P.length, P.length, (r, q) => ({
    text: fmt(P[r][q]),
    value: P[r][q],
    cls: `${isPadding(r, q, n, p) ? "cnnw-pad" : ""} ${reads.has(r * P.length + q) ? "cnnw-win" : ""}`,
  }), { label: `input channel ${c}`, role: "input" });
  const kernel = grid(k, k, (r, q) => ({ text: fmt(K[o][c][r][q]), value: K[o][c][r][q], cls: "cnnw-kernel" }), {
    label: `kernel slice ${o}, ${c}`,
    role: "kernel",
  });
  return h(
    "div",
    { class: `cnnw-slice cnnw-ch${c % 4}`, "data-role": "slice" },
    panel(`Input channel ${c}`, input),
    // "⋆ kernel slice = partial sum" stays together when the row wraps
    h(
      "div",
      { class: "cnnw-slice-rest" },
      h("span", { class: "cnnw-op", "aria-hidden": "true" }, "⋆"),
      panel(`K[${o}, ${c}]`, kernel),
      h(
        "span",
        { class: "cnnw-result" },
        h("span", { class: "cnnw-op", "aria-hidden": "true" }, "= "),
        h("span", { class: "cnnw-partial", "data-role": "partial", "data-value": sum }, fmt(sum)),
      ),
    ),
  );
}

/** Mark output channel o's cell `position` as the current one (and its grid's Tab stop). */
function markOutput(volume, o, position) {
  volume.querySelectorAll(".cnnw-current").forEach((cell) => cell.classList.remove("cnnw-current"));
  volume.querySelectorAll(".cnnw-panel").forEach((fig, index) => fig.classList.toggle("cnnw-selected", index === o));
  volume.querySelectorAll('[data-role="output"]').forEach((g, index) => {
    [...g.children].forEach((cell, at) => {
      cell.tabIndex = index === o && at === position ? 0 : -1;
    });
  });
  volume.querySelectorAll('[data-role="output"]')[o].children[position].classList.add("cnnw-current");
}

function render({ model, el }) {
  const view = build(model, el);
  const stop = watch(model, SETTINGS, ["channel", "position"], () => draw(view), () => highlight(view));
  return () => {
    view.stepper.stop();
    stop();
  };
}

export default { render };
