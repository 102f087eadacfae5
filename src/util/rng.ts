/**
 * A small, fast, seedable PRNG for tests and fault injection: sfc32 (Chris Doty-Humphrey's
 * "Small Fast Counting" generator, 128-bit state, passes PractRand), seeded through splitmix32 so
 * that nearby seeds (0, 1, 2, ...) give unrelated streams. Not for cryptography.
 *
 * Determinism matters more than quality here: a failing crash test prints its seed, and the same
 * seed must replay the same faults on every platform, so only 32-bit integer arithmetic is used.
 */

/** splitmix32 step: spreads a 32-bit seed over the state words. */
function splitmix32(state: number): [next: number, out: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return [next, (z ^ (z >>> 15)) >>> 0];
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(s);
      s = next;
      words.push(out);
    }
    [this.a, this.b, this.c, this.d] = words as [number, number, number, number];
    // sfc32 recommends discarding a few outputs so the counter mixes into the state.
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /**
   * Fill `out[from, to)` with uniform floats in [lo, hi): exactly the values `lo + (hi - lo) *
   * next()` drawn one by one would give, and the same state after, but computed on local
   * variables in one tight loop (several times faster for bulk data such as synthetic vectors).
   */
  fillUniform(out: Float32Array | Float64Array, from: number, to: number, lo = 0, hi = 1): void {
    let { a, b, c, d } = this;
    const span = hi - lo;
    for (let i = from; i < to; i++) {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      out[i] = lo + span * ((t >>> 0) / 4294967296);
    }
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
  }

  /** A uniform integer in [0, n). `n` must be a positive integer up to 2^32. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability `p`. Always consumes exactly one draw, whatever `p`, so streams stay aligned. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/**
 * The seed for a randomized test: the integer in env var `name` if set (to replay a failure),
 * else `fallback` if given, else a fresh random seed. Callers should print the seed they use.
 */
export function seedFromEnv(name: string, fallback?: number): number {
  const raw = process.env[name];
  if (raw !== undefined && raw.trim() !== '') {
    const n = Number(raw.trim());
    if (!Number.isInteger(n)) throw new Error(`${name}=${raw} is not an integer seed`);
    return n >>> 0;
  }
  if (fallback !== undefined) return fallback >>> 0;
  return Math.floor(Math.random() * 4294967296) >>> 0;
}
