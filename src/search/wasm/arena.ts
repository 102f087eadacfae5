/**
 * An Arena is one WebAssembly linear memory plus the kernel instances bound to it (a wasm
 * instance sees exactly one memory, so vectors, queries and output keys must share it).
 * Compiled modules are cached process-wide per kernel shape; instantiating one against another
 * memory costs microseconds.
 */
import { type WasmApi, type WasmMemory, type WasmModule, wasmApi } from './api.js';
import { type KernelKind, type KernelShape, generateKernel } from './kernel-gen.js';

export type ScoreFn = (data: number, nrows: number, queries: number, out: number, norms: number) => void;

export const PAGE = 65536;
/** wasm32 addresses are u32; keep one page short of 4 GiB so `data + bytes` never wraps. */
export const MAX_PAGES = 65535;

const modules = new Map<string, WasmModule>();
let simd: boolean | undefined;

/** Whether this runtime compiles WebAssembly SIMD (Node >= 16.4 does, unless disabled by flags). */
export function simdAvailable(): boolean {
  if (simd === undefined) {
    try {
      simd = wasmApi !== undefined && wasmApi.validate(generateKernel(shapeFor('l2', 4, 1)));
    } catch {
      simd = false;
    }
  }
  return simd;
}

/**
 * The kernel shape for scoring `queries` queries per pass, chosen by bench/search-kernel.ts-style
 * measurements on x64: more unrolling or accumulators made V8 hoist every load of the unrolled
 * body to the top and spill registers, so small bodies in a loop won. Four queries per pass
 * roughly halved the per-query time versus one; beyond four the accumulators and query loads
 * exceed the 16 SIMD registers.
 */
export function shapeFor(kind: KernelKind, dim: number, queries: number): KernelShape {
  const accumulators = queries === 1 ? 4 : queries === 2 ? 2 : 1;
  const maxUnrolledChunks = queries === 1 ? 4 : 2;
  return { kind, dim, queries, accumulators, maxUnrolledChunks };
}

/** Queries scored per kernel pass in a batch. */
export const QUERY_BLOCK = 4;

/** The WebAssembly API; only called after simdAvailable() said yes. */
function api(): WasmApi {
  if (wasmApi === undefined) throw new Error('WebAssembly is not available');
  return wasmApi;
}

function kernelModule(shape: KernelShape): WasmModule {
  const key = `${shape.kind}/${shape.dim}/${shape.queries}`;
  let m = modules.get(key);
  if (m === undefined) {
    m = new (api().Module)(generateKernel(shape));
    modules.set(key, m);
  }
  return m;
}

export class Arena {
  readonly memory: WasmMemory;
  /** Set while a search uses this arena's scratch space (a filter callback could re-enter). */
  busy = false;
  private view: Float32Array;
  private readonly kernels = new Map<string, ScoreFn>();

  /** Throws a RangeError when the memory cannot be had. */
  constructor(bytes: number) {
    const pages = Math.max(1, Math.ceil(bytes / PAGE));
    if (pages > MAX_PAGES) throw new RangeError(`${bytes} bytes exceed WebAssembly's 4 GiB memory`);
    this.memory = new (api().Memory)({ initial: pages });
    this.view = new Float32Array(this.memory.buffer);
  }

  /** A view of the whole memory (re-made after growth, which detaches the old buffer). */
  get f32(): Float32Array {
    if (this.view.buffer !== this.memory.buffer) this.view = new Float32Array(this.memory.buffer);
    return this.view;
  }

  /** Grows the memory to at least `bytes`. Invalidates views taken before. */
  ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return;
    const pages = Math.ceil((bytes - have) / PAGE);
    if (have / PAGE + pages > MAX_PAGES) throw new RangeError(`${bytes} bytes exceed WebAssembly's 4 GiB memory`);
    this.memory.grow(pages);
  }

  kernel(kind: KernelKind, dim: number, queries: number): ScoreFn {
    const key = `${kind}/${dim}/${queries}`;
    let fn = this.kernels.get(key);
    if (fn === undefined) {
      const inst = new (api().Instance)(kernelModule(shapeFor(kind, dim, queries)), { env: { mem: this.memory } });
      fn = inst.exports['score'] as ScoreFn;
      this.kernels.set(key, fn);
    }
    return fn;
  }
}
