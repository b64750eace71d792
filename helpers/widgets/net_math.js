// The arithmetic behind NetworkExplorer, with no DOM: decode the exported
// weights, preprocess a drawing the way MNIST was made, run the network layer
// by layer, and trace a unit's receptive field back to the input.
// tests/test_network_explorer.py runs this file with node and checks it against torch
// and helpers.drawing; tests/browser/test_network_explorer_page.py checks it in the book.
//
// Maps are Float64Array in (C, H, W) order, row by row; vectors are Float64Array.
// A layer's kernel_size, stride and padding are [rows, columns] pairs.
import { fromBase64 } from "./bytes.js";
import { outputSize } from "./conv_math.js";

/** base64 -> Float32Array (little-endian float32 or float16 values, as exported). */
export function decodeWeights(b64, dtype) {
  const bytes = fromBase64(b64);
  const view = new DataView(bytes.buffer);
  if (dtype === "float32") {
    const out = new Float32Array(bytes.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }
  if (dtype === "float16") {
    const out = new Float32Array(bytes.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = half(view.getUint16(2 * i, true));
    return out;
  }
  throw new Error(`unknown weight dtype ${dtype}`);
}

/** An IEEE 754 half-precision bit pattern -> its value. */
function half(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The weights of each layer as views into one Float32Array: layer.w, layer.b. */
export function buildNet(layers, weights) {
  return layers.map((layer) => {
    const take = (slot) => (slot ? weights.subarray(slot[0], slot[0] + slot[1]) : null);
    return { ...layer, W: take(layer.w), B: take(layer.b) };
  });
}

function conv2d(x, [C, H, W], L) {
  const [kh, kw] = L.kernel_size;
  const [sh, sw] = L.stride;
  const [ph, pw] = L.padding;
  const O = L.out_channels;
  const Ho = outputSize(H, kh, ph, sh, 1);
  const Wo = outputSize(W, kw, pw, sw, 1);
  const y = new Float64Array(O * Ho * Wo);
  for (let o = 0; o < O; o++) {
    const bias = L.B ? L.B[o] : 0;
    for (let i = 0; i < Ho; i++) {
      for (let j = 0; j < Wo; j++) {
        let sum = bias;
        for (let c = 0; c < C; c++) {
          const wBase = (o * C + c) * kh * kw;
          const xBase = c * H * W;
          for (let u = 0; u < kh; u++) {
            const r = i * sh - ph + u;
            if (r < 0 || r >= H) continue;
            for (let v = 0; v < kw; v++) {
              const col = j * sw - pw + v;
              if (col < 0 || col >= W) continue;
              sum += L.W[wBase + u * kw + v] * x[xBase + r * W + col];
            }
          }
        }
        y[(o * Ho + i) * Wo + j] = sum;
      }
    }
  }
  return [y, [O, Ho, Wo]];
}

function pool2d(x, [C, H, W], L, isMax) {
  const [kh, kw] = L.kernel_size;
  const [sh, sw] = L.stride;
  const [ph, pw] = L.padding;
  const Ho = outputSize(H, kh, ph, sh, 1);
  const Wo = outputSize(W, kw, pw, sw, 1);
  const y = new Float64Array(C * Ho * Wo);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < Ho; i++) {
      for (let j = 0; j < Wo; j++) {
        let acc = isMax ? -Infinity : 0;
        let count = 0;
        for (let u = 0; u < kh; u++) {
          const r = i * sh - ph + u;
          for (let v = 0; v < kw; v++) {
            const col = j * sw - pw + v;
            const inside = r >= 0 && r < H && col >= 0 && col < W;
            if (isMax) {
              if (inside) acc = Math.max(acc, x[(c * H + r) * W + col]);
            } else {
              // torch's AvgPool2d counts padded cells in the mean by default; cells past the
              // padded edge are never part of a window here (no ceil_mode)
              if (inside) acc += x[(c * H + r) * W + col];
              if (inside || L.count_include_pad) count += 1;
            }
          }
        }
        y[(c * Ho + i) * Wo + j] = isMax ? acc : acc / count;
      }
    }
  }
  return [y, [C, Ho, Wo]];
}

function linear(x, L) {
  const [O, I] = [L.out_features, L.in_features];
  const y = new Float64Array(O);
  for (let o = 0; o < O; o++) {
    let sum = L.B ? L.B[o] : 0;
    const base = o * I;
    for (let i = 0; i < I; i++) sum += L.W[base + i] * x[i];
    y[o] = sum;
  }
  return y;
}

const ACTIVATIONS = {
  relu: (v) => (v > 0 ? v : 0),
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  tanh: Math.tanh,
};

/**
 * Run the network on one input (Float64Array, shape [C, H, W]).
 * Returns each layer's output, {layer, data, shape}, in order; the last data are the logits.
 */
export function forward(net, input, shape) {
  let x = input;
  let s = shape;
  const outputs = [];
  for (const L of net) {
    if (L.type === "conv") [x, s] = conv2d(x, s, L);
    else if (L.type === "maxpool") [x, s] = pool2d(x, s, L, true);
    else if (L.type === "avgpool") [x, s] = pool2d(x, s, L, false);
    else if (L.type === "globalavgpool") {
      const [C, H, W] = s;
      const y = new Float64Array(C);
      for (let c = 0; c < C; c++) {
        let sum = 0;
        for (let t = 0; t < H * W; t++) sum += x[c * H * W + t];
        y[c] = sum / (H * W);
      }
      [x, s] = [y, [C, 1, 1]];
    } else if (L.type === "affine") {
      // BatchNorm that could not be folded: x * scale + shift per channel
      const per = s.length === 3 ? s[1] * s[2] : 1;
      const y = new Float64Array(x.length);
      for (let t = 0; t < x.length; t++) {
        const c = Math.floor(t / per);
        y[t] = x[t] * L.W[c] + L.B[c];
      }
      x = y;
    } else if (L.type in ACTIVATIONS) {
      const f = ACTIVATIONS[L.type];
      x = x.map(f);
    } else if (L.type === "flatten") s = [x.length];
    else if (L.type === "linear") [x, s] = [linear(x, L), [L.out_features]];
    else throw new Error(`layer type ${L.type} cannot run here`);
    outputs.push({ layer: L, data: x, shape: s });
  }
  return outputs;
}

/** Softmax of logits, computed stably. */
export function softmax(logits) {
  const top = Math.max(...logits);
  const e = Array.from(logits, (v) => Math.exp(v - top));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

/**
 * Area resize of an (H, W) image to (h, w), as torch's adaptive_avg_pool2d (and
 * F.interpolate(mode="area")): output cell i covers input rows floor(i*H/h) to ceil((i+1)*H/h) - 1.
 */
export function areaResize(img, H, W, h, w) {
  const out = new Float64Array(h * w);
  for (let i = 0; i < h; i++) {
    const r0 = Math.floor((i * H) / h);
    const r1 = Math.ceil(((i + 1) * H) / h);
    for (let j = 0; j < w; j++) {
      const c0 = Math.floor((j * W) / w);
      const c1 = Math.ceil(((j + 1) * W) / w);
      let sum = 0;
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) sum += img[r * W + c];
      out[i * w + j] = sum / ((r1 - r0) * (c1 - c0));
    }
  }
  return out;
}

/**
 * MNIST's preprocessing for a drawing: (H, W) ink, 0 for paper -> 28x28 on the same scale.
 * The ink's bounding box is scaled (area averaging) so that its longer side is 20
 * pixels, keeping the aspect ratio, then placed in a 28x28 field with its centre of
 * mass shifted (by whole pixels) to (14, 14), field // 2, where MNIST's digits have
 * theirs. helpers/drawing.py does the same in Python. Returns null when nothing is
 * drawn; throws for NaN, infinite or negative ink and for a box or field that is not
 * an integer with 1 <= box <= field.
 */
export function centerDigit(img, H, W, box = 20, field = 28) {
  if (!Number.isInteger(box) || !Number.isInteger(field) || box < 1 || box > field) {
    throw new Error(`centerDigit: need integers 1 <= box <= field, got box ${box}, field ${field}`);
  }
  if (img.length !== H * W) throw new Error(`centerDigit: ${img.length} pixels are not ${H}x${W}`);
  let top = H;
  let bottom = -1;
  let left = W;
  let right = -1;
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      const v = img[r * W + c];
      if (!(v >= 0 && v < Infinity)) {
        throw new Error(`centerDigit: ink must be finite and >= 0, got ${v} at (${r}, ${c})`);
      }
      if (v > 0) {
        top = Math.min(top, r);
        bottom = Math.max(bottom, r);
        left = Math.min(left, c);
        right = Math.max(right, c);
      }
    }
  }
  if (bottom < 0) return null;
  const bh = bottom - top + 1;
  const bw = right - left + 1;
  const crop = new Float64Array(bh * bw);
  for (let r = 0; r < bh; r++) for (let c = 0; c < bw; c++) crop[r * bw + c] = img[(top + r) * W + left + c];
  const scale = box / Math.max(bh, bw);
  const h = Math.max(1, Math.round(bh * scale));
  const w = Math.max(1, Math.round(bw * scale));
  const small = areaResize(crop, bh, bw, h, w);
  let mass = 0;
  let cy = 0;
  let cx = 0;
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const v = small[r * w + c];
      mass += v;
      cy += v * r;
      cx += v * c;
    }
  }
  const centre = Math.floor(field / 2);
  const dy = Math.floor(centre - cy / mass + 0.5);
  const dx = Math.floor(centre - cx / mass + 0.5);
  const out = new Float64Array(field * field);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const rr = r + dy;
      const cc = c + dx;
      if (rr >= 0 && rr < field && cc >= 0 && cc < field) out[rr * field + cc] = small[r * w + c];
    }
  }
  return out;
}

/** (x - mean) / std for every pixel: the training split's normalisation. */
export function normalize(pixels, mean, std) {
  return pixels.map((v) => (v - mean) / std);
}

/**
 * The input rows and columns that unit (row, col) of layer `index`'s output depends on:
 * [[r0, r1], [c0, c1]], inclusive, in input coordinates (may reach into padding, i.e. < 0).
 */
export function receptiveField(net, index, row, col) {
  let rows = [row, row];
  let cols = [col, col];
  for (let t = index; t >= 0; t--) {
    const L = net[t];
    if (!["conv", "maxpool", "avgpool"].includes(L.type)) continue;
    const [kh, kw] = L.kernel_size;
    const [sh, sw] = L.stride;
    const [ph, pw] = L.padding;
    rows = [rows[0] * sh - ph, rows[1] * sh - ph + kh - 1];
    cols = [cols[0] * sw - pw, cols[1] * sw - pw + kw - 1];
  }
  return [rows, cols];
}
