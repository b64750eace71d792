// TransposedExplorer: a transposed convolution as a scatter. Every input value
// adds a scaled copy of the kernel to the output; pick an input cell to see
// where its copy lands, or an output cell to see which inputs reach it.
// Python side: transposed_explorer.py; arithmetic: conv_math.js (transposed()).
//
// render() = build() once, then draw() when a setting changes and highlight()
// when the picked cell moves. The view writes Y and error (what it drew).
import { h, grid, selectable, panel, watch, save, report, traitSlider } from "./ui.js";
import { fmt, gatherCells, scatterCells, transposed, transposedSize, valuesFor } from "./conv_math.js";

const SLIDERS = {
  n: "Input size n",
  kernel_size: "Kernel size k",
  stride: "Stride s",
  padding: "Padding p",
  output_padding: "Output padding",
};
const SETTINGS = ["n", "kernel_size", "stride", "padding", "output_padding", "X", "K"];

function settingOf(model) {
  return {
    n: model.get("n"),
    k: model.get("kernel_size"),
    s: model.get("stride"),
    p: model.get("padding"),
    op: model.get("output_padding"),
  };
}

/** The size formula with the current numbers filled in. */
function formula({ n, k, s, p, op }, size, ok) {
  const stages = [
    h("span", { class: "cnnw-eq" }, "(n − 1)·s − 2p + k + output_padding"),
    " = ",
    h("span", { class: "cnnw-eq" }, `(${n} − 1)·${s} − 2·${p} + ${k} + ${op}`),
  ];
  if (!ok) return ["Output size ", ...stages, ` = ${size}: no output.`];
  return ["Output size ", ...stages, " = ", h("strong", { "data-role": "out-size" }, `${size} × ${size}`)];
}

// ---- build: the controls and the empty places that draw() and highlight() fill

function build(model, el) {
  const view = { model, drawn: null };
  view.sliders = Object.fromEntries(Object.entries(SLIDERS).map(([name, label]) => [name, traitSlider(model, name, label)]));
  view.formula = h("p", { class: "cnnw-formula", "data-role": "formula", "aria-live": "polite" });
  view.problem = h("p", { class: "cnnw-problem", role: "alert", "data-role": "problem" });
  view.stage = h("div", { class: "cnnw-stage" });
  view.calc = h("p", { class: "cnnw-calc", "data-role": "calc", "aria-live": "polite" });
  view.note = h("p", { class: "cnnw-note", "data-role": "copies-note" });
  const key = (cls, text) => h("span", { class: "cnnw-key" }, h("span", { class: `cnnw-swatch ${cls}` }), text);
  const legend = h(
    "p",
    { class: "cnnw-legend" },
    key("cnnw-current", "the picked cell"),
    key("cnnw-win", "where its copy lands, or what reaches it"),
    h("span", {}, "Tap, hover or focus a cell of the input or of the output; arrow keys move within a grid."),
  );
  el.append(
    h(
      "div",
      { class: "cnnw cnnw-transposed" },
      h("div", { class: "cnnw-controls" }, Object.values(view.sliders).map((s) => s.wrap)),
      view.formula,
      view.problem,
      view.stage,
      view.calc,
      view.note,
      legend,
    ),
  );
  return view;
}

// ---- draw: the grids and lines for the current setting

function draw(view) {
  const { model } = view;
  const st = settingOf(model);
  const X = valuesFor(model.get("X"), st.n);
  const K = valuesFor(model.get("K"), st.k);
  const result = transposed(X, K, st);
  const ok = !result.problem;
  view.drawn = { st, X, K, result, ok };

  const pick = (side) => (i) => save(model, { side, position: i });
  const current = (side) => (model.get("side") === side ? model.get("position") : -1);
  const inputCells = grid(st.n, st.n, (r, c) => ({ text: fmt(X[r][c]), value: X[r][c] }), {
    label: "input",
    role: "input",
    tag: "button",
  });
  selectable(inputCells, st.n, st.n, Math.max(current("input"), 0), pick("input"));
  const kernelCells = grid(st.k, st.k, (r, c) => ({ text: fmt(K[r][c]), value: K[r][c], cls: "cnnw-kernel" }), {
    label: "kernel",
    role: "kernel",
  });
  const panels = [panel(`Input ${st.n}×${st.n}`, inputCells), panel(`Kernel ${st.k}×${st.k}`, kernelCells)];
  if (ok) {
    const outCells = grid(result.size, result.size, (r, c) => ({ text: fmt(result.Y[r][c]), value: result.Y[r][c], cls: "cnnw-out" }), {
      label: "output",
      role: "output",
      tag: "button",
    });
    selectable(outCells, result.size, result.size, current("output"), pick("output"));
    panels.push(panel(`Output ${result.size}×${result.size}`, outCells), copiesPanel(result));
  } else {
    panels.push(panel("Output", h("p", { class: "cnnw-none", "data-role": "output-none" }, "No output: see the message above.")));
  }
  view.stage.replaceChildren(...panels);
  view.formula.replaceChildren(...formula(st, transposedSize(st.n, st.k, st.s, st.p, st.op), ok));
  view.problem.textContent = result.problem;
  view.problem.hidden = ok;
  view.note.textContent = ok ? copiesNote(st, result.copies) : "";
  for (const [name, s] of Object.entries(view.sliders)) s.show(model.get(name));
  report(model, { Y: result.Y, error: result.problem });
}

/** How many kernel copies land on each output cell: uneven counts are the checkerboard. */
function copiesPanel(result) {
  const most = Math.max(1, ...result.copies.flat());
  const cells = grid(result.size, result.size, (r, c) => ({
    text: String(result.copies[r][c]),
    value: result.copies[r][c],
    cls: "cnnw-copies",
    title: `${result.copies[r][c]} kernel copies land here`,
  }), { label: "kernel copies per output cell", role: "copies" });
  [...cells.children].forEach((cell) => {
    cell.style.setProperty("--share", String(Number(cell.dataset.value) / most));
  });
  return panel("Copies landing on each cell", cells);
}

function copiesNote({ k, s }, copies) {
  const counts = [...new Set(copies.flat())].sort((a, b) => a - b);
  const even = counts.length === 1;
  const tail = k % s === 0
    ? `The kernel size ${k} is a multiple of the stride ${s}, so away from the edges the copies overlap evenly.`
    : `The kernel size ${k} is not a multiple of the stride ${s}: the copies overlap unevenly, the pattern ` +
      `behind the checkerboard that transposed convolutions can leave.`;
  return `Kernel copies per output cell: ${even ? `${counts[0]} everywhere` : `from ${counts[0]} to ${counts[counts.length - 1]}`}. ${tail}`;
}

// ---- highlight: the picked cell, where its copy lands or what reaches it

function highlight(view) {
  const { st, result, ok } = view.drawn;
  const { stage, model } = view;
  for (const cell of stage.querySelectorAll(".cnnw-win, .cnnw-current")) cell.classList.remove("cnnw-win", "cnnw-current");
  const inputCells = [...stage.querySelector('[data-role="input"]').children];
  const kernelCells = [...stage.querySelector('[data-role="kernel"]').children];
  if (!ok) {
    view.calc.textContent = "";
    return;
  }
  const outCells = [...stage.querySelector('[data-role="output"]').children];
  const side = model.get("side");
  const count = side === "input" ? st.n * st.n : result.size * result.size;
  const position = Math.min(Math.max(model.get("position"), 0), count - 1);
  inputCells.forEach((cell, i) => { cell.tabIndex = side === "input" ? (i === position ? 0 : -1) : (i === 0 ? 0 : -1); });
  outCells.forEach((cell, i) => { cell.tabIndex = side === "output" ? (i === position ? 0 : -1) : (i === 0 ? 0 : -1); });
  if (side === "input") showScatter(view, position, inputCells, outCells, kernelCells);
  else showGather(view, position, inputCells, outCells, kernelCells);
}

function showScatter(view, position, inputCells, outCells, kernelCells) {
  const { st, X, result } = view.drawn;
  const h0 = Math.floor(position / st.n);
  const w0 = position % st.n;
  inputCells[position].classList.add("cnnw-current");
  const lands = scatterCells(h0, w0, st.k, st.s, st.p, result.size);
  for (const { r, c, a, b } of lands) {
    outCells[r * result.size + c].classList.add("cnnw-win");
    kernelCells[a * st.k + b].classList.add("cnnw-win");
  }
  const cropped = st.k * st.k - lands.length;
  const where = lands.length
    ? `output rows ${Math.min(...lands.map((t) => t.r))} to ${Math.max(...lands.map((t) => t.r))}, ` +
      `columns ${Math.min(...lands.map((t) => t.c))} to ${Math.max(...lands.map((t) => t.c))}`
    : "no output cell";
  view.calc.replaceChildren(
    h("span", { class: "cnnw-eq" }, `x[${h0}, ${w0}] = ${fmt(X[h0][w0])}`),
    ` adds ${fmt(X[h0][w0])} × K to ${where}, its corner at (${h0}·${st.s} − ${st.p}, ${w0}·${st.s} − ${st.p})` +
      (cropped ? `; ${cropped} of its ${st.k * st.k} values fall on rows or columns the padding crops.` : "."),
  );
}

function showGather(view, position, inputCells, outCells, kernelCells) {
  const { st, X, K, result } = view.drawn;
  const r = Math.floor(position / result.size);
  const c = position % result.size;
  outCells[position].classList.add("cnnw-current");
  const from = gatherCells(r, c, st.n, st.k, st.s, st.p);
  for (const { h: hh, w, a, b } of from) {
    inputCells[hh * st.n + w].classList.add("cnnw-win");
    kernelCells[a * st.k + b].classList.add("cnnw-win");
  }
  const terms = from.map(({ h: hh, w, a, b }) => `x[${hh}, ${w}]·K[${a}, ${b}] = ${fmt(X[hh][w])}×${fmt(K[a][b])}`);
  view.calc.replaceChildren(
    h("span", { class: "cnnw-eq" }, `y[${r}, ${c}] = ${terms.length ? terms.join(" + ") : "0 (no copy lands here)"} = `),
    h("strong", {}, fmt(result.Y[r][c])),
  );
}

function render({ model, el }) {
  const view = build(model, el);
  const stop = watch(model, SETTINGS, ["side", "position"], () => draw(view), () => highlight(view));
  return () => stop();
}

export default { render };
