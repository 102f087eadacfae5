/**
 * A tiny WebAssembly binary emitter: just enough of the format (one imported memory, i32/f32/v128
 * locals, loads, stores, arithmetic, blocks and loops) to generate the distance kernels at run
 * time. Generating at run time, instead of shipping a prebuilt .wasm, lets each kernel be
 * specialised for its dimension (constant load offsets, fully unrolled inner loop) and needs no
 * compiler toolchain as a dependency.
 *
 * Reference: WebAssembly Core Specification 2.0, "Binary Format" and the fixed-width SIMD proposal.
 */

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

/** Plain (one-byte) opcodes used by the kernels. */
export const OP = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  brIf: 0x0d,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  f32Load: 0x2a,
  f32Store: 0x38,
  i32Const: 0x41,
  f32Const: 0x43,
  i32Eqz: 0x45,
  i32LtU: 0x49,
  i32GtU: 0x4b,
  f32Gt: 0x5e,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  f32Neg: 0x8c,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
} as const;

/** SIMD opcodes (emitted after the 0xfd prefix as a LEB128 u32). */
export const SIMD = {
  v128Load: 0x00,
  v128Const: 0x0c,
  f32x4ExtractLane: 0x1f,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
} as const;

/** The empty block type (a block or loop that takes and leaves nothing on the stack). */
export const VOID_BLOCK = 0x40;

/** Appends unsigned LEB128. */
export function pushU32(out: number[], n: number): void {
  let v = n >>> 0;
  do {
    const byte = v & 0x7f;
    v >>>= 7;
    out.push(v === 0 ? byte : byte | 0x80);
  } while (v !== 0);
}

/** Appends signed LEB128 of a 32-bit integer. */
export function pushI32(out: number[], n: number): void {
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

function pushName(out: number[], s: string): void {
  const bytes = new TextEncoder().encode(s);
  pushU32(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** Builds one function body. Locals are declared up front; parameters come first in the index space. */
export class FuncBuilder {
  readonly code: number[] = [];
  private readonly localTypes: number[] = [];

  constructor(
    readonly params: number[],
    readonly results: number[] = [],
  ) {}

  /** Declares a new local and returns its index. */
  local(type: number): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }

  simd(op: number): this {
    this.code.push(0xfd);
    pushU32(this.code, op);
    return this;
  }

  get(i: number): this {
    this.code.push(OP.localGet);
    pushU32(this.code, i);
    return this;
  }

  set(i: number): this {
    this.code.push(OP.localSet);
    pushU32(this.code, i);
    return this;
  }

  tee(i: number): this {
    this.code.push(OP.localTee);
    pushU32(this.code, i);
    return this;
  }

  i32(n: number): this {
    this.code.push(OP.i32Const);
    pushI32(this.code, n);
    return this;
  }

  f32(x: number): this {
    this.code.push(OP.f32Const);
    const b = new Uint8Array(new Float32Array([x]).buffer);
    for (const v of b) this.code.push(v);
    return this;
  }

  /** A zero v128 constant. */
  v128Zero(): this {
    this.simd(SIMD.v128Const);
    for (let i = 0; i < 16; i++) this.code.push(0);
    return this;
  }

  /** Memory access with a constant byte offset; alignment hint 0 because rows need not be 16-byte aligned. */
  private memarg(offset: number): this {
    this.code.push(0);
    pushU32(this.code, offset);
    return this;
  }

  v128Load(offset: number): this {
    return this.simd(SIMD.v128Load).memarg(offset);
  }

  f32Load(offset: number): this {
    return this.op(OP.f32Load).memarg(offset);
  }

  f32Store(offset: number): this {
    return this.op(OP.f32Store).memarg(offset);
  }

  extractLane(lane: number): this {
    return this.simd(SIMD.f32x4ExtractLane).op(lane);
  }

  /** The function's code-section entry: size, run-length-encoded locals, body, end. */
  encode(): number[] {
    const body: number[] = [];
    const groups: Array<[number, number]> = [];
    for (const t of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last !== undefined && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    pushU32(body, groups.length);
    for (const [count, type] of groups) {
      pushU32(body, count);
      body.push(type);
    }
    for (const b of this.code) body.push(b);
    body.push(OP.end);
    const out: number[] = [];
    pushU32(out, body.length);
    append(out, body);
    return out;
  }
}

/** Appends without spreading: kernels for large dimensions have bodies too big for push(...args). */
function append(out: number[], bytes: readonly number[]): void {
  for (const b of bytes) out.push(b);
}

function section(out: number[], id: number, content: number[]): void {
  out.push(id);
  pushU32(out, content.length);
  append(out, content);
}

/**
 * A module importing one linear memory as env.mem (so several kernel instances can share one
 * scratch memory) and exporting the given functions. With `sharedMaxPages` the import is a
 * shared memory (a SharedArrayBuffer that worker threads can use), which must declare a maximum.
 */
export function encodeModule(funcs: Array<{ name: string; fn: FuncBuilder }>, minPages: number, sharedMaxPages?: number): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types: number[] = [];
  pushU32(types, funcs.length);
  for (const { fn } of funcs) {
    types.push(0x60);
    pushU32(types, fn.params.length);
    append(types, fn.params);
    pushU32(types, fn.results.length);
    append(types, fn.results);
  }
  section(out, 1, types);

  const imports: number[] = [1];
  pushName(imports, 'env');
  pushName(imports, 'mem');
  if (sharedMaxPages === undefined) {
    imports.push(0x02, 0x00); // memory, limits without maximum
    pushU32(imports, minPages);
  } else {
    imports.push(0x02, 0x03); // memory, shared, limits with maximum
    pushU32(imports, minPages);
    pushU32(imports, sharedMaxPages);
  }
  section(out, 2, imports);

  const fnSec: number[] = [];
  pushU32(fnSec, funcs.length);
  funcs.forEach((_, i) => pushU32(fnSec, i));
  section(out, 3, fnSec);

  const exports: number[] = [];
  pushU32(exports, funcs.length);
  funcs.forEach(({ name }, i) => {
    pushName(exports, name);
    exports.push(0x00);
    pushU32(exports, i);
  });
  section(out, 7, exports);

  const code: number[] = [];
  pushU32(code, funcs.length);
  for (const { fn } of funcs) append(code, fn.encode());
  section(out, 10, code);
  return Uint8Array.from(out);
}
