/**
 * The plain-JavaScript kernel: the fallback where WebAssembly SIMD is unavailable, and the
 * reference the SIMD kernel is checked against. Same contract as the wasm kernel: writes one key
 * per row (smaller is better) into `out`, one query at a time.
 *
 * Four independent accumulators: a single `s += ...` chain is bound by floating-point add
 * latency, and V8 does not reassociate float math on its own. Accumulation is in double (JS
 * numbers), so this kernel is slightly more accurate than the f32 SIMD one.
 */
import type { KernelKind } from './wasm/kernel-gen.js';

export interface JsRows {
  data: Float32Array;
  dim: number;
  /** Row norms for 'cos'; when absent they are computed in the same pass. */
  norms: Float32Array | undefined;
}

/** Keys of rows r0..r0+n-1 against the query at q[qo..qo+dim) into out[0..n). */
export function jsScore(rows: JsRows, r0: number, n: number, q: Float32Array, qo: number, kind: KernelKind, out: Float32Array): void {
  if (kind === 'l2') jsL2(rows, r0, n, q, qo, out);
  else if (kind === 'ip') jsDot(rows, r0, n, q, qo, out);
  else jsCos(rows, r0, n, q, qo, out);
}

function jsL2({ data, dim }: JsRows, r0: number, n: number, q: Float32Array, qo: number, out: Float32Array): void {
  const d4 = dim & ~3;
  for (let r = 0; r < n; r++) {
    const o = (r0 + r) * dim;
    let a = 0, b = 0, c = 0, d = 0; // prettier-ignore
    let j = 0;
    for (; j < d4; j += 4) {
      const e0 = data[o + j]! - q[qo + j]!;
      const e1 = data[o + j + 1]! - q[qo + j + 1]!;
      const e2 = data[o + j + 2]! - q[qo + j + 2]!;
      const e3 = data[o + j + 3]! - q[qo + j + 3]!;
      a += e0 * e0;
      b += e1 * e1;
      c += e2 * e2;
      d += e3 * e3;
    }
    for (; j < dim; j++) {
      const e = data[o + j]! - q[qo + j]!;
      a += e * e;
    }
    out[r] = a + b + (c + d);
  }
}

function dot(data: Float32Array, o: number, q: Float32Array, qo: number, dim: number): number {
  const d4 = dim & ~3;
  let a = 0, b = 0, c = 0, d = 0; // prettier-ignore
  let j = 0;
  for (; j < d4; j += 4) {
    a += data[o + j]! * q[qo + j]!;
    b += data[o + j + 1]! * q[qo + j + 1]!;
    c += data[o + j + 2]! * q[qo + j + 2]!;
    d += data[o + j + 3]! * q[qo + j + 3]!;
  }
  for (; j < dim; j++) a += data[o + j]! * q[qo + j]!;
  return a + b + (c + d);
}

function jsDot({ data, dim }: JsRows, r0: number, n: number, q: Float32Array, qo: number, out: Float32Array): void {
  for (let r = 0; r < n; r++) out[r] = -dot(data, (r0 + r) * dim, q, qo, dim);
}

/** Cosine with a pre-normalised query: -(x.q)/|x|, and 0 for a zero row. */
function jsCos({ data, dim, norms }: JsRows, r0: number, n: number, q: Float32Array, qo: number, out: Float32Array): void {
  if (norms === undefined) return jsCosSelfNorm(data, dim, r0, n, q, qo, out);
  for (let r = 0; r < n; r++) {
    const norm = norms[r0 + r]!;
    out[r] = norm > 0 ? -dot(data, (r0 + r) * dim, q, qo, dim) / norm : -0;
  }
}

/** Without norms: x.q and |x|^2 in one pass over the row instead of two. */
function jsCosSelfNorm(data: Float32Array, dim: number, r0: number, n: number, q: Float32Array, qo: number, out: Float32Array): void {
  const d2 = dim & ~1;
  for (let r = 0; r < n; r++) {
    const o = (r0 + r) * dim;
    let a = 0, b = 0, xa = 0, xb = 0; // prettier-ignore
    let j = 0;
    for (; j < d2; j += 2) {
      const x0 = data[o + j]!;
      const x1 = data[o + j + 1]!;
      a += x0 * q[qo + j]!;
      b += x1 * q[qo + j + 1]!;
      xa += x0 * x0;
      xb += x1 * x1;
    }
    if (j < dim) {
      const x = data[o + j]!;
      a += x * q[qo + j]!;
      xa += x * x;
    }
    const norm = Math.sqrt(xa + xb);
    out[r] = norm > 0 ? -(a + b) / norm : -0;
  }
}
