// The arithmetic behind the convolution explorers, with no DOM: sizes,
// windows, outputs, and numbers written the way the grids show them.
// tests/test_widgets.py runs this file with node and checks it against
// helpers.conv.output_size and torch.nn.functional; net_math.js takes its
// output size from here too.
//
// Names as in torch: n input size, k kernel (or window) size, p padding,
// s stride, d dilation. `pad` is always zero padding (a function here); `mode`
// is always the operation: "conv" (cross-correlation), "max" or "avg" pooling.
// Grids are arrays of rows (X[row][col]); "padded" coordinates count from the
// top-left corner of the padded input.

/** How many input rows (or columns) one window spans: d(k - 1) + 1. */
export function span(k, d) {
  return d * (k - 1) + 1;
}

/** floor((n + 2p - d(k - 1) - 1) / s) + 1, or 0 when the window does not fit. */
export function outputSize(n, k, p, s, d) {
  const room = n + 2 * p - span(k, d);
  return room < 0 ? 0 : Math.floor(room / s) + 1;
}

/** The size formula with numbers in, for d = 1: "⌊(n + 2·p − k) / s⌋ + 1". */
export function sizeFormula(n, k, p, s) {
  return `⌊(${n} + 2·${p} − ${k}) / ${s}⌋ + 1`;
}

/** Why a setting cannot work, as a sentence for the reader; "" when it can. */
export function problem(n, k, p, d, mode = "conv") {
  const what = mode === "conv" ? "kernel" : "window";
  const padded = n + 2 * p;
  if (span(k, d) > padded) {
    const spread = d > 1 ? ` spans ${span(k, d)} cells (dilation ${d}) and` : "";
    return (
      `Refused: a ${k}×${k} ${what}${spread} does not fit the padded input, ` +
      `which is only ${padded} cells wide (n + 2p = ${n} + 2×${p}). ` +
      `Make the ${what} or the dilation smaller, or add padding.`
    );
  }
  if (mode !== "conv" && 2 * p > k) {
    return (
      `Refused: pooling padding may be at most half the window (PyTorch's rule), ` +
      `so a ${k}×${k} window allows padding ≤ ${Math.floor(k / 2)}, not ${p}. ` +
      `Otherwise a window could read almost nothing but padding.`
    );
  }
  if (mode === "avg" && d > 1) {
    return "Refused: average pooling has no dilation in PyTorch (nn.AvgPool2d takes none). Set dilation to 1.";
  }
  return "";
}

/** torch.arange(rows * cols).reshape(rows, cols) as nested arrays. */
export function arange2d(rows, cols = rows) {
  return Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => r * cols + c));
}

/** The grid an explorer shows: `given` when it is size x size, otherwise arange2d(size). */
export function valuesFor(given, size) {
  return given.length === size && given.every((row) => row.length === size) ? given : arange2d(size);
}

/** X with p rows and columns of `fill` added on every side. */
export function pad(X, p, fill = 0) {
  const H = X.length;
  const W = H ? X[0].length : 0;
  return Array.from({ length: H + 2 * p }, (_, r) =>
    Array.from({ length: W + 2 * p }, (_, c) => {
      const i = r - p;
      const j = c - p;
      return i >= 0 && i < H && j >= 0 && j < W ? X[i][j] : fill;
    }),
  );
}

/** Whether padded cell (r, c) is padding, for an n x n input padded by p. */
export function isPadding(r, c, n, p) {
  return r < p || c < p || r >= p + n || c >= p + n;
}

/** The padded-input cells that output (i, j) reads, in kernel order: [row, col] pairs. */
export function taps(i, j, k, s, d) {
  const cells = [];
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) cells.push([i * s + a * d, j * s + b * d]);
  }
  return cells;
}

/** Combine one window: weighted sum (cross-correlation), max, or mean. */
export function reduce(values, weights, mode) {
  if (mode === "max") return Math.max(...values);
  let total = 0;
  for (let t = 0; t < values.length; t++) total += mode === "avg" ? values[t] : values[t] * weights[t];
  return mode === "avg" ? total / values.length : total;
}

/**
 * Everything the convolution explorer shows for one setting.
 * X (n, n), K (k, k) -> {size, Y (size, size), problem}. Max pooling pads
 * with -Infinity (padding never wins), average pooling with 0 (counted in
 * the mean, like torch's count_include_pad=True).
 */
export function explore(X, K, { k, p, s, d, mode }) {
  const n = X.length;
  const why = problem(n, k, p, d, mode);
  if (why) return { size: 0, Y: [], problem: why };
  const P = pad(X, p, mode === "max" ? -Infinity : 0);
  const size = outputSize(n, k, p, s, d);
  const weights = mode === "conv" ? K.flat() : [];
  const Y = Array.from({ length: size }, (_, i) =>
    Array.from({ length: size }, (_, j) =>
      reduce(taps(i, j, k, s, d).map(([r, c]) => P[r][c]), weights, mode),
    ),
  );
  return { size, Y, problem: "" };
}

/** For each padded row (or column) 0..m-1, whether any window reads it. */
export function readMask(m, k, s, d, size) {
  const read = new Array(m).fill(false);
  for (let i = 0; i < size; i++) {
    for (let a = 0; a < k; a++) read[i * s + a * d] = true;
  }
  return read;
}

/**
 * Multi-channel cross-correlation with bias, as in nn.Conv2d.
 * X (C, n, n), K (C_out, C, k, k), bias (C_out) -> {size, Y (C_out, size, size),
 * parts (C_out, size, size, C): each input channel's share of each output}.
 */
export function multiChannel(X, K, bias, p, s) {
  const n = X[0].length;
  const k = K[0][0].length;
  const why = problem(n, k, p, 1, "conv");
  if (why) return { size: 0, Y: [], parts: [], problem: why };
  const size = outputSize(n, k, p, s, 1);
  const padded = X.map((x) => pad(x, p));
  const parts = K.map((Ko) =>
    Array.from({ length: size }, (_, i) =>
      Array.from({ length: size }, (_, j) =>
        padded.map((P, c) => reduce(taps(i, j, k, s, 1).map(([r, q]) => P[r][q]), Ko[c].flat(), "conv")),
      ),
    ),
  );
  const Y = parts.map((plane, o) => plane.map((row) => row.map((sums) => sums.reduce((a, b) => a + b, 0) + bias[o])));
  return { size, Y, parts, problem: "" };
}

/**
 * Cross-correlate a grayscale image (row-major, H x W) with a k x k kernel
 * (row-major array) at stride s with zero padding p -> {H2, W2, data}.
 */
export function filterImage(img, H, W, K, s, p) {
  const k = Math.round(Math.sqrt(K.length));
  const H2 = outputSize(H, k, p, s, 1);
  const W2 = outputSize(W, k, p, s, 1);
  const data = new Float64Array(H2 * W2);
  for (let i = 0; i < H2; i++) {
    for (let j = 0; j < W2; j++) {
      let total = 0;
      for (let a = 0; a < k; a++) {
        const r = i * s + a - p;
        if (r < 0 || r >= H) continue;
        for (let b = 0; b < k; b++) {
          const c = j * s + b - p;
          if (c >= 0 && c < W) total += img[r * W + c] * K[a * k + b];
        }
      }
      data[i * W2 + j] = total;
    }
  }
  return { H2, W2, data };
}

/**
 * A number as the grids show it: integers exactly, others to 2 decimals,
 * ±∞ for infinities, and a true minus sign. Integers are checked before
 * rounding: every double above 2^53 is an integer, so scaling by 100 (which
 * overflows near the float limit) only ever happens to numbers below 2^53.
 */
export function fmt(v) {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  const r = Number.isInteger(v) ? v : Math.round(v * 100) / 100;
  const text = Number.isInteger(r) ? String(r === 0 ? 0 : r) : r.toFixed(2).replace(/0$/, "");
  return text.replace("-", "−");
}

/**
 * A weight typed into a number box: the number, or null when the text is
 * empty or not a finite number ("1e999" is Infinity, "NaN" is not a number).
 */
export function parseWeight(text) {
  const trimmed = String(text ?? "").trim();
  if (trimmed === "") return null;
  const v = Number(trimmed);
  return Number.isFinite(v) ? v : null;
}

// ---- the transposed convolution (TransposedExplorer), dilation 1 as in the explorer.
// Input value (h, w) adds X[h][w]·K to the output with the kernel's corner at
// (h·s − p, w·s − p): the copies cover (n − 1)s + k rows, padding p crops p of
// them on each side and output_padding adds op rows (and columns) at the end.

/** (n − 1)s − 2p + k + op: the output size of a transposed convolution. */
export function transposedSize(n, k, s, p, op) {
  return (n - 1) * s - 2 * p + k + op;
}

/** Why a transposed setting cannot work, as a sentence (PyTorch's rules); "" when it can. */
export function transposedProblem(n, k, s, p, op) {
  if (op >= s) {
    return (
      `Refused: output padding must be smaller than the stride (PyTorch's rule), so with stride ${s} ` +
      `it can be at most ${s - 1}, not ${op}. It only chooses among the ${s} input sizes that a ` +
      `stride-${s} convolution maps to one output size.`
    );
  }
  const size = transposedSize(n, k, s, p, op);
  if (size < 1) {
    return (
      `Refused: the copies cover (${n} − 1)·${s} + ${k} + ${op} = ${size + 2 * p} rows, and padding ${p} ` +
      `crops 2·${p} = ${2 * p} of them, which leaves ${size}. Use less padding.`
    );
  }
  return "";
}

/** The output cells input (h, w) writes to: {r, c, a, b} with kernel tap (a, b); cells cropped away are left out. */
export function scatterCells(h, w, k, s, p, size) {
  const cells = [];
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      const r = h * s + a - p;
      const c = w * s + b - p;
      if (r >= 0 && r < size && c >= 0 && c < size) cells.push({ r, c, a, b });
    }
  }
  return cells;
}

/** The inputs that reach output (r, c): {h, w, a, b}, input (h, w) through kernel tap (a, b). */
export function gatherCells(r, c, n, k, s, p) {
  const cells = [];
  for (let h = 0; h < n; h++) {
    for (let w = 0; w < n; w++) {
      const a = r + p - h * s;
      const b = c + p - w * s;
      if (a >= 0 && a < k && b >= 0 && b < k) cells.push({ h, w, a, b });
    }
  }
  return cells;
}

/**
 * Everything the transposed-convolution explorer shows for one setting:
 * X (n, n), K (k, k) -> {size, Y (size, size), copies (size, size), problem},
 * where copies counts the kernel copies that land on each output cell.
 */
export function transposed(X, K, { k, s, p, op }) {
  const n = X.length;
  const why = transposedProblem(n, k, s, p, op);
  if (why) return { size: 0, Y: [], copies: [], problem: why };
  const size = transposedSize(n, k, s, p, op);
  const Y = Array.from({ length: size }, () => new Array(size).fill(0));
  const copies = Array.from({ length: size }, () => new Array(size).fill(0));
  for (let h = 0; h < n; h++) {
    for (let w = 0; w < n; w++) {
      for (const { r, c, a, b } of scatterCells(h, w, k, s, p, size)) {
        Y[r][c] += X[h][w] * K[a][b];
        copies[r][c] += 1;
      }
    }
  }
  return { size, Y, copies, problem: "" };
}
