// Load against `vidproc serve --workers 0`: 200 keep-alive connections issuing GET /api/v1/videos/{id}
// and GET /api/v1/queue for ~10 s while 50 raw uploads of ~20 MB each (generated, streamed) run.
// Asserts: no error and no non-2xx answer, all 50 videos recorded with their whole original, and
// the server's peak RSS (VmHWM) under a bound. Prints requests/s, latency percentiles, peak RSS.
// usage: node load_test.mjs PATH_TO_VIDPROC PATH_TO_FIXTURE_VIDEO
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { check, getJson, parseArgs, run, startServer } from './lib.mjs';

const { bin, fixture } = parseArgs();
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS || 200);
const UPLOADS = Number(process.env.LOAD_UPLOADS || 50);
const UPLOAD_BYTES = 20 * 1000 * 1000;
const DURATION_MS = 10_000;
const RSS_LIMIT_MB = Number(process.env.LOAD_RSS_LIMIT_MB || 200);

// One request on `agent`; resolves { status, body, ms } (body as text when small).
function request(agent, port, method, path, headers = {}, bodyStream = null) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(),
                                    ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (bodyStream) bodyStream.on('error', (e) => req.destroy(e)).pipe(req);
    else req.end();
  });
}

// `total` bytes made on the fly from one 64 KiB random block (never the whole body in memory).
function generatedBody(total, seed) {
  const block = randomBytes(64 * 1024);
  block.writeUInt32BE(seed, 0);
  let left = total;
  return new Readable({
    read() {
      if (left <= 0) return this.push(null);
      const n = Math.min(left, block.length);
      left -= n;
      this.push(n === block.length ? block : block.subarray(0, n));
    },
  });
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

run('web_load', async () => {
  // All the load comes from one address (127.0.0.1), standing for many clients: the per-client
  // caps are lifted (the global ones stay at their defaults).
  const s = await startServer(bin, {
    workers: 0,
    name: 'api-only',
    env: { VIDPROC_MAX_UPLOADS_PER_CLIENT: '0', VIDPROC_MAX_CONNECTIONS_PER_CLIENT: '0' },
  });
  const port = s.port;

  // A video to read: the fixture, uploaded whole.
  const seedAgent = new http.Agent({ keepAlive: false });
  const seeded = await request(seedAgent, port, 'POST', '/api/v1/videos',
    { 'Content-Type': 'application/octet-stream', 'X-Filename': 'seed.mp4', 'Content-Length': statSync(fixture).size },
    createReadStream(fixture));
  check(seeded.status === 201, `POST /api/v1/videos (seed): expected 201, got ${seeded.status} ${seeded.body}`);
  const seedId = JSON.parse(seeded.body).id;
  const baseline = s.status();
  console.log(`seed video ${seedId}; server RSS before load ${(baseline.VmRSS / 1024).toFixed(1)} MB`);

  // Memory sampling while the load runs.
  let peakRss = 0;
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, s.status().VmRSS || 0); }, 100);

  // Failures, by kind: the first few of each with when they happened, and counts.
  const failures = { upload: [], get: [] };
  const counts = { upload: 0, get: 0 };
  const tStart = Date.now();
  const note = (kind, what) => {
    counts[kind]++;
    if (failures[kind].length < 8) failures[kind].push(`+${((Date.now() - tStart) / 1000).toFixed(2)} s ${what}`);
  };

  // 50 raw uploads, all at once, each ~20 MB streamed.
  const uploadAgent = new http.Agent({ keepAlive: false, maxSockets: UPLOADS });
  const uploadIds = [];
  const t0 = Date.now();
  const uploads = Promise.all(Array.from({ length: UPLOADS }, async (_, i) => {
    try {
      const r = await request(uploadAgent, port, 'POST', '/api/v1/videos', {
        'Content-Type': 'application/octet-stream', 'X-Filename': `load-${i}.mp4`, 'Content-Length': UPLOAD_BYTES,
      }, generatedBody(UPLOAD_BYTES, i));
      if (r.status !== 201) return note('upload', `upload ${i}: ${r.status} ${r.body.slice(0, 200)}`);
      uploadIds.push(JSON.parse(r.body).id);
    } catch (e) {
      note('upload', `upload ${i}: ${e.code || ''} ${e.message}`);
    }
  })).then(() => Date.now() - t0);

  // 200 keep-alive connections, each a loop of GETs until the deadline.
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS, maxFreeSockets: CONNECTIONS });
  const latencies = [];
  const statuses = new Map();
  const deadline = Date.now() + DURATION_MS;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONNECTIONS }, async (_, c) => {
    for (let i = 0; Date.now() < deadline; i++) {
      const path = (i + c) % 2 ? '/api/v1/queue' : `/api/v1/videos/${seedId}`;
      try {
        const r = await request(agent, port, 'GET', path);
        latencies.push(r.ms);
        statuses.set(r.status, (statuses.get(r.status) || 0) + 1);
        if (r.status < 200 || r.status > 299) note('get', `GET ${path}: ${r.status} ${r.body.slice(0, 200)}`);
      } catch (e) {
        note('get', `GET ${path}: ${e.code || ''} ${e.message}`);
      }
    }
  }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const uploadMs = await uploads;
  clearInterval(sampler);
  agent.destroy();
  uploadAgent.destroy();

  const status = s.status();
  peakRss = Math.max(peakRss, status.VmRSS || 0);
  check(latencies.length > 0, `no GET completed; errors: ${failures.get.join('; ')}`);
  latencies.sort((x, y) => x - y);
  const rps = latencies.length / seconds;
  console.log(`GETs: ${latencies.length} in ${seconds.toFixed(1)} s over ${CONNECTIONS} keep-alive connections = ${rps.toFixed(0)} requests/s`);
  console.log(`latency ms: p50 ${percentile(latencies, 50).toFixed(1)}, p90 ${percentile(latencies, 90).toFixed(1)}, ` +
              `p99 ${percentile(latencies, 99).toFixed(1)}, max ${latencies[latencies.length - 1].toFixed(1)}`);
  console.log(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  console.log(`uploads: ${uploadIds.length}/${UPLOADS} x ${UPLOAD_BYTES / 1e6} MB in ${(uploadMs / 1000).toFixed(1)} s ` +
              `= ${((uploadIds.length * UPLOAD_BYTES) / 1e6 / (uploadMs / 1000)).toFixed(0)} MB/s`);
  console.log(`server memory: peak RSS (VmHWM) ${(status.VmHWM / 1024).toFixed(1)} MB, sampled peak VmRSS ` +
              `${(peakRss / 1024).toFixed(1)} MB, now ${(status.VmRSS / 1024).toFixed(1)} MB, threads ${status.Threads}`);

  check(counts.upload + counts.get === 0,
        `${counts.get} failed GETs and ${counts.upload} failed uploads; first ones:\n  ` +
        [...failures.upload, ...failures.get].join('\n  '));
  check(latencies.length > CONNECTIONS, `only ${latencies.length} GETs completed`);
  check(uploadIds.length === UPLOADS, `${uploadIds.length} of ${UPLOADS} uploads succeeded`);

  // Every upload is recorded (queued, --workers 0) with its whole original on disk.
  const listed = new Set();
  let cursor = null;
  do {
    const page = await getJson(s, `/api/v1/videos?status=queued&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    check(page.status === 200, `GET /api/v1/videos?status=queued: ${page.status} ${page.text}`);
    for (const v of page.json.videos) listed.add(v.id);
    cursor = page.json.next_cursor;
  } while (cursor);
  const missing = uploadIds.filter((id) => !listed.has(id));
  check(missing.length === 0, `${missing.length} uploaded videos are not listed as queued: ${missing.slice(0, 5).join(', ')}`);
  for (const id of uploadIds) {
    const bytes = statSync(s.originalPath(id)).size;
    check(bytes === UPLOAD_BYTES, `video ${id}: stored original has ${bytes} bytes, expected ${UPLOAD_BYTES}`);
  }
  const q = await getJson(s, '/api/v1/queue');
  check(q.status === 200 && q.json.queued === UPLOADS + 1, `GET /api/v1/queue: expected queued ${UPLOADS + 1}, got ${q.text}`);
  console.log(`all ${UPLOADS} uploads recorded as queued with their whole original`);

  check(status.VmHWM / 1024 < RSS_LIMIT_MB,
        `server peak RSS ${(status.VmHWM / 1024).toFixed(1)} MB exceeds the ${RSS_LIMIT_MB} MB bound`);
  await s.stop();
});
