/**
 * Small helpers shared by the column codec and segment file tests (test/db/columns.test.ts,
 * test/segment/segment-file.test.ts): hex dumps, one-collection schemas, and a comparable form
 * of a column batch.
 *
 * This module only exports functions: `node --test dist/test/` (Node 20) runs every .js file
 * under a directory named `test` as a test file, this one included, and importing it must do
 * nothing.
 */
import type { CollectionSchema, ColumnBatch, FieldSchema } from '../../src/db/types.js';

/** The bytes as lower-case hex. */
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A collection schema named `c` with these fields, metric L2. */
export function schemaOf(fields: FieldSchema[], enableDynamicField = false): CollectionSchema {
  return { name: 'c', fields, enableDynamicField, metricType: 'L2' };
}

/** A comparable form of a batch: typed arrays as [type, exact bytes] (NaN and -0 included). */
export function canon(b: ColumnBatch): unknown {
  const typed = (a: ArrayBufferView) => [a.constructor.name, hex(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))];
  const cols = [...b.columns].map(([name, c]) => {
    const out: Record<string, unknown> = { name, type: c.type, values: ArrayBuffer.isView(c.values) ? typed(c.values) : c.values };
    if (c.type === 'FloatVector') out.dim = c.dim;
    else if (c.valid) out.valid = typed(c.valid);
    return out;
  });
  return { count: b.count, cols, dynamic: b.dynamic };
}
