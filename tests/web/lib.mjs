// Shared helpers of the web tests: start `vidproc serve` on a free loopback port with a fresh data
// directory, wait until it listens, read its memory from /proc, and stop it with SIGTERM, always.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const servers = new Set();
const tempDirs = new Set();

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class TestFailure extends Error {}
export function check(condition, message) {
  if (!condition) throw new TestFailure(message);
}

// argv: node X.mjs VIDPROC_BIN FIXTURE_VIDEO (or the environment variables VIDPROC_BIN, VIDPROC_FIXTURE).
export function parseArgs() {
  const bin = process.argv[2] || process.env.VIDPROC_BIN;
  const fixture = process.argv[3] || process.env.VIDPROC_FIXTURE;
  if (!bin || !fixture) {
    console.error('usage: node <test>.mjs PATH_TO_VIDPROC PATH_TO_FIXTURE_VIDEO');
    process.exit(2);
  }
  for (const p of [bin, fixture]) {
    if (!existsSync(p)) {
      console.error(`not found: ${p}`);
      process.exit(2);
    }
  }
  return { bin: resolve(bin), fixture: resolve(fixture) };
}

export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

// Starts `vidproc serve`. options: workers (undefined = the server's default), token, env, args.
export async function startServer(bin, { workers, token, env = {}, args = [], name = 'server' } = {}) {
  const root = tempDir('vidproc-web-');
  const dataDir = join(root, 'data');
  const portFile = join(root, 'port');
  const argv = ['serve', '--listen', '127.0.0.1:0', '--port-file', portFile, '--data-dir', dataDir];
  if (workers !== undefined) argv.push('--workers', String(workers));
  argv.push(...args);
  const childEnv = { ...process.env, ...env, VIDPROC_DATA_DIR: dataDir };
  delete childEnv.VIDPROC_API_TOKEN;
  if (token) childEnv.VIDPROC_API_TOKEN = token;
  // cwd = the temp dir, so that no .env file of the caller's directory leaks into the server.
  const child = spawn(bin, argv, { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  const notable = [];  // everything but the access log
  const keep = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      log.push(line);
      if (log.length > 400) log.shift();
      if (!/ info http /.test(line) && notable.length < 200) notable.push(line);
      if (/ stopping\b/.test(line) && !server.stopRequested && !server.outsideStop) {
        server.outsideStop = line;
        console.error(`${name}: WARNING: vidproc serve (pid ${child.pid}) is stopping, but this test did not ` +
                      `stop it: another process sent it a signal (${line})`);
      }
      if (process.env.VIDPROC_TEST_VERBOSE) console.log(`[${name}] ${line}`);
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const exitPromise = new Promise((r) => child.on('exit', (code, signal) => { exited = { code, signal }; r(exited); }));
  const server = {
    name, child, pid: child.pid, root, dataDir, log, token,
    get exited() { return exited; },
    url: '', port: 0,
    stop: () => stopServer(server, exitPromise),
    status: () => procStatus(child.pid),
    logTail: (n = 40) => log.slice(-n).join('\n'),
    notable: () => notable.join('\n'),
    originalPath: (id) => join(dataDir, 'storage', 'blobs', 'videos', id, 'original'),
    auth: () => (token ? { Authorization: `Bearer ${token}` } : {}),
  };
  servers.add(server);

  const deadline = Date.now() + 30_000;
  let port = 0;
  while (!port) {
    if (exited) throw new TestFailure(`${name}: vidproc serve exited (${JSON.stringify(exited)}) before listening:\n${server.logTail()}`);
    if (Date.now() > deadline) throw new TestFailure(`${name}: no port in ${portFile} after 30 s:\n${server.logTail()}`);
    try {
      port = parseInt(readFileSync(portFile, 'utf8').trim(), 10) || 0;
    } catch {}
    if (!port) await sleep(50);
  }
  server.port = port;
  server.url = `http://127.0.0.1:${port}/`;
  // It listens: /healthz answers 200 (no auth).
  for (;;) {
    try {
      const res = await fetch(`${server.url}healthz`);
      if (res.ok) break;
    } catch {}
    if (exited || Date.now() > deadline) throw new TestFailure(`${name}: /healthz never answered 200:\n${server.logTail()}`);
    await sleep(50);
  }
  console.log(`${name}: vidproc serve pid ${child.pid} at ${server.url} (data ${dataDir})`);
  return server;
}

async function stopServer(server, exitPromise) {
  if (!servers.has(server)) return server.exited;
  servers.delete(server);
  if (!server.exited) {
    server.stopRequested = true;
    server.child.kill('SIGTERM');
    const done = await Promise.race([exitPromise, sleep(20_000).then(() => null)]);
    if (!done) {
      server.child.kill('SIGKILL');
      await exitPromise;
      throw new TestFailure(`${server.name}: vidproc serve did not stop within 20 s of SIGTERM`);
    }
  }
  const { code, signal } = server.exited;
  if (code !== 0) {
    throw new TestFailure(`${server.name}: vidproc serve ended with ${signal ? `signal ${signal}` : `exit status ${code}`}, ` +
                          `expected a clean exit (0) on SIGTERM:\n${server.logTail(20)}`);
  }
  return server.exited;
}

// /proc/PID/status in kB: { VmRSS, VmHWM, Threads, ... }
export function procStatus(pid) {
  const out = {};
  try {
    for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
      const m = /^(\w+):\s+(\d+)/.exec(line);
      if (m) out[m[1]] = Number(m[2]);
    }
  } catch {}
  return out;
}

export function sha256File(path) {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path).on('error', rej).on('data', (d) => h.update(d)).on('end', () => res(h.digest('hex')));
  });
}

// fetch against a server: path relative to its root, JSON helpers.
export async function call(server, method, path, { headers = {}, body, auth = true } = {}) {
  const h = { ...(auth ? server.auth() : {}), ...headers };
  return fetch(new URL(path, server.url), { method, headers: h, body, redirect: 'manual', duplex: body ? 'half' : undefined });
}
export async function getJson(server, path, opts) {
  const res = await call(server, 'GET', path, opts);
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: res.status, headers: res.headers, json, text };
}

// Polls GET /api/v1/videos/{id} until its status is one of `want` (or failed), up to timeoutMs.
export async function waitForStatus(server, id, want, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  while (Date.now() < deadline) {
    const r = await getJson(server, `/api/v1/videos/${id}`);
    check(r.status === 200, `GET /api/v1/videos/${id}: expected 200, got ${r.status} ${r.text}`);
    last = r.json;
    if (want.includes(last.status)) return last;
    if (last.status === 'failed') throw new TestFailure(`video ${id} failed: ${JSON.stringify(last.error)}`);
    await sleep(500);
  }
  throw new TestFailure(`video ${id} did not reach ${want.join('/')} in ${timeoutMs / 1000} s; last: ${JSON.stringify(last)}`);
}

export async function stopAll() {
  const errors = [];
  for (const s of [...servers]) {
    try { await s.stop(); } catch (e) { errors.push(e); }
  }
  if (!process.env.VIDPROC_TEST_KEEP) {
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  }
  tempDirs.clear();
  return errors;
}

// Last resort: a test that dies does not leave servers behind.
process.on('exit', () => {
  for (const s of servers) {
    try { s.child.kill('SIGKILL'); } catch {}
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await stopAll();
    process.exit(130);
  });
}

// Runs a test body; prints PASS/FAIL, stops every server, exits non-zero on failure.
export async function run(name, body) {
  const started = Date.now();
  let failed = null;
  try {
    await body();
  } catch (e) {
    failed = e;
  }
  if (failed) {
    console.error(`\nFAIL ${name}: ${failed instanceof TestFailure ? failed.message : failed.stack || failed}`);
    for (const s of servers) {
      if (s.outsideStop) console.error(`NOTE: ${s.name} was stopped from outside this test during the run: ${s.outsideStop}`);
    }
    for (const s of servers) {
      console.error(`--- log of ${s.name} (pid ${s.pid}) but the access log:\n${s.notable()}`);
      console.error(`--- last log lines of ${s.name}:\n${s.logTail(15)}`);
    }
  }
  const stopErrors = await stopAll();
  for (const e of stopErrors) console.error(`FAIL ${name}: ${e.message}`);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (failed || stopErrors.length) {
    console.error(`FAIL ${name} (${secs} s)`);
    process.exit(1);
  }
  console.log(`PASS ${name} (${secs} s)`);
  process.exit(0);
}

// One tus-js-client upload of `data` from Node (`tus`: the tus-js-client module), with only the
// headers `options` gives. Resolves with { upload, events, aborted } once it succeeded, or, with
// `cutAt`, once that many bytes were sent and it was aborted mid-PATCH (a cut connection).
// Rejects with tus-js-client's own error: its originalResponse is what the server answered.
export function tusUpload(tus, data, { filename, chunkSize }, options, cutAt) {
  return new Promise((resolve, reject) => {
    const events = { chunks: 0, retries: 0 };
    const upload = new tus.Upload(data, {
      chunkSize,
      metadata: { filename, filetype: 'video/mp4' },
      retryDelays: [],
      ...options,
      onProgress(sent) {
        if (cutAt && sent >= cutAt && !events.aborted) {
          events.aborted = true;
          events.abortedAt = sent;
          upload.abort(false).then(() => resolve({ upload, events, aborted: true }), reject);
        }
      },
      onChunkComplete() { events.chunks++; },
      onShouldRetry(err, attempt) {
        events.retries++;
        console.log(`  tus-js-client retries (attempt ${attempt}) after: ${err.message.split('\n')[0]}`);
        return true;
      },
      onSuccess() { resolve({ upload, events, aborted: false }); },
      onError(err) { reject(err); },
    });
    upload.start();
  });
}
