// ConvExplorer: slide a kernel (or a pooling window) over a small input and
// watch the padded input, the window, the output grid and the size formula.
// Python side: conv_explorer.py (class ConvExplorer); arithmetic: conv_math.js.
//
// render() = build() once, then draw() when a setting changes and highlight()
// when the explained output cell moves. The view writes Y and error (what it
// drew); the settings are written by whichever side the reader used.
import { h, choice, grid, selectable, stepper, panel, watch, save, report, traitSlider } from "./ui.js";
import { explore, fmt, isPadding, pad, readMask, span, taps, valuesFor } from "./conv_math.js";

const OPERATIONS = [
  ["conv", "cross-correlation"],
  ["max", "max pooling"],
  ["avg", "average pooling"],
];
const SLIDERS = {
  n: "Input size n",
  kernel_size: "Kernel size k",
  padding: "Padding p",
  stride: "Stride s",
  dilation: "Dilation d",
};
const SETTINGS = ["n", "kernel_size", "padding", "stride", "dilation", "mode", "X", "K"];

/** The setting with conv_math's short names. */
function settingOf(model) {
  return {
    n: model.get("n"),
    k: model.get("kernel_size"),
    p: model.get("padding"),
    s: model.get("stride"),
    d: model.get("dilation"),
    mode: model.get("mode"),
  };
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** The size formula with the current numbers filled in, step by step. */
function formula({ n, k, p, s, d }, size, ok) {
  const top = n + 2 * p - d * (k - 1) - 1;
  const stages = [
    h("span", { class: "cnnw-eq" }, "⌊(n + 2p − d(k−1) − 1) / s⌋ + 1"),
    " = ",
    h("span", { class: "cnnw-eq" }, `⌊(${n} + 2·${p} − ${d}·(${k}−1) − 1) / ${s}⌋ + 1`),
    " = ",
    h("span", { class: "cnnw-eq" }, `⌊${fmt(top)} / ${s}⌋ + 1`),
  ];
  if (!ok) {
    return ["Output size ", ...stages, `: the numerator ${fmt(top)} is negative, so there is no output.`];
  }
  const exact = top / s;
  const floorNote = Number.isInteger(exact) ? "" : ` (${fmt(exact)} rounds down to ${Math.floor(exact)})`;
  return ["Output size ", ...stages, " = ", h("strong", { "data-role": "out-size" }, `${size} × ${size}`), floorNote];
}

/** Sentences on the padded rows/columns that no window reads, or that all are read. */
function unusedNote({ n, k, p, s, d }, read) {
  const m = n + 2 * p;
  const last = read.lastIndexOf(true);
  const trailing = m - 1 - last;
  const inside = read.slice(0, last + 1).filter((r) => !r).length;
  const parts = [];
  if (trailing > 0) {
    const top = n + 2 * p - span(k, d);
    parts.push(
      `The last ${plural(trailing, "row")} and ${plural(trailing, "column")} (hatched) are never read: ` +
        `${top} / ${s} = ${fmt(top / s)} and the floor drops the remainder, because one more step of ${s} ` +
        `would push the window past the edge.`,
    );
  }
  if (inside > 0) {
    parts.push(
      `${plural(inside, "row")} and ${plural(inside, "column")} between windows (hatched) are never read ` +
        `either: the stride ${s} jumps over them` +
        (d > 1 ? ", or the dilation leaves gaps that no window fills." : "."),
    );
  }
  if (!parts.length) parts.push(`Every row and column of the ${m}×${m} padded input is read by some window.`);
  return parts.join(" ");
}

// ---- build: the controls and the empty places that draw() and highlight() fill

function build(model, el) {
  const view = { model, drawn: null };
  view.sliders = Object.fromEntries(Object.entries(SLIDERS).map(([name, label]) => [name, traitSlider(model, name, label)]));
  view.operation = choice({
    label: "Operation",
    options: OPERATIONS,
    value: model.get("mode"),
    role: "mode",
    onChange: (v) => save(model, { mode: v }),
  });
  view.formula = h("p", { class: "cnnw-formula", "data-role": "formula", "aria-live": "polite" });
  view.problem = h("p", { class: "cnnw-problem", role: "alert", "data-role": "problem" });
  view.stage = h("div", { class: "cnnw-stage" });
  view.calc = h("p", { class: "cnnw-calc", "data-role": "calc" });
  view.note = h("p", { class: "cnnw-note", "data-role": "unused-note" });
  view.stepper = stepper({
    count: () => (view.drawn?.ok ? view.drawn.result.size ** 2 : 0),
    get: () => model.get("position"),
    set: (i) => save(model, { position: i }),
  });
  const key = (cls, text) => h("span", { class: "cnnw-key" }, h("span", { class: `cnnw-swatch ${cls}` }), text);
  const legend = h(
    "p",
    { class: "cnnw-legend" },
    key("cnnw-pad", "padding"),
    key("cnnw-win", "cells the current window reads"),
    key("cnnw-unused", "never read"),
    h("span", {}, "Tap, hover or focus an output cell to see the window behind it."),
  );
  el.append(
    h(
      "div",
      { class: "cnnw cnnw-conv" },
      h("div", { class: "cnnw-controls" }, Object.values(view.sliders).map((s) => s.wrap), view.operation.wrap),
      view.formula,
      view.problem,
      view.stage,
      view.calc,
      view.stepper.wrap,
      view.note,
      legend,
    ),
  );
  return view;
}

// ---- draw: every grid and line for the current setting

function draw(view) {
  const { model } = view;
  const st = settingOf(model);
  const X = valuesFor(model.get("X"), st.n);
  const K = valuesFor(model.get("K"), st.k);
  const result = explore(X, K, st);
  const ok = !result.problem;
  const m = st.n + 2 * st.p;
  const read = ok ? readMask(m, st.k, st.s, st.d, result.size) : new Array(m).fill(true);
  const P = pad(X, st.p, st.mode === "max" ? -Infinity : 0); // padding never wins a max
  view.drawn = { st, K, P, result, ok };

  view.stage.replaceChildren(
    panel(`Padded input ${m}×${m} (n = ${st.n}, p = ${st.p})`, inputGrid(st, P, read)),
    windowPanel(st, K),
    ok ? outputPanel(view, result) : panel("Output", h("p", { class: "cnnw-none", "data-role": "output-none" }, "No output: see the message above.")),
  );
  view.formula.replaceChildren(...formula(st, result.size, ok));
  view.problem.textContent = result.problem;
  view.problem.hidden = ok;
  view.note.textContent = ok ? unusedNote(st, read) : "";
  for (const [name, s] of Object.entries(view.sliders)) s.show(model.get(name));
  view.operation.select.value = st.mode;
  view.sliders.kernel_size.wrap.querySelector("label").textContent = st.mode === "conv" ? "Kernel size k" : "Window size k";
  view.stepper.wrap.hidden = !ok;
  report(model, { Y: result.Y, error: result.problem });
}

function inputGrid(st, P, read) {
  const m = P.length;
  return grid(m, m, (r, c) => {
    const unused = !read[r] || !read[c];
    return {
      text: fmt(P[r][c]),
      value: P[r][c],
      cls: `${isPadding(r, c, st.n, st.p) ? "cnnw-pad" : ""} ${unused ? "cnnw-unused" : ""}`,
      title: unused ? "never read by any window" : undefined,
    };
  }, { label: "padded input", role: "input" });
}

/** The kernel; for pooling, an empty window that highlight() fills with the values it reads. */
function windowPanel(st, K) {
  const isPool = st.mode !== "conv";
  const cells = grid(st.k, st.k, (r, c) => ({
    text: isPool ? "" : fmt(K[r][c]),
    value: isPool ? undefined : K[r][c],
    cls: "cnnw-kernel",
  }), { label: isPool ? "values in the pooling window" : "kernel", role: "kernel" });
  const title = isPool
    ? `Window ${st.k}×${st.k}: the values it reads (${st.mode === "max" ? "the largest is kept" : "their mean is kept"})`
    : `Kernel ${st.k}×${st.k}`;
  return panel(title, cells);
}

function outputPanel(view, result) {
  const cells = grid(result.size, result.size, (r, c) => ({
    text: fmt(result.Y[r][c]),
    value: result.Y[r][c],
    cls: "cnnw-out",
  }), { label: "output", role: "output", tag: "button" });
  selectable(cells, result.size, result.size, view.model.get("position"), (i) => save(view.model, { position: i }));
  return panel(`Output ${result.size}×${result.size}`, cells);
}

// ---- highlight: the window behind the current output cell, and its arithmetic

function highlight(view) {
  const { st, K, P, result, ok } = view.drawn;
  const { stage } = view;
  for (const cell of stage.querySelectorAll(".cnnw-win, .cnnw-current")) cell.classList.remove("cnnw-win", "cnnw-current");
  if (!ok) {
    view.calc.textContent = "";
    return;
  }
  const count = result.size ** 2;
  const position = Math.min(Math.max(view.model.get("position"), 0), count - 1);
  const i = Math.floor(position / result.size);
  const j = position % result.size;
  const cells = taps(i, j, st.k, st.s, st.d);
  const inputCells = stage.querySelector('[data-role="input"]').children;
  for (const [r, c] of cells) inputCells[r * P.length + c].classList.add("cnnw-win");
  const outCells = [...stage.querySelector('[data-role="output"]').children];
  outCells.forEach((cell, index) => {
    cell.tabIndex = index === position ? 0 : -1;
  });
  outCells[position].classList.add("cnnw-current");

  const values = cells.map(([r, c]) => P[r][c]);
  if (st.mode !== "conv") showWindow(stage, values, st.mode);
  view.calc.replaceChildren(
    h("span", { class: "cnnw-eq" }, `y[${i}, ${j}] = ${windowSum(values, K, st.mode)} = `),
    h("strong", {}, fmt(result.Y[i][j])),
  );
  view.stepper.status.textContent = `Window ${position + 1} of ${count}: output row ${i}, column ${j}`;
}

/** One window's arithmetic written out: a weighted sum, a max, or a mean. */
function windowSum(values, K, mode) {
  if (mode === "max") return `max(${values.map(fmt).join(", ")})`;
  if (mode === "avg") return `(${values.map(fmt).join(" + ")}) / ${values.length}`;
  const w = K.flat();
  return values.map((v, t) => `${fmt(v)}×${fmt(w[t])}`).join(" + ");
}

/** Pooling: the window panel shows the values the window reads; max pooling marks the one it keeps. */
function showWindow(stage, values, mode) {
  const cells = stage.querySelector('[data-role="kernel"]').children;
  const kept = mode === "max" ? values.indexOf(Math.max(...values)) : -1;
  values.forEach((v, t) => {
    cells[t].textContent = fmt(v);
    cells[t].dataset.value = String(v);
    cells[t].classList.toggle("cnnw-current", t === kept);
  });
}

function render({ model, el }) {
  const view = build(model, el);
  const stop = watch(model, SETTINGS, ["position"], () => draw(view), () => highlight(view));
  return () => {
    view.stepper.stop();
    stop();
  };
}

export default { render };
