/**
 * REST request bodies on the fast path (rest.ts BodyDecoder, rest-json.ts parseJson): bodies that
 * arrive in many chunks, UTF-8 characters split across chunks, the reused assembly buffer (a
 * large body, then a small one), and int64 detection (bigints exactly where an integer literal is
 * beyond ±(2^53-1); the same values as JSON.parse everywhere else).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MilvusService } from '../../src/server/service.js';
import { Authenticator } from '../../src/server/auth.js';
import { createRestHandler } from '../../src/server/rest.js';
import { parseJson } from '../../src/server/rest-json.js';

let dir: string;
let svc: MilvusService;
let server: Server;
let port: number;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vecwal-rest-body-'));
  svc = await MilvusService.open({ dataDir: dir });
  server = createServer(createRestHandler(svc, { auth: new Authenticator({}), maxRequestBytes: 64 << 20 }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await svc.close();
  await rm(dir, { recursive: true, force: true });
});

/** POST `bytes` written in pieces of `piece` bytes (each its own write, a tick apart). */
function post(path: string, bytes: Buffer, piece: number): Promise<{ code: number; data?: unknown; message?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: `/v2/vectordb/${path}`, method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': bytes.length } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString('utf8')) as { code: number }));
    });
    req.on('error', reject);
    let at = 0;
    const next = (): void => {
      if (at >= bytes.length) {
        req.end();
        return;
      }
      req.write(bytes.subarray(at, at + piece));
      at += piece;
      setImmediate(next);
    };
    next();
  });
}

test('bodies in many chunks, UTF-8 split across chunks, a large body then a small one', async () => {
  const create = await post('collections/create', Buffer.from(JSON.stringify({ collectionName: 'b', dimension: 4 })), 7);
  assert.equal(create.code, 0, JSON.stringify(create));
  const texts = Array.from({ length: 400 }, (_, i) => `${i} é漢字🙂 `.repeat(1 + (i % 50)));
  const rows = texts.map((text, i) => ({ id: i, vector: [i, 1, 0.5, -0.25], text }));
  // Pieces of 1,001 bytes: multi-byte characters land on piece boundaries.
  const big = Buffer.from(JSON.stringify({ collectionName: 'b', data: rows }), 'utf8');
  assert.ok(big.length > 100_000);
  const ins = await post('entities/insert', big, 1001);
  assert.equal(ins.code, 0, JSON.stringify(ins).slice(0, 300));
  // An ASCII body in many pieces, after the large one (the assembly buffer is reused).
  const ascii = await post('entities/insert', Buffer.from(JSON.stringify({ collectionName: 'b', data: [{ id: 1000, vector: [0, 0, 0, 1], text: 'plain' }] })), 13);
  assert.equal(ascii.code, 0, JSON.stringify(ascii));
  const small = await post('entities/query', Buffer.from(JSON.stringify({ collectionName: 'b', filter: 'id >= 0', outputFields: ['id', 'text'], limit: 1000 })), 5);
  assert.equal(small.code, 0, JSON.stringify(small).slice(0, 300));
  const got = new Map((small.data as Array<{ id: string; text: string }>).map((r) => [Number(r.id), r.text]));
  assert.equal(got.size, 401);
  texts.forEach((t, i) => assert.equal(got.get(i), t, `row ${i}`));
  assert.equal(got.get(1000), 'plain');
  // Not JSON, in pieces: the usual 1801.
  const bad = await post('entities/insert', Buffer.from('{"collectionName": "b", "data": [é'), 3);
  assert.equal(bad.code, 1801);
});

test('parseJson: bigints exactly where a literal is beyond ±(2^53-1); JSON.parse values elsewhere', () => {
  const cases = ['{"a":1e400,"b":-1e400,"c":12345678901234567890.5,"d":1e16}', '{"s":"12345678901234567890","n":1234567890123456,"m":-9007199254740991,"f":0.12345678901234567}', '[[[[[1]]]],{"x":{"y":[2.5e-300]}}]', '"x"', '17', 'null'];
  for (const text of cases) {
    const r = parseJson(text);
    assert.equal(r.hasBigInt, false, text);
    assert.deepEqual(r.value, JSON.parse(text), text);
  }
  assert.deepEqual(parseJson('{"a":[{"b":9007199254740992}],"c":1}'), { value: { a: [{ b: 9007199254740992n }], c: 1 }, hasBigInt: true });
  assert.deepEqual(parseJson('[-9223372036854775808, 0.5, "9223372036854775808"]'), { value: [-9223372036854775808n, 0.5, '9223372036854775808'], hasBigInt: true });
  assert.deepEqual(parseJson('12345678901234567890'), { value: 12345678901234567890n, hasBigInt: true });
  // Deep nesting: fine through JSON.parse; the lossless parser recurses (a bigint in an absurdly
  // nested body is a RangeError, which the REST layer answers with 1801).
  const nested = (depth: number, x: string): string => `${'['.repeat(depth)}${x}${']'.repeat(depth)}`;
  assert.equal(parseJson(nested(5000, '1')).hasBigInt, false);
  let v: unknown = parseJson(nested(100, '9007199254740993')).value;
  for (let i = 0; i < 100; i++) v = (v as unknown[])[0];
  assert.equal(v, 9007199254740993n);
});
