import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wasmApi } from '../../src/search/wasm/api.js';
import { pushI32, pushU32 } from '../../src/search/wasm/emit.js';
import { generateKernel, generateSumKernel } from '../../src/search/wasm/kernel-gen.js';

const wasm = wasmApi!;

const leb = (f: (out: number[], n: number) => void, n: number): number[] => {
  const out: number[] = [];
  f(out, n);
  return out;
};

test('LEB128 encodings match the spec examples', () => {
  assert.deepEqual(leb(pushU32, 0), [0]);
  assert.deepEqual(leb(pushU32, 127), [0x7f]);
  assert.deepEqual(leb(pushU32, 128), [0x80, 0x01]);
  assert.deepEqual(leb(pushU32, 624485), [0xe5, 0x8e, 0x26]);
  assert.deepEqual(leb(pushU32, 0xffffffff), [0xff, 0xff, 0xff, 0xff, 0x0f]);
  assert.deepEqual(leb(pushI32, -1), [0x7f]);
  assert.deepEqual(leb(pushI32, 63), [0x3f]);
  assert.deepEqual(leb(pushI32, 64), [0xc0, 0x00]);
  assert.deepEqual(leb(pushI32, -123456), [0xc0, 0xbb, 0x78]);
});

test('generated kernels validate for every kind, odd dims, rolled and unrolled loops', () => {
  for (const kind of ['l2', 'ip', 'cos', 'cosn'] as const) {
    for (const dim of [1, 3, 4, 5, 17, 128, 129, 1000]) {
      for (const [queries, accumulators, maxUnrolledChunks] of [[1, 4, 4], [4, 1, 2], [3, 2, 64]]) {
        const bytes = generateKernel({ kind, dim, queries: queries!, accumulators: accumulators!, maxUnrolledChunks: maxUnrolledChunks! });
        assert.ok(wasm.validate(bytes), `${kind} dim=${dim} B=${queries}`);
      }
    }
  }
  assert.ok(wasm.validate(generateSumKernel()));
  // The shared-memory variant (for worker threads over a SharedArrayBuffer) validates too.
  assert.ok(wasm.validate(generateKernel({ kind: 'ip', dim: 8, queries: 4, accumulators: 1, maxUnrolledChunks: 2 }, 16)));
  assert.throws(() => generateKernel({ kind: 'l2', dim: 0, queries: 1, accumulators: 1, maxUnrolledChunks: 1 }));
});

test('sum kernel adds every float', () => {
  const mem = new wasm.Memory({ initial: 1 });
  const f = new Float32Array(mem.buffer, 0, 64);
  for (let i = 0; i < 64; i++) f[i] = i;
  const inst = new wasm.Instance(new wasm.Module(generateSumKernel()), { env: { mem } });
  assert.equal((inst.exports['sum'] as (p: number, n4: number) => number)(0, 16), (63 * 64) / 2);
});
