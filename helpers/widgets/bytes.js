// Bytes that the Python side stores in a trait as base64 text: 8-bit gray
// photos and test digits, and a network's weights. JSON carries text, and
// base64 keeps a 28x28 image at 1,048 characters instead of a list of numbers.

/** base64 text -> its bytes. */
export function fromBase64(b64) {
  const text = atob(b64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** `count` 8-bit pixels from bytes[start] as values in [0, 1] (0 -> 0, 255 -> 1). */
export function unitPixels(bytes, start = 0, count = bytes.length - start) {
  const out = new Float64Array(count);
  for (let t = 0; t < count; t++) out[t] = bytes[start + t] / 255;
  return out;
}
