// Colour scales and canvas painting for the explorers that draw images
// (KernelPlayground, NetworkExplorer). Signed values use one scale everywhere,
// white at 0, red above and blue below, so a reader learns it once.
//
// A colour scale is a function colour(v, rgba, at) that writes the red, green
// and blue of value v into rgba[at], rgba[at + 1], rgba[at + 2]: it can fill a
// canvas's pixel buffer directly, with nothing allocated per pixel.

export const NEGATIVE = [33, 102, 172]; // blue
export const POSITIVE = [178, 24, 43]; // red

/**
 * The diverging scale spanning [-limit, limit]: white at 0, blue below, red above.
 * Strength grows with sqrt(|v| / limit), so weak responses stay visible while the
 * scale still covers every value (nothing is clipped). A limit of 0 counts as 1.
 */
export function diverging(limit) {
  const scale = limit || 1;
  return (v, rgba, at) => {
    const x = Math.max(-1, Math.min(1, v / scale));
    const end = x < 0 ? NEGATIVE : POSITIVE;
    const strength = Math.sqrt(Math.abs(x));
    for (let i = 0; i < 3; i++) rgba[at + i] = 255 + (end[i] - 255) * strength;
  };
}

/** A photo's gray: 0 black, 1 white. */
export function photoGray(v, rgba, at) {
  rgba[at] = rgba[at + 1] = rgba[at + 2] = v * 255;
}

/** Ink on paper, as MNIST stores it: 0 white, 1 black. */
export function inkGray(v, rgba, at) {
  rgba[at] = rgba[at + 1] = rgba[at + 2] = 255 - v * 255;
}

/** The largest |v| of values[start..end): the limit of a diverging scale that clips nothing. */
export function maxAbs(values, start = 0, end = values.length) {
  let m = 0;
  for (let t = start; t < end; t++) m = Math.max(m, Math.abs(values[t]));
  return m;
}

/** A CSS gradient for a colour bar from -limit (left) to +limit (right) on the diverging scale. */
export function divergingGradient(stops = 21) {
  const colour = diverging(1);
  const rgb = [0, 0, 0];
  const css = Array.from({ length: stops }, (_, t) => {
    colour((2 * t) / (stops - 1) - 1, rgb, 0);
    return `rgb(${rgb.map(Math.round).join(",")})`;
  });
  return `linear-gradient(to right, ${css.join(", ")})`;
}

/**
 * Paint rows x cols values (row by row, from values[offset]) into a canvas, one
 * pixel each, in colour(v, rgba, at); the canvas takes that size (CSS scales it up).
 * NetworkExplorer repaints every map on each stroke, so the canvas keeps its pixel
 * buffer between calls.
 */
export function paint(canvas, values, { rows, cols, colour, offset = 0 }) {
  if (canvas.width !== cols) canvas.width = cols;
  if (canvas.height !== rows) canvas.height = rows;
  const ctx = canvas.getContext("2d");
  if (!canvas.cnnwPixels || canvas.cnnwPixels.width !== cols || canvas.cnnwPixels.height !== rows) {
    canvas.cnnwPixels = ctx.createImageData(cols, rows);
  }
  const rgba = canvas.cnnwPixels.data; // a Uint8ClampedArray: it rounds and clamps what is written
  for (let t = 0; t < rows * cols; t++) {
    colour(values[offset + t], rgba, 4 * t);
    rgba[4 * t + 3] = 255;
  }
  ctx.putImageData(canvas.cnnwPixels, 0, 0);
}

/** The [row, column] of a rows x cols image drawn in `canvas` under a pointer event. */
export function cellAt(canvas, event, rows, cols) {
  const box = canvas.getBoundingClientRect();
  const r = Math.floor(((event.clientY - box.top) / box.height) * rows);
  const c = Math.floor(((event.clientX - box.left) / box.width) * cols);
  return [Math.max(0, Math.min(rows - 1, r)), Math.max(0, Math.min(cols - 1, c))];
}
