// KernelPlayground: run a 3x3 kernel over a real photo and see the result,
// negative responses in blue, positive in red, zero white (nothing clipped).
// Python side: helpers/widgets/__init__.py (class KernelPlayground).
import { h, slider, choice, uid, panel, watch } from "./ui.js";
import { filterImage, fmt, outputSize, parseWeight } from "./conv_math.js";

const SETTINGS = ["kernel", "stride", "padding", "image"];
const NEGATIVE = [33, 102, 172]; // blue
const POSITIVE = [178, 24, 43]; // red

/** Grayscale bytes (base64) -> floats in [0, 1], row-major. */
function decode(b64) {
  const bytes = atob(b64);
  const out = new Float64Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes.charCodeAt(i) / 255;
  return out;
}

/**
 * The colour of a response v in [-limit, limit]: white at 0, blue below,
 * red above. Strength grows with sqrt(|v| / limit), so weak edges stay visible
 * while the colour scale still covers every value (nothing is clipped).
 */
function diverging(v, limit) {
  const x = Math.max(-1, Math.min(1, v / limit));
  const end = x < 0 ? NEGATIVE : POSITIVE;
  const strength = Math.sqrt(Math.abs(x));
  return end.map((e) => Math.round(255 + (e - 255) * strength));
}

/** Paint values into a canvas: gray for the photo (limit null), else diverging colours. */
function paint(canvas, data, H, W, limit) {
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext("2d");
  const pixels = ctx.createImageData(W, H);
  for (let t = 0; t < data.length; t++) {
    let rgb;
    if (limit === null) {
      const g = Math.round(data[t] * 255);
      rgb = [g, g, g];
    } else {
      rgb = diverging(data[t], limit);
    }
    pixels.data.set([...rgb, 255], 4 * t);
  }
  ctx.putImageData(pixels, 0, 0);
}

function render({ model, el }) {
  const limits = model.get("limits");
  const presets = model.get("presets");
  let result = null;
  const put = (changes) => {
    for (const [name, value] of Object.entries(changes)) model.set(name, value);
    model.save_changes();
  };
  const matching = (K) => Object.keys(presets).find((name) => JSON.stringify(presets[name]) === JSON.stringify(K)) ?? "custom";

  const preset = choice({
    label: "Kernel",
    role: "preset",
    value: model.get("preset"),
    options: [...Object.keys(presets).map((name) => [name, name]), ["custom", "custom (edit the numbers)"]],
    onChange: (name) => {
      if (name !== "custom") put({ kernel: presets[name], preset: name });
    },
  });
  const stride = slider({ label: "Stride s", role: "stride", min: limits.stride[0], max: limits.stride[1], value: model.get("stride"), onChange: (v) => put({ stride: v }) });
  const padding = slider({ label: "Padding p", role: "padding", min: limits.padding[0], max: limits.padding[1], value: model.get("padding"), onChange: (v) => put({ padding: v }) });

  // The 3x3 kernel as nine labelled number boxes. A box left empty or holding no
  // finite number (1e999, NaN) goes back to the weight in use, and says so.
  const entries = [];
  const problemBox = h("p", { class: "cnnw-problem", role: "alert", "data-role": "problem", hidden: true });
  const shown = (v) => String(Math.round(v * 1000) / 1000);
  const editor = h("div", { class: "cnnw-kernel-edit", role: "group", "aria-label": "kernel weights", "data-role": "kernel" });
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      const id = uid("w");
      const input = h("input", { type: "number", id, step: "0.1", "data-r": r, "data-c": c });
      input.addEventListener("change", () => {
        const v = parseWeight(input.value);
        const K = model.get("kernel").map((row) => row.slice());
        if (v === null) {
          input.value = shown(K[r][c]);
          problemBox.textContent =
            `Weight row ${r}, column ${c} needs a finite number; it stays ${fmt(K[r][c])}.`;
          problemBox.hidden = false;
          return;
        }
        problemBox.hidden = true;
        K[r][c] = v;
        put({ kernel: K, preset: matching(K) });
      });
      entries.push(input);
      editor.append(h("div", {}, h("label", { for: id, class: "cnnw-sr" }, `weight row ${r}, column ${c}`), input));
    }
  }

  const inCanvas = h("canvas", { class: "cnnw-photo", role: "img", "aria-label": "the input photo, grayscale" });
  // The output is one Tab stop: arrow keys move a marked pixel (Shift: 8 at a time)
  // and its value is read out, as a click or tap does.
  const outCanvas = h("canvas", { class: "cnnw-photo", role: "img", "data-role": "output", tabindex: 0 });
  const marker = h("div", { class: "cnnw-marker", "aria-hidden": "true", hidden: true });
  let at = { r: 0, c: 0 };
  const sizeLine = h("p", { class: "cnnw-formula", "data-role": "formula", "aria-live": "polite" });
  const range = h("span", { "data-role": "range" });
  const low = h("span", {});
  const high = h("span", {});
  // the legend: values evenly spaced from -limit to +limit, in the colours used above
  const stops = Array.from({ length: 21 }, (_, t) => `rgb(${diverging(t / 10 - 1, 1).join(",")})`);
  const colorbar = h(
    "div",
    { class: "cnnw-colorbar-wrap" },
    h("div", { class: "cnnw-colorbar", "aria-hidden": "true", style: `background: linear-gradient(to right, ${stops.join(", ")})` }),
    h("div", { class: "cnnw-colorbar-labels" }, low, h("span", {}, "0"), high),
  );
  const HINT = "Tap or click the output to read a value (or focus it and use the arrow keys).";
  const picked = h("p", { class: "cnnw-note", "data-role": "picked", "aria-live": "polite" }, HINT);
  const inPanel = panel("Input", inCanvas);
  const outPanel = panel("Output", h("div", { class: "cnnw-photo-wrap" }, outCanvas, marker), colorbar);
  const root = h(
    "div",
    { class: "cnnw cnnw-playground" },
    h("div", { class: "cnnw-controls" }, preset.wrap, stride.wrap, padding.wrap),
    h("div", { class: "cnnw-kernel-box" }, h("p", { class: "cnnw-subhead" }, "Kernel weights (edit any number, then press Enter or Tab):"), editor),
    problemBox,
    sizeLine,
    h("div", { class: "cnnw-stage" }, inPanel, outPanel),
    h("p", { class: "cnnw-note" }, range),
    picked,
  );
  el.append(root);

  /** Read out output pixel (r, c) and mark it on the canvas. */
  function pick(r, c) {
    at = { r: Math.max(0, Math.min(result.H2 - 1, r)), c: Math.max(0, Math.min(result.W2 - 1, c)) };
    const value = result.data[at.r * result.W2 + at.c];
    picked.textContent = `Output pixel (row ${at.r}, column ${at.c}) = ${value.toFixed(3)}`;
    picked.dataset.value = String(value);
    marker.style.left = `${(100 * at.c) / result.W2}%`;
    marker.style.top = `${(100 * at.r) / result.H2}%`;
    marker.style.width = `${100 / result.W2}%`;
    marker.style.height = `${100 / result.H2}%`;
    marker.hidden = false;
  }
  outCanvas.addEventListener("click", (event) => {
    if (!result) return;
    const box = outCanvas.getBoundingClientRect();
    pick(Math.floor(((event.clientY - box.top) / box.height) * result.H2),
      Math.floor(((event.clientX - box.left) / box.width) * result.W2));
  });
  outCanvas.addEventListener("focus", () => result && pick(at.r, at.c));
  outCanvas.addEventListener("keydown", (event) => {
    const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
    if (!result || !(event.key in moves)) return;
    event.preventDefault();
    const step = event.shiftKey ? 8 : 1;
    const [dr, dc] = moves[event.key];
    pick(at.r + dr * step, at.c + dc * step);
  });

  function draw() {
    problemBox.hidden = true; // a new kernel or setting answers any earlier complaint
    const H = model.get("height");
    const W = model.get("width");
    const img = decode(model.get("image"));
    const K = model.get("kernel");
    const s = model.get("stride");
    const p = model.get("padding");
    result = filterImage(img, H, W, K.flat(), s, p);
    const { H2, W2, data } = result;
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of data) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const limit = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    paint(inCanvas, img, H, W, null);
    paint(outCanvas, data, H2, W2, limit);
    for (const canvas of [inCanvas, outCanvas]) canvas.style.setProperty("--w", canvas.width);
    inPanel.querySelector("figcaption").textContent = `Input ${H}×${W} (grayscale)`;
    outPanel.querySelector("figcaption").textContent = `Output ${H2}×${W2}`;
    outCanvas.setAttribute("aria-label", `filtered image, ${H2} by ${W2} pixels, values from ${fmt(lo)} to ${fmt(hi)}`);
    low.textContent = fmt(-limit);
    high.textContent = fmt(limit);
    sizeLine.replaceChildren(
      "Output size: rows ⌊(" + `${H} + 2·${p} − 3) / ${s}⌋ + 1 = ${outputSize(H, 3, p, s, 1)}, ` +
        `columns ⌊(${W} + 2·${p} − 3) / ${s}⌋ + 1 = ${outputSize(W, 3, p, s, 1)}, so `,
      h("strong", { "data-role": "out-size" }, `${H2} × ${W2}`),
    );
    range.textContent =
      `Output values run from ${fmt(lo)} to ${fmt(hi)}: blue is negative, white is 0, red is positive. ` +
      `The colour scale spans ±${fmt(limit)}, so no value is clipped; colour strength grows with the ` +
      `square root of the size, so weak responses stay visible.`;
    range.dataset.min = lo;
    range.dataset.max = hi;
    K.flat().forEach((v, t) => {
      if (document.activeElement !== entries[t]) entries[t].value = shown(v);
    });
    preset.select.value = model.get("preset");
    stride.show(s);
    padding.show(p);
    picked.textContent = HINT;
    delete picked.dataset.value;
    marker.hidden = true;
    at = { r: Math.min(at.r, H2 - 1), c: Math.min(at.c, W2 - 1) };
    if (JSON.stringify(model.get("out_shape")) !== JSON.stringify([H2, W2])) put({ out_shape: [H2, W2] });
  }

  return watch(model, [...SETTINGS, "preset"], [], draw);
}

export default { render };
