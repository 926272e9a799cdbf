// Resumable uploads with the real tus-js-client against `vidproc serve`:
//  1. --workers 0: an upload stopped part-way (abort(), then a PATCH whose connection is cut in the
//     middle of its body: the bytes that arrived are kept) and resumed with a new tus.Upload on the
//     same URL ends with an original byte-for-byte equal to the file, queued;
//     the tus discovery (OPTIONS) and termination (DELETE -> the video is gone) work.
//  2. VIDPROC_API_TOKEN set, default workers: a tus POST without the token is 401, with it the upload
//     succeeds, the video is processed to `ready`, and its signed media URLs work without a header.
// usage: node tus_test.mjs PATH_TO_VIDPROC PATH_TO_FIXTURE_VIDEO
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { basename } from 'node:path';
import * as tus from 'tus-js-client';
import { call, check, getJson, parseArgs, run, sha256File, sleep, startServer, TestFailure, tusUpload as sharedTusUpload, waitForStatus } from './lib.mjs';

const { bin, fixture } = parseArgs();
const data = readFileSync(fixture);
const filename = basename(fixture);
const CHUNK = 256 * 1024;

const tusUpload = (options, cutAt) => sharedTusUpload(tus, data, { filename, chunkSize: CHUNK }, options, cutAt);

function tusHeaders(extra = {}) {
  return { 'Tus-Resumable': '1.0.0', ...extra };
}

run('web_tus', async () => {
  const fixtureSha = await sha256File(fixture);
  const size = statSync(fixture).size;
  check(size > 4 * CHUNK, `the fixture must be larger than ${4 * CHUNK} bytes (it is ${size})`);

  // ---------- 1. no auth, no workers: resume after a cut, termination.
  const a = await startServer(bin, { workers: 0, name: 'api-only' });
  const endpoint = new URL('/api/v1/uploads', a.url).href;

  const opt = await call(a, 'OPTIONS', '/api/v1/uploads');
  check(opt.status === 204 || opt.status === 200, `OPTIONS /api/v1/uploads: expected 204, got ${opt.status}`);
  check((opt.headers.get('tus-version') || '').split(',').map((s) => s.trim()).includes('1.0.0'),
        `OPTIONS /api/v1/uploads: Tus-Version should list 1.0.0, got ${opt.headers.get('tus-version')}`);
  const ext = (opt.headers.get('tus-extension') || '').split(',').map((s) => s.trim());
  check(ext.includes('creation') && ext.includes('termination'),
        `OPTIONS /api/v1/uploads: Tus-Extension should list creation,termination, got ${opt.headers.get('tus-extension')}`);
  check(Number(opt.headers.get('tus-max-size')) >= size, `OPTIONS: Tus-Max-Size ${opt.headers.get('tus-max-size')} < ${size}`);
  console.log('OPTIONS: tus discovery ok');

  // abort() once a good part was sent.
  const cutAt = 4 * CHUNK + CHUNK / 2;
  const first = await tusUpload({ endpoint }, cutAt);
  check(first.aborted, 'the upload finished before it could be cut');
  const uploadUrl = first.upload.url;
  check(uploadUrl && uploadUrl.startsWith(endpoint + '/'), `upload URL ${uploadUrl} is not under ${endpoint}/`);
  const id = uploadUrl.slice(endpoint.length + 1);
  console.log(`aborted upload ${id} after ${first.events.abortedAt} bytes sent (${first.events.chunks} chunks acknowledged)`);

  // The server keeps what it received: HEAD reports an offset at least what was acknowledged.
  const headOffset = async () => {
    for (let i = 0; i < 100; i++) {
      const head = await call(a, 'HEAD', new URL(uploadUrl).pathname, { headers: tusHeaders() });
      if (head.status === 200 || head.status === 204) {
        check(Number(head.headers.get('upload-length')) === size,
              `HEAD ${uploadUrl}: Upload-Length ${head.headers.get('upload-length')}, expected ${size}`);
        check(head.headers.get('cache-control') === 'no-store', `HEAD ${uploadUrl}: Cache-Control should be no-store`);
        return Number(head.headers.get('upload-offset'));
      }
      check(head.status === 423 || head.status === 409, `HEAD ${uploadUrl}: expected 200, got ${head.status}`);
      await sleep(100);  // the cut PATCH may still hold the upload's lock for a moment
    }
    throw new TestFailure(`HEAD ${uploadUrl} stayed locked for 10 s`);
  };
  const acked = await headOffset();
  check(acked >= first.events.chunks * CHUNK && acked < size,
        `HEAD after abort(): Upload-Offset ${acked}, expected between ${first.events.chunks * CHUNK} and ${size}`);
  console.log(`HEAD after abort(): Upload-Offset ${acked}`);

  // A connection cut in the middle of a PATCH body: the bytes that arrived are kept.
  const half = CHUNK / 2;
  await new Promise((resolve, reject) => {
    const req = http.request(new URL(uploadUrl), {
      method: 'PATCH',
      headers: tusHeaders({ 'Upload-Offset': String(acked), 'Content-Type': 'application/offset+octet-stream',
                            'Content-Length': String(CHUNK) }),
    });
    req.on('error', () => resolve());  // expected: the socket is destroyed below
    req.on('response', (res) => reject(new Error(`a PATCH missing half its body was answered ${res.statusCode}`)));
    req.write(data.subarray(acked, acked + half), () => setTimeout(() => { req.destroy(); resolve(); }, 500));
  });
  let offset = acked;
  for (let i = 0; i < 50 && offset === acked; i++) { await sleep(100); offset = await headOffset(); }
  check(offset > acked && offset <= acked + half,
        `HEAD after a PATCH cut after ${half} of ${CHUNK} body bytes: Upload-Offset ${offset}, ` +
        `expected the ${half} bytes received to be kept (offset ${acked + half})`);
  console.log(`HEAD after a PATCH cut mid-body: Upload-Offset ${offset} (${offset - acked} bytes of the cut PATCH kept)`);
  const mid = await getJson(a, `/api/v1/videos/${id}`);
  check(mid.status === 200 && mid.json.status === 'uploading',
        `GET /api/v1/videos/${id} mid-upload: expected 200 status uploading, got ${mid.status} ${mid.text}`);

  // Resume with a new tus.Upload on the same URL: it HEADs and continues from the offset.
  const second = await tusUpload({ uploadUrl, retryDelays: [100, 300, 1000] });
  check(!second.aborted, 'resumed upload did not finish');
  console.log(`resumed and finished in ${second.events.chunks} more chunks`);

  const done = await getJson(a, `/api/v1/videos/${id}`);
  check(done.status === 200, `GET /api/v1/videos/${id}: expected 200, got ${done.status} ${done.text}`);
  check(done.json.status === 'queued', `GET /api/v1/videos/${id}: expected status queued (--workers 0), got ${done.json.status}`);
  check(done.json.filename === filename, `filename: expected ${filename}, got ${done.json.filename}`);
  const storedSha = await sha256File(a.originalPath(id)).catch((e) => { throw new Error(`stored original: ${e.message}`); });
  check(storedSha === fixtureSha, `stored original ${a.originalPath(id)} differs from the fixture (sha256 ${storedSha} vs ${fixtureSha})`);
  console.log(`stored original is byte-for-byte the fixture (sha256 ${fixtureSha.slice(0, 16)}…), status queued`);

  // Termination: create, send a chunk, DELETE -> the video is gone.
  const created = await call(a, 'POST', '/api/v1/uploads', {
    headers: tusHeaders({ 'Upload-Length': String(size), 'Upload-Metadata': `filename ${Buffer.from('gone.mp4').toString('base64')}` }),
  });
  check(created.status === 201, `tus POST: expected 201, got ${created.status} ${await created.text()}`);
  const loc = created.headers.get('location');
  check(/^(https?:\/\/[^/]+)?\/api\/v1\/uploads\/[^/]+$/.test(loc || ''), `tus POST: Location ${loc}`);
  const goneId = loc.split('/').pop();
  const patch = await call(a, 'PATCH', loc, {
    headers: tusHeaders({ 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }),
    body: data.subarray(0, CHUNK),
  });
  check(patch.status === 204 && patch.headers.get('upload-offset') === String(CHUNK),
        `tus PATCH: expected 204 Upload-Offset ${CHUNK}, got ${patch.status} ${patch.headers.get('upload-offset')}`);
  const wrong = await call(a, 'PATCH', loc, {
    headers: tusHeaders({ 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }),
    body: data.subarray(0, 10),
  });
  check(wrong.status === 409, `tus PATCH at a stale offset: expected 409, got ${wrong.status}`);
  const del = await call(a, 'DELETE', loc, { headers: tusHeaders() });
  check(del.status === 204, `tus DELETE ${loc}: expected 204, got ${del.status} ${await del.text()}`);
  const after = await getJson(a, `/api/v1/videos/${goneId}`);
  check(after.status === 404, `GET /api/v1/videos/${goneId} after tus DELETE: expected 404, got ${after.status} ${after.text}`);
  check(after.json && after.json.error && after.json.error.code, `404 body should be {"error": {"code", "message"}}, got ${after.text}`);
  const headGone = await call(a, 'HEAD', loc, { headers: tusHeaders() });
  check(headGone.status === 404 || headGone.status === 410, `HEAD after tus DELETE: expected 404 or 410, got ${headGone.status}`);
  console.log('termination: DELETE 204, then the video is 404');
  await a.stop();

  // ---------- 2. with a token, default workers: 401 without it, processed to ready with it.
  const token = 'web-test-token-' + Math.random().toString(36).slice(2);
  const b = await startServer(bin, { token, name: 'auth+workers' });
  const endpointB = new URL('/api/v1/uploads', b.url).href;
  const noAuth = await call(b, 'POST', '/api/v1/uploads', {
    auth: false, headers: tusHeaders({ 'Upload-Length': String(size) }),
  });
  const noAuthText = await noAuth.text();
  check(noAuth.status === 401, `tus POST without a token: expected 401, got ${noAuth.status} ${noAuthText}`);
  check(/"error"/.test(noAuthText), `401 body should be a JSON error, got ${noAuthText}`);
  const badAuth = await call(b, 'POST', '/api/v1/uploads', {
    auth: false, headers: tusHeaders({ 'Upload-Length': String(size), Authorization: `Bearer ${token}x` }),
  });
  check(badAuth.status === 401, `tus POST with a wrong token: expected 401, got ${badAuth.status}`);
  let refused = null;
  await tusUpload({ endpoint: endpointB }).catch((e) => { refused = e; });
  check(refused && /401/.test(refused.message), `tus-js-client without the token should fail with 401, got ${refused && refused.message}`);
  console.log('auth: tus POST without/with a wrong token is 401');

  const ok = await tusUpload({ endpoint: endpointB, headers: { Authorization: `Bearer ${token}` } });
  const idB = ok.upload.url.slice(endpointB.length + 1);
  console.log(`auth: upload ${idB} with the token succeeded; waiting for it to be processed`);
  const t0 = Date.now();
  const ready = await waitForStatus(b, idB, ['ready'], 120_000);
  console.log(`ready after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${ready.output.width}x${ready.output.height} ` +
              `${ready.output.video_codec}/${ready.output.audio_codec}, ${ready.output.size_bytes} bytes`);
  check(ready.video_url && ready.thumbnail_url, `a ready video has video_url and thumbnail_url: ${JSON.stringify(ready)}`);
  // The media URLs work without the Authorization header (as <video src> and <img src> use them).
  const vid = await call(b, 'GET', ready.video_url, { auth: false, headers: { Range: 'bytes=0-1023' } });
  const vidBody = Buffer.from(await vid.arrayBuffer());
  check(vid.status === 206 && vidBody.length === 1024,
        `GET video_url with Range, no header: expected 206 and 1024 bytes, got ${vid.status} ${vidBody.length}`);
  check(vidBody.subarray(4, 8).toString() === 'ftyp', 'video_url does not start with an MP4 ftyp box');
  const thumb = await call(b, 'GET', ready.thumbnail_url, { auth: false });
  const thumbBody = Buffer.from(await thumb.arrayBuffer());
  check(thumb.status === 200 && thumbBody[0] === 0xff && thumbBody[1] === 0xd8,
        `GET thumbnail_url, no header: expected 200 and a JPEG, got ${thumb.status} ${thumbBody.length} bytes`);
  const unsigned = await call(b, 'GET', `/api/v1/videos/${idB}/video`, { auth: false });
  check(unsigned.status === 401, `GET /api/v1/videos/${idB}/video unsigned and without a token: expected 401, got ${unsigned.status}`);
  console.log('signed media URLs work without the header; unsigned ones are 401');
  await b.stop();
});
