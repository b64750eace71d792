// ChannelExplorer: a convolution with several input and output channels.
// Each input channel meets its own kernel slice; the per-channel sums plus the
// bias give one output value; one kernel per output channel, stacked.
// Python side: helpers/widgets/__init__.py (class ChannelExplorer).
import { h, slider, grid, selectable, stepper, panel, watch } from "./ui.js";
import { fmt, multiChannel, pad, taps } from "./conv_math.js";

const SETTINGS = ["X", "K", "bias", "padding", "stride"];

function shape(array) {
  const dims = [];
  for (let a = array; Array.isArray(a); a = a[0]) dims.push(a.length);
  return `(${dims.join(", ")})`;
}

function render({ model, el }) {
  const limits = model.get("limits");
  let drawn = null;
  const put = (changes) => {
    for (const [name, value] of Object.entries(changes)) model.set(name, value);
    model.save_changes();
  };

  const sliders = {
    padding: slider({ label: "Padding p", role: "padding", min: limits.padding[0], max: limits.padding[1], value: model.get("padding"), onChange: (v) => put({ padding: v }) }),
    stride: slider({ label: "Stride s", role: "stride", min: limits.stride[0], max: limits.stride[1], value: model.get("stride"), onChange: (v) => put({ stride: v }) }),
    channel: slider({ label: "Output channel", role: "channel", min: 0, max: model.get("K").length - 1, value: model.get("channel"), onChange: (v) => put({ channel: v }) }),
  };
  const shapes = h("p", { class: "cnnw-formula", "data-role": "formula", "aria-live": "polite" });
  const problemBox = h("p", { class: "cnnw-problem", role: "alert", "data-role": "problem" });
  const slices = h("div", { class: "cnnw-slices" });
  const total = h("p", { class: "cnnw-calc", "data-role": "calc" });
  const volume = h("div", { class: "cnnw-stage cnnw-volume" });
  const steps = stepper({
    label: "output",
    count: () => (drawn && !drawn.result.problem ? drawn.result.Y.length * drawn.result.size ** 2 : 0),
    get: () => model.get("channel") * drawn.result.size ** 2 + model.get("position"),
    set: (g) => put({ channel: Math.floor(g / drawn.result.size ** 2), position: g % drawn.result.size ** 2 }),
  });
  const root = h(
    "div",
    { class: "cnnw cnnw-channels" },
    h("div", { class: "cnnw-controls" }, sliders.padding.wrap, sliders.stride.wrap),
    shapes,
    problemBox,
    h("p", { class: "cnnw-subhead" }, "Each input channel meets its own slice of the kernel:"),
    slices,
    total,
    steps.wrap,
    h("p", { class: "cnnw-subhead" }, "The output channels, one per kernel, stacked into one output:"),
    // next to the outputs it picks from (the kernel slices above follow it too)
    h("div", { class: "cnnw-controls" }, sliders.channel.wrap),
    volume,
  );
  el.append(root);

  function draw() {
    const X = model.get("X");
    const K = model.get("K");
    const bias = model.get("bias");
    const p = model.get("padding");
    const s = model.get("stride");
    const result = multiChannel(X, K, bias, p, s);
    const ok = !result.problem;
    const n = X[0].length;
    const k = K[0][0].length;
    shapes.replaceChildren(
      h("span", { class: "cnnw-eq" }, `X ${shape(X)} ⋆ K ${shape(K)} + b (${bias.length})`),
      " → ",
      ok
        ? h("strong", { "data-role": "out-size" }, `Y (${K.length}, ${result.size}, ${result.size})`)
        : h("strong", {}, "no output"),
      ok ? `; each side ⌊(${n} + 2·${p} − ${k}) / ${s}⌋ + 1 = ${result.size}` : "",
    );
    problemBox.textContent = result.problem;
    problemBox.hidden = ok;
    volume.replaceChildren(
      ...(ok
        ? result.Y.map((plane, o) => {
            const g = grid(result.size, result.size, (r, c) => ({ text: fmt(plane[r][c]), value: plane[r][c], cls: "cnnw-out" }), {
              label: `output channel ${o}`,
              role: "output",
              tag: "button",
            });
            g.dataset.channel = o;
            selectable(g, result.size, result.size, -1, (i) => put({ channel: o, position: i }));
            return panel(`Output channel ${o}`, g);
          })
        : [h("p", { class: "cnnw-none", "data-role": "output-none" }, "No output: see the message above.")]),
    );
    sliders.padding.show(p);
    sliders.stride.show(s);
    sliders.channel.show(model.get("channel"), 0, K.length - 1);
    steps.wrap.hidden = !ok;
    drawn = { X, K, bias, p, s, k, n, result, padded: X.map((x) => pad(x, p)) };
    if (JSON.stringify(model.get("Y")) !== JSON.stringify(result.Y) || model.get("error") !== result.problem) {
      put({ Y: result.Y, error: result.problem });
    }
  }

  function highlight() {
    const { K, bias, p, s, k, n, result, padded } = drawn;
    if (result.problem) {
      slices.replaceChildren();
      total.textContent = "";
      return;
    }
    const o = Math.min(Math.max(model.get("channel"), 0), K.length - 1);
    const count = result.size ** 2;
    const pos = Math.min(Math.max(model.get("position"), 0), count - 1);
    const i = Math.floor(pos / result.size);
    const j = pos % result.size;
    const reads = new Set(taps(i, j, k, s, 1).map(([r, c]) => r * (n + 2 * p) + c));
    const sums = result.parts[o][i][j];
    slices.replaceChildren(
      ...padded.map((P, c) =>
        h(
          "div",
          { class: `cnnw-slice cnnw-ch${c % 4}`, "data-role": "slice" },
          panel(
            `Input channel ${c}`,
            grid(P.length, P.length, (r, q) => {
              const isPad = r < p || q < p || r >= p + n || q >= p + n;
              return { text: fmt(P[r][q]), value: P[r][q], cls: `${isPad ? "cnnw-pad" : ""} ${reads.has(r * P.length + q) ? "cnnw-win" : ""}` };
            }, { label: `input channel ${c}`, role: "input" }),
          ),
          // "⋆ kernel slice = partial sum" stays together when the row wraps
          h(
            "div",
            { class: "cnnw-slice-rest" },
            h("span", { class: "cnnw-op", "aria-hidden": "true" }, "⋆"),
            panel(`K[${o}, ${c}]`, grid(k, k, (r, q) => ({ text: fmt(K[o][c][r][q]), value: K[o][c][r][q], cls: "cnnw-kernel" }), { label: `kernel slice ${o}, ${c}`, role: "kernel" })),
            h(
              "span",
              { class: "cnnw-result" },
              h("span", { class: "cnnw-op", "aria-hidden": "true" }, "= "),
              h("span", { class: "cnnw-partial", "data-role": "partial", "data-value": sums[c] }, fmt(sums[c])),
            ),
          ),
        ),
      ),
    );
    const terms = sums.map((v, c) => `${fmt(v)} (channel ${c})`).join(" + ");
    total.replaceChildren(
      h("span", { class: "cnnw-eq" }, `y[${o}, ${i}, ${j}] = ${terms} + ${fmt(bias[o])} (bias b[${o}]) = `),
      h("strong", {}, fmt(result.Y[o][i][j])),
    );
    volume.querySelectorAll(".cnnw-current").forEach((cell) => cell.classList.remove("cnnw-current"));
    volume.querySelectorAll(".cnnw-panel").forEach((fig, index) => fig.classList.toggle("cnnw-selected", index === o));
    volume.querySelectorAll('[data-role="output"]').forEach((g, index) => {
      [...g.children].forEach((cell, at) => {
        cell.tabIndex = index === o && at === pos ? 0 : -1;
      });
    });
    volume.querySelectorAll('[data-role="output"]')[o].children[pos].classList.add("cnnw-current");
    sliders.channel.show(o, 0, K.length - 1);
    steps.status.textContent = `Output channel ${o}, row ${i}, column ${j}`;
  }

  const stop = watch(model, SETTINGS, ["channel", "position"], draw, highlight);
  return () => {
    steps.stop();
    stop();
  };
}

export default { render };
