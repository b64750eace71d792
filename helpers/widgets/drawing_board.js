// A board to draw a digit on, with mouse, touch or pen (pointer events), for
// NetworkExplorer. The ink is black on a transparent canvas; read() returns its
// opacity per pixel, 0 (none) to 1 (full), the way MNIST stores ink.
// (Called a board, not a pad: in these files `pad` is zero padding.)
import { h } from "./ui.js";

/**
 * drawingBoard({size, ink, onStart, onStroke, onEnd}): a size x size canvas; `ink` is the
 * stroke width in canvas pixels. onStart() runs before a stroke's first dot, onStroke()
 * after each piece of stroke (at most once per animation frame), onEnd() when it ends.
 */
export function drawingBoard({ size, ink, onStart, onStroke, onEnd }) {
  const canvas = h("canvas", {
    class: "cnnw-board",
    width: size,
    height: size,
    "data-role": "pad", // the name the browser tests (and JupyterLab's) look for
    "aria-label": "Drawing area: draw a digit with a mouse, finger or pen",
  });
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  let last = null;
  let queued = false;
  const schedule = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      onStroke();
    });
  };
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) / box.width) * size, ((event.clientY - box.top) / box.height) * size];
  };
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture?.(event.pointerId);
    onStart();
    last = at(event);
    Object.assign(ctx, { lineCap: "round", lineJoin: "round", lineWidth: ink, strokeStyle: "#000" });
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(last[0] + 0.01, last[1]); // a dot for a tap
    ctx.stroke();
    schedule();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (last === null) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    ctx.beginPath();
    ctx.moveTo(...last);
    for (const e of events.length ? events : [event]) {
      last = at(e);
      ctx.lineTo(...last);
    }
    ctx.stroke();
    schedule();
  });
  const end = () => {
    if (last === null) return;
    last = null;
    onEnd();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  return {
    canvas,
    clear: () => ctx.clearRect(0, 0, size, size),
    /** The ink, (size, size) row by row, in [0, 1]. */
    read() {
      const data = ctx.getImageData(0, 0, size, size).data;
      const out = new Float64Array(size * size);
      for (let t = 0; t < out.length; t++) out[t] = data[4 * t + 3] / 255;
      return out;
    },
    /** Show a 28x28 image (values in [0, 1]) as ink, scaled up without smoothing. */
    show(pixels) {
      // as ink (opacity), like a stroke, so that read() gives the pixels back
      const small = document.createElement("canvas");
      small.width = small.height = 28;
      const sctx = small.getContext("2d");
      const img = sctx.createImageData(28, 28);
      for (let t = 0; t < 28 * 28; t++) img.data[4 * t + 3] = Math.round(pixels[t] * 255);
      sctx.putImageData(img, 0, 0);
      ctx.clearRect(0, 0, size, size);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(small, 0, 0, size, size);
    },
  };
}
