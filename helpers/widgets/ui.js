// DOM pieces shared by the explorers: elements, labelled controls, number
// grids, a selectable output grid, step/play buttons, and the two ways a view
// talks to its model (save what the reader changed, report what the view drew).
// Every control is a native element with a <label>, so it works with a keyboard
// and a screen reader.
//
// Who writes which trait: the reader's settings (sliders, menus, typed weights)
// are written by whichever side the reader used, Python or this page; what a
// view draws from them (an output grid, a size, a message) is written by the
// view alone, with report(). Python checks the settings and keeps torch's
// answer (torch_output()) to compare with.

let counter = 0;

/** An id that is unique on the page, even with several explorers on it. */
export function uid(prefix) {
  counter += 1;
  return `cnnw-${prefix}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

// Controls that take keys themselves. JupyterLab and Notebook 7 leave keys pressed in an
// element marked data-lm-suppress-shortcuts to it, instead of moving between cells
// (an arrow key on a slider would otherwise select the next cell).
const KEYED = new Set(["input", "select", "textarea", "button"]);

/** The arrow keys as [row, column] moves, for grids and canvases read with the keyboard. */
export const ARROWS = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };

/** v limited to lo..hi. */
export function clamp(v, lo, hi) {
  return Math.max(lo, Math.min(hi, v));
}

/** Set traits on the model and send them to Python (and to other views) in one message. */
export function save(model, changes) {
  for (const [name, value] of Object.entries(changes)) model.set(name, value);
  model.save_changes();
}

/**
 * Send traits that this view derives from the settings (an output, its size, a
 * message), but only those that changed: the browser is their one writer, and a
 * redraw that changed nothing sends nothing. Values are compared as JSON, the way
 * they travel (so -Infinity and null count as equal, as JSON has no infinities).
 */
export function report(model, derived) {
  const changed = Object.entries(derived).filter(([name, value]) => JSON.stringify(model.get(name)) !== JSON.stringify(value));
  if (changed.length) save(model, Object.fromEntries(changed));
}

/** document.createElement with attributes ("onclick": listener, "text": textContent) and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  if (KEYED.has(tag)) el.setAttribute("data-lm-suppress-shortcuts", "");
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

/** A labelled <input type=range> showing its value; onChange(value) on drag, click or arrow key. */
export function slider({ label, min, max, value, role, onChange }) {
  const id = uid(role || "slider");
  const input = h("input", { type: "range", id, min, max, step: 1, value, "data-role": role });
  const out = h("output", { for: id, class: "cnnw-value", "aria-hidden": "true" }, String(value));
  input.addEventListener("input", () => {
    out.textContent = input.value;
    onChange(Number(input.value));
  });
  const wrap = h("div", { class: "cnnw-control" }, h("label", { for: id }, label), input, out);
  return {
    wrap,
    input,
    /** Show a value (and range) set from elsewhere, without calling onChange. */
    show(v, lo = Number(input.min), hi = Number(input.max)) {
      input.min = lo;
      input.max = hi;
      input.value = v;
      out.textContent = String(v);
    },
  };
}

/** A slider for the integer trait `name`, over the range the model's `limits` give it; moving it saves the trait. */
export function traitSlider(model, name, label) {
  const [min, max] = model.get("limits")[name];
  return slider({ label, min, max, value: model.get(name), role: name, onChange: (v) => save(model, { [name]: v }) });
}

/** A labelled <select>; options are [value, text] pairs. */
export function choice({ label, options, value, role, onChange }) {
  const id = uid(role || "choice");
  const select = h(
    "select",
    { id, "data-role": role },
    options.map(([v, text]) => h("option", { value: v }, text)),
  );
  select.value = value;
  select.addEventListener("change", () => onChange(select.value));
  const wrap = h("div", { class: "cnnw-control cnnw-choice" }, h("label", { for: id }, label), select);
  return { wrap, select };
}

/** A grid of numbered cells; cell(r, c) -> {text, cls, title, value}. */
export function grid(rows, cols, cell, { label, role, tag = "div" } = {}) {
  const el = h("div", {
    class: "cnnw-grid",
    role: "group",
    "aria-label": label,
    "data-role": role,
    style: `--cols: ${cols}`,
  });
  const cells = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) cells.push({ r, c, ...cell(r, c) });
  }
  // one font size for the whole grid, set by its longest number
  const longest = Math.max(0, ...cells.map(({ text }) => String(text).length));
  el.classList.add(longest > 4 ? "cnnw-long" : longest > 2 ? "cnnw-mid" : "cnnw-short");
  for (const { r, c, text, cls = "", title, value } of cells) {
    const attrs = { class: `cnnw-cell ${cls}`, "data-r": r, "data-c": c, "data-value": value, title };
    if (tag === "button") attrs.type = "button";
    el.append(h(tag, attrs, String(text)));
  }
  return el;
}

/**
 * Make a grid of <button> cells selectable: click, tap, hover or keyboard
 * focus selects a cell; arrow keys move between cells (one Tab stop in all).
 */
export function selectable(gridEl, rows, cols, current, onSelect) {
  const cells = [...gridEl.querySelectorAll(".cnnw-cell")];
  cells.forEach((cell, index) => {
    cell.tabIndex = index === current ? 0 : -1;
    const pick = () => onSelect(index);
    cell.addEventListener("click", pick);
    cell.addEventListener("focus", pick);
    cell.addEventListener("mouseenter", pick);
  });
  gridEl.addEventListener("keydown", (event) => {
    const at = cells.indexOf(document.activeElement);
    if (at < 0 || !(event.key in ARROWS)) return;
    const [dr, dc] = ARROWS[event.key];
    const r = Math.floor(at / cols) + dr;
    const c = (at % cols) + dc;
    if (r < 0 || r >= rows || c < 0 || c >= cols) return; // the edge: stay, do not wrap
    const next = r * cols + c;
    event.preventDefault();
    cells[at].tabIndex = -1;
    cells[next].tabIndex = 0;
    cells[next].focus();
  });
}

/** Step back / play / step forward through `count()` window positions. */
export function stepper({ count, get, set, label = "window" }) {
  let timer = null;
  const status = h("span", { class: "cnnw-step-status", "aria-live": "polite" });
  const play = h("button", { type: "button", class: "cnnw-button", "data-role": "play" }, "▶ Play");
  const stop = () => {
    if (timer !== null) clearInterval(timer);
    timer = null;
    play.textContent = "▶ Play";
    play.setAttribute("aria-pressed", "false");
  };
  const step = (delta) => {
    const n = count();
    if (n > 0) set((get() + delta + n) % n);
  };
  play.addEventListener("click", () => {
    if (timer !== null) return stop();
    play.textContent = "❚❚ Pause";
    play.setAttribute("aria-pressed", "true");
    timer = setInterval(() => step(1), 900);
  });
  const wrap = h(
    "div",
    { class: "cnnw-stepper", role: "group", "aria-label": `Step through the ${label} positions` },
    h("button", { type: "button", class: "cnnw-button", "data-role": "prev", onclick: () => step(-1) }, "◀ Back"),
    play,
    h("button", { type: "button", class: "cnnw-button", "data-role": "next", onclick: () => step(1) }, "Next ▶"),
    status,
  );
  return { wrap, stop, status };
}

/** A panel: a small heading above some content. */
export function panel(title, ...content) {
  return h("figure", { class: "cnnw-panel" }, h("figcaption", {}, title), ...content);
}

// Keep a view in step with its model: redraw() when any trait in `keys` changed since
// the last redraw, then refresh() (cheap highlighting) on every change of `keys` or
// `extra`. Changes arriving together are handled once, in a microtask. Returns a
// function that stops listening.
export function watch(model, keys, extra, redraw, refresh = () => {}) {
  let lastKey = null;
  let queued = false;
  const update = () => {
    const key = JSON.stringify(keys.map((name) => model.get(name)));
    if (key !== lastKey) {
      lastKey = key;
      redraw();
    }
    refresh();
  };
  const schedule = () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      update();
    });
  };
  const names = [...keys, ...extra];
  for (const name of names) model.on(`change:${name}`, schedule);
  update();
  return () => {
    for (const name of names) model.off(`change:${name}`, schedule);
  };
}
