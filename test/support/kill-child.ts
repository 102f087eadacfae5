/**
 * Spawning a child script and killing it with SIGKILL at a chosen moment, for the kill -9 tests
 * (test/wal/kill9.test.ts, test/db/kill9.test.ts).
 *
 * This module only exports functions: `node --test dist/test/` (Node 20) runs every .js file
 * under a directory named `test` as a test file, this one included, and importing it must do
 * nothing.
 */
import { spawn } from 'node:child_process';

export interface KillOptions {
  /** How long to wait before the SIGKILL, in ms (counted from `ready`, or from the spawn). */
  delayMs: number;
  /** Count the delay from the spawn rather than from the child's `ready ` line. */
  fromSpawn: boolean;
  /** Without `fromSpawn`: kill the child anyway if it prints no `ready ` line within this many ms (never hang the suite). */
  readyTimeoutMs: number;
}

export interface KilledChild {
  /** The complete lines the child printed on stdout (an unterminated last line is dropped). */
  lines: string[];
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
  /** Time from the start of the delay (the spawn, or the `ready` line) to the process being reaped. */
  killedAfterMs: number;
}

/**
 * Runs `node <script> ...args` (as a plain script, not a test file), waits for its `ready `
 * line (unless `fromSpawn`) and then `delayMs`, sends SIGKILL and waits until the process is
 * reaped: its pid is gone, so any LOCK file it held is stale.
 */
export async function runAndKill(script: string, args: readonly string[], opts: KillOptions): Promise<KilledChild> {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // the child is a plain script, not a test file
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      if (out.includes('ready ')) resolve();
    });
    void exited.then(() => resolve());
  });
  child.stderr.on('data', (d: string) => (err += d));
  const t0 = performance.now();
  if (!opts.fromSpawn) {
    const timeout = setTimeout(() => child.kill('SIGKILL'), opts.readyTimeoutMs);
    await ready;
    clearTimeout(timeout);
  }
  const tKill = performance.now();
  await new Promise((r) => setTimeout(r, opts.delayMs));
  child.kill('SIGKILL');
  const { code, signal } = await exited;
  const killedAfterMs = performance.now() - (opts.fromSpawn ? t0 : tKill);
  const lines = out.split('\n');
  lines.pop(); // an unterminated last line is not an acknowledgement
  return { lines, signal, code, stderr: err, killedAfterMs };
}
