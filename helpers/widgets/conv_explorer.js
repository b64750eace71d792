// ConvExplorer: slide a kernel (or a pooling window) over a small input and
// watch the padded input, the window, the output grid and the size formula.
// Python side: helpers/widgets/__init__.py (class ConvExplorer).
import { h, slider, choice, grid, selectable, stepper, panel, watch } from "./ui.js";
import { arange2d, explore, fmt, pad, readMask, span, taps } from "./conv_math.js";

const MODES = [
  ["conv", "cross-correlation"],
  ["max", "max pooling"],
  ["avg", "average pooling"],
];
const SETTINGS = ["n", "kernel_size", "padding", "stride", "dilation", "mode", "X", "K"];

/** Values given from Python when their size matches, otherwise 0, 1, 2, ... row by row. */
function valuesFor(given, size) {
  return given.length === size && given.every((row) => row.length === size) ? given : arange2d(size);
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** The size formula with the current numbers filled in. */
function formula({ n, k, p, s, d }, size, ok) {
  const top = n + 2 * p - d * (k - 1) - 1;
  const steps = [
    h("span", { class: "cnnw-eq" }, "⌊(n + 2p − d(k−1) − 1) / s⌋ + 1"),
    " = ",
    h("span", { class: "cnnw-eq" }, `⌊(${n} + 2·${p} − ${d}·(${k}−1) − 1) / ${s}⌋ + 1`),
    " = ",
    h("span", { class: "cnnw-eq" }, `⌊${fmt(top)} / ${s}⌋ + 1`),
  ];
  if (!ok) {
    return ["Output size ", ...steps, `: the numerator ${fmt(top)} is negative, so there is no output.`];
  }
  const exact = top / s;
  const floorNote = Number.isInteger(exact) ? "" : ` (${fmt(exact)} rounds down to ${Math.floor(exact)})`;
  return [
    "Output size ",
    ...steps,
    " = ",
    h("strong", { "data-role": "out-size" }, `${size} × ${size}`),
    floorNote,
  ];
}

/** Sentences on the padded rows/columns that no window reads, or that all are read. */
function unusedNote({ n, k, p, s, d }, size, read) {
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

function render({ model, el }) {
  const limits = model.get("limits");
  let drawn = null; // what the last draw() produced

  const put = (changes) => {
    for (const [name, value] of Object.entries(changes)) model.set(name, value);
    model.save_changes();
  };
  const setting = () => ({
    n: model.get("n"),
    k: model.get("kernel_size"),
    p: model.get("padding"),
    s: model.get("stride"),
    d: model.get("dilation"),
    mode: model.get("mode"),
  });

  const labels = {
    n: "Input size n",
    kernel_size: "Kernel size k",
    padding: "Padding p",
    stride: "Stride s",
    dilation: "Dilation d",
  };
  const sliders = {};
  for (const [name, label] of Object.entries(labels)) {
    const [min, max] = limits[name];
    sliders[name] = slider({ label, min, max, value: model.get(name), role: name, onChange: (v) => put({ [name]: v }) });
  }
  const mode = choice({ label: "Operation", options: MODES, value: model.get("mode"), role: "mode", onChange: (v) => put({ mode: v }) });

  const formulaLine = h("p", { class: "cnnw-formula", "data-role": "formula", "aria-live": "polite" });
  const problemBox = h("p", { class: "cnnw-problem", role: "alert", "data-role": "problem" });
  const stage = h("div", { class: "cnnw-stage" });
  const calc = h("p", { class: "cnnw-calc", "data-role": "calc" });
  const note = h("p", { class: "cnnw-note", "data-role": "unused-note" });
  const steps = stepper({
    count: () => (drawn && !drawn.result.problem ? drawn.result.size ** 2 : 0),
    get: () => model.get("position"),
    set: (i) => put({ position: i }),
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
  const root = h(
    "div",
    { class: "cnnw cnnw-conv" },
    h("div", { class: "cnnw-controls" }, Object.values(sliders).map((s) => s.wrap), mode.wrap),
    formulaLine,
    problemBox,
    stage,
    calc,
    steps.wrap,
    note,
    legend,
  );
  el.append(root);

  /** Rebuild the grids for the current setting. */
  function draw() {
    const st = setting();
    const X = valuesFor(model.get("X"), st.n);
    const K = valuesFor(model.get("K"), st.k);
    const result = explore(X, K, st);
    const ok = !result.problem;
    const m = st.n + 2 * st.p;
    const read = ok ? readMask(m, st.k, st.s, st.d, result.size) : new Array(m).fill(true);
    const padValue = st.mode === "max" ? -Infinity : 0;
    const P = pad(X, st.p, padValue);

    const inputGrid = grid(m, m, (r, c) => {
      const isPad = r < st.p || c < st.p || r >= st.p + st.n || c >= st.p + st.n;
      const unused = !read[r] || !read[c];
      return {
        text: fmt(P[r][c]),
        value: P[r][c],
        cls: `${isPad ? "cnnw-pad" : ""} ${unused ? "cnnw-unused" : ""}`,
        title: unused ? "never read by any window" : undefined,
      };
    }, { label: "padded input", role: "input" });
    const isPool = st.mode !== "conv";
    // a pooling window has no weights: highlight() fills it with the values it reads
    const kernelGrid = grid(st.k, st.k, (r, c) => ({
      text: isPool ? "" : fmt(K[r][c]),
      value: isPool ? undefined : K[r][c],
      cls: "cnnw-kernel",
    }), { label: isPool ? "values in the pooling window" : "kernel", role: "kernel" });
    let outputPart;
    if (ok) {
      const outGrid = grid(result.size, result.size, (r, c) => ({
        text: fmt(result.Y[r][c]),
        value: result.Y[r][c],
        cls: "cnnw-out",
      }), { label: "output", role: "output", tag: "button" });
      selectable(outGrid, result.size, result.size, model.get("position"), (i) => put({ position: i }));
      outputPart = panel(`Output ${result.size}×${result.size}`, outGrid);
    } else {
      outputPart = panel("Output", h("p", { class: "cnnw-none", "data-role": "output-none" }, "No output: see the message above."));
    }
    const kernelTitle = isPool
      ? `Window ${st.k}×${st.k}: the values it reads (${st.mode === "max" ? "the largest is kept" : "their mean is kept"})`
      : `Kernel ${st.k}×${st.k}`;
    stage.replaceChildren(
      panel(`Padded input ${m}×${m} (n = ${st.n}, p = ${st.p})`, inputGrid),
      panel(kernelTitle, kernelGrid),
      outputPart,
    );
    formulaLine.replaceChildren(...formula(st, result.size, ok));
    problemBox.textContent = result.problem;
    problemBox.hidden = ok;
    note.textContent = ok ? unusedNote(st, result.size, read) : "";
    for (const [name, s] of Object.entries(sliders)) s.show(model.get(name));
    mode.select.value = st.mode;
    sliders.kernel_size.wrap.querySelector("label").textContent = isPool ? "Window size k" : "Kernel size k";
    steps.wrap.hidden = !ok;
    drawn = { st, X, K, P, result };
    if (JSON.stringify(model.get("Y")) !== JSON.stringify(result.Y) || model.get("error") !== result.problem) {
      put({ Y: result.Y, error: result.problem });
    }
  }

  /** Mark the window that produces the current output cell, and spell out its arithmetic. */
  function highlight() {
    const { st, K, P, result } = drawn;
    for (const cell of stage.querySelectorAll(".cnnw-win, .cnnw-current")) cell.classList.remove("cnnw-win", "cnnw-current");
    if (result.problem) {
      calc.textContent = "";
      return;
    }
    const count = result.size ** 2;
    const pos = Math.min(Math.max(model.get("position"), 0), count - 1);
    const i = Math.floor(pos / result.size);
    const j = pos % result.size;
    const inputGrid = stage.querySelector('[data-role="input"]');
    const m = st.n + 2 * st.p;
    const cells = taps(i, j, st.k, st.s, st.d);
    for (const [r, c] of cells) inputGrid.children[r * m + c].classList.add("cnnw-win");
    const outCells = stage.querySelector('[data-role="output"]').children;
    [...outCells].forEach((cell, index) => {
      cell.tabIndex = index === pos ? 0 : -1;
    });
    outCells[pos].classList.add("cnnw-current");

    const values = cells.map(([r, c]) => P[r][c]);
    if (st.mode !== "conv") showWindow(values, st.mode);
    const y = `y[${i}, ${j}]`;
    let sum;
    if (st.mode === "conv") {
      const w = K.flat();
      sum = values.map((v, t) => `${fmt(v)}×${fmt(w[t])}`).join(" + ");
    } else if (st.mode === "max") {
      sum = `max(${values.map(fmt).join(", ")})`;
    } else {
      sum = `(${values.map(fmt).join(" + ")}) / ${values.length}`;
    }
    calc.replaceChildren(h("span", { class: "cnnw-eq" }, `${y} = ${sum} = `), h("strong", {}, fmt(result.Y[i][j])));
    steps.status.textContent = `Window ${pos + 1} of ${count}: output row ${i}, column ${j}`;
  }

  /** Pooling: the window panel shows the values the window reads; max pooling marks the one it keeps. */
  function showWindow(values, mode) {
    const cells = stage.querySelector('[data-role="kernel"]').children;
    const kept = mode === "max" ? values.indexOf(Math.max(...values)) : -1;
    values.forEach((v, t) => {
      cells[t].textContent = fmt(v);
      cells[t].dataset.value = String(v);
      cells[t].classList.toggle("cnnw-current", t === kept);
    });
  }

  const stop = watch(model, SETTINGS, ["position"], draw, highlight);
  return () => {
    steps.stop();
    stop();
  };
}

export default { render };
