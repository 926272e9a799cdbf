// Direct uploads with the real tus-js-client, never sending the API token (docs/API.md, "Direct
// uploads"). `vidproc serve` has a token and one worker; the platform's backend (this test, with
// the token) asks for upload URLs, and:
//  1. Node: tus-js-client given upload_url as its endpoint uploads the fixture, is cut part-way
//     (abort() mid-PATCH), resumes on the same URL (HEAD gives the offset), and the video becomes
//     ready; a second upload with the URL fails with 410 upload_url_used.
//  2. Headless Chromium, on a page of another origin (a second HTTP server on another port, listed
//     in VIDPROC_CORS_ORIGINS): tus-js-client's browser build uploads the fixture through the
//     URL (CORS preflights and all), is cut and resumes, the video becomes ready; a second use is
//     a 410 the page can read (upload_url_used in the error body); a page of an origin that is not
//     allowed cannot use the URL at all.
// usage: node direct_upload_test.mjs PATH_TO_VIDPROC PATH_TO_FIXTURE_VIDEO
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import * as tus from 'tus-js-client';
import { check, getJson, parseArgs, run, startServer, tempDir, TestFailure, tusUpload, waitForStatus } from './lib.mjs';

const { bin, fixture } = parseArgs();
const data = readFileSync(fixture);
const filename = basename(fixture);
const CHUNK = 64 * 1024;
// abort() mid-upload, about half-way: several PATCHes done, more to send.
const CUT_AT = Math.floor(data.length / 2);
const RESUME_RETRIES = [200, 500, 1000, 2000];
const TOKEN = 'direct-upload-web-test-token-0123456789';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
              '--disable-component-update', '--disable-sync', '--no-first-run'];

// The platform's backend: POST /api/v1/direct-uploads with the token.
async function newUploadUrl(server, body = {}) {
  const res = await fetch(new URL('/api/v1/direct-uploads', server.url), {
    method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  check(res.status === 201, `POST /api/v1/direct-uploads: expected 201, got ${res.status} ${JSON.stringify(json)}`);
  check(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/direct-uploads\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+$/.test(json.upload_url),
        `upload_url is not an absolute URL of the server: ${json.upload_url}`);
  return json;
}

// One upload in Node with no Authorization (no headers option at all).
const nodeUpload = (options, cutAt) => tusUpload(tus, data, { filename, chunkSize: CHUNK }, options, cutAt);

// The test page's server: another origin than vidproc's (another port), serving the page, the
// fixture and tus-js-client's browser build.
async function pageServer() {
  const require = createRequire(import.meta.url);
  const tusDir = dirname(require.resolve('tus-js-client/package.json'));
  const bundle = readFileSync(join(tusDir, 'dist', 'tus.min.js'));
  const server = createServer((req, res) => {
    if (req.url === '/tus.min.js') return res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(bundle);
    if (req.url === '/clip.mp4') return res.writeHead(200, { 'Content-Type': 'video/mp4' }).end(data);
    res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>platform</title><script src="/tus.min.js"></script>');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, origin: `http://localhost:${server.address().port}` };
}

// In the page: a tus upload of the fixture to `endpoint` (or resuming `uploadUrl`), aborted after
// `cutAt` bytes when given. Resolves { ok, url, aborted } or { ok: false, status, body }.
async function browserUpload(page, { endpoint, uploadUrl, cutAt }) {
  return page.evaluate(async ({ endpoint, uploadUrl, cutAt, chunk, retries }) => {
    const blob = await (await fetch('/clip.mp4')).blob();
    return new Promise((resolve) => {
      let aborted = false;
      const upload = new window.tus.Upload(blob, {
        endpoint, uploadUrl, chunkSize: chunk, retryDelays: uploadUrl ? retries : [],
        metadata: { filename: 'from-the-page.mp4', filetype: 'video/mp4' },
        storeFingerprintForResuming: false,
        onProgress(sent) {
          if (cutAt && sent >= cutAt && !aborted) {
            aborted = true;
            upload.abort(false).then(() => resolve({ ok: true, url: upload.url, aborted: true }));
          }
        },
        onSuccess() { resolve({ ok: true, url: upload.url, aborted: false }); },
        onError(err) {
          const res = err.originalResponse;
          resolve({ ok: false, message: String(err.message).split('\n')[0],
                    status: res ? res.getStatus() : 0, body: res ? res.getBody() : '' });
        },
      });
      upload.start();
    });
  }, { endpoint, uploadUrl, cutAt, chunk: CHUNK, retries: RESUME_RETRIES });
}

run('web_direct_upload', async () => {
  const page = await pageServer();
  const server = await startServer(bin, {
    workers: 1, token: TOKEN, name: 'direct-uploads',
    env: { VIDPROC_CORS_ORIGINS: page.origin },
  });

  // ---------- 1. Node.
  const one = await newUploadUrl(server, { external_id: 'node-1' });
  const waiting = await getJson(server, `/api/v1/videos/${one.id}`);
  check(waiting.json.status === 'waiting_for_upload', `a new direct upload's video is ${waiting.json.status}`);
  const cut = await nodeUpload({ endpoint: one.upload_url }, CUT_AT);
  check(cut.aborted, 'the upload finished before it could be cut');
  check(cut.upload.url === one.upload_url, `tus-js-client's upload URL ${cut.upload.url} is not upload_url`);
  const head = await fetch(one.upload_url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
  check(head.status === 200, `HEAD upload_url without a token after the cut: ${head.status}`);
  const offset = Number(head.headers.get('upload-offset'));
  check(offset > 0 && offset < data.length, `HEAD after the cut: Upload-Offset ${offset} of ${data.length}`);
  console.log(`node: cut at Upload-Offset ${offset}; resuming`);
  // The cut PATCH may still hold the upload for a moment (409 upload_locked): tus-js-client retries
  // a 409, asking HEAD for the offset again.
  const resumed = await nodeUpload({ uploadUrl: cut.upload.url, retryDelays: RESUME_RETRIES });
  check(!resumed.aborted, 'the resumed upload did not finish');
  const ready = await waitForStatus(server, one.id, ['ready'], 180_000);
  check(ready.external_id === 'node-1', `external_id ${ready.external_id}`);
  check(ready.source?.size_bytes === undefined || ready.source.size_bytes === data.length,
        `the processed original has ${ready.source?.size_bytes} bytes, the fixture ${data.length}`);
  console.log(`node: ${one.id} is ready`);
  let second = null;
  try {
    await nodeUpload({ endpoint: one.upload_url });
  } catch (e) {
    second = e;
  }
  check(second, 'a second upload with a used URL succeeded');
  const secondStatus = second.originalResponse?.getStatus();
  check(secondStatus === 410, `a second use answered ${secondStatus}, expected 410 (${second.message})`);
  check(JSON.parse(second.originalResponse.getBody()).error.code === 'upload_url_used',
        `a second use's body: ${second.originalResponse.getBody()}`);
  console.log('node: a second use is 410 upload_url_used');

  // ---------- 2. Chromium, a page of another origin.
  if (!existsSync(CHROMIUM)) throw new TestFailure(`${CHROMIUM} not found (apt-get install -y chromium)`);
  const context = await chromium.launchPersistentContext(tempDir('vidproc-chromium-'), {
    executablePath: CHROMIUM, headless: true, args: ARGS,
  });
  try {
    const tab = context.pages()[0] || (await context.newPage());
    tab.on('pageerror', (e) => console.log(`  page error: ${e.message}`));
    await tab.goto(`${page.origin}/`);
    const two = await newUploadUrl(server, { external_id: 'browser-1' });
    const first = await browserUpload(tab, { endpoint: two.upload_url, cutAt: CUT_AT });
    check(first.ok && first.aborted, `the page's upload: ${JSON.stringify(first)}`);
    const rest = await browserUpload(tab, { uploadUrl: first.url });
    check(rest.ok && !rest.aborted, `the page's resumed upload: ${JSON.stringify(rest)}`);
    const done = await waitForStatus(server, two.id, ['ready'], 180_000);
    check(done.filename === 'from-the-page.mp4', `filename ${done.filename}`);
    console.log(`chromium: ${two.id} uploaded from ${page.origin}, cut, resumed and ready`);
    const again = await browserUpload(tab, { endpoint: two.upload_url });
    check(!again.ok && again.status === 410, `a second use from the page: ${JSON.stringify(again)}`);
    check(JSON.parse(again.body).error.code === 'upload_url_used', `the page read: ${again.body}`);
    console.log('chromium: a second use is a 410 the page can read');

    // A page of an origin that is not allowed cannot use a URL, even a fresh one.
    const three = await newUploadUrl(server);
    const other = await context.newPage();
    await other.goto(`${page.origin.replace('localhost', '127.0.0.1')}/`);
    const refused = await browserUpload(other, { endpoint: three.upload_url });
    check(!refused.ok && refused.status === 0, `a page of another origin used the URL: ${JSON.stringify(refused)}`);
    const still = await getJson(server, `/api/v1/videos/${three.id}`);
    check(still.json.status === 'waiting_for_upload', `after a refused page, the video is ${still.json.status}`);
    console.log('chromium: a page of an origin not allowed is refused by the browser');
  } finally {
    await context.close().catch(() => {});
    page.server.close();
  }
});
