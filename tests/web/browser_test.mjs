// The web page in a real browser (Debian's Chromium, headless, through playwright-core) against
// `vidproc serve` with workers: choose the fixture in the file input, wait for the row to become
// ready, check the <video> really plays its HLS through hls.js (currentTime advances in real time,
// no error) and the thumbnail loaded; the layout fits 375 px. A second pass with VIDPROC_API_TOKEN:
// the page asks for the token (a wrong one is asked again), the upload still works, Delete removes
// the video.
// Screenshots (375x700): /tmp/vidproc-page.png, /tmp/vidproc-page-auth.png.
// usage: node browser_test.mjs PATH_TO_VIDPROC PATH_TO_FIXTURE_VIDEO
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { call, check, getJson, parseArgs, run, startServer, tempDir, TestFailure } from './lib.mjs';

const { bin, fixture } = parseArgs();
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
              '--disable-component-update', '--disable-sync', '--no-first-run'];

let context = null;

async function openPage(server, shot) {
  if (!existsSync(CHROMIUM)) throw new TestFailure(`${CHROMIUM} not found (apt-get install -y chromium)`);
  context = await chromium.launchPersistentContext(tempDir('vidproc-chromium-'), {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1024, height: 800 },
  });
  const page = context.pages()[0] || (await context.newPage());
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  // 401s are expected while the page has no token yet; other console errors are shown.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) console.log(`  console: ${m.text()}`);
  });
  page.shot = shot;
  const res = await page.goto(server.url);
  check(res.status() === 200, `GET / : expected 200, got ${res.status()}`);
  check(/text\/html/.test(res.headers()['content-type'] || ''), `GET / : content-type ${res.headers()['content-type']}`);
  return page;
}

async function screenshot(page, path) {
  await page.setViewportSize({ width: 375, height: 700 });
  await page.waitForTimeout(300);
  await page.screenshot({ path, fullPage: false });
  console.log(`screenshot: ${path}`);
}

async function closeBrowser() {
  if (context) await context.close().catch(() => {});
  context = null;
}

// Chooses the fixture, waits for its row to be ready; returns the row's video id.
async function uploadAndWait(page) {
  // Record every data-status the row takes.
  await page.evaluate(() => {
    window.__statuses = [];
    new MutationObserver(() => {
      const row = document.querySelector('#videos [data-status]');
      const s = row && row.dataset.status;
      if (s && window.__statuses[window.__statuses.length - 1] !== s) window.__statuses.push(s);
    }).observe(document.body, { subtree: true, attributes: true, childList: true });
  });
  await page.setInputFiles('#file-input', fixture);
  const t0 = Date.now();
  const handle = await page.waitForFunction(() => {
    const row = document.querySelector('#videos [data-video-id]');
    return row && ['ready', 'failed'].includes(row.dataset.status) && row.dataset.status;
  }, null, { timeout: 180_000, polling: 250 });
  const status = await handle.jsonValue();
  const row = page.locator('#videos [data-video-id]').first();
  const id = await row.getAttribute('data-video-id');
  const seen = await page.evaluate(() => window.__statuses);
  console.log(`row ${id}: ${seen.join(' -> ')} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (status !== 'ready') throw new TestFailure(`the row became ${status}: ${await row.locator('.error').textContent()}`);
  check(seen.includes('uploading'), `the row never showed data-status="uploading" (${seen.join(', ')})`);
  return { id, row };
}

async function checkPlayback(page, row, label) {
  const video = row.locator('video');
  check(await video.count() === 1, `${label}: the ready row has ${await video.count()} <video> elements`);
  check(await video.getAttribute('preload') === 'metadata' && (await video.getAttribute('controls')) !== null,
        `${label}: the <video> should have controls and preload="metadata"`);
  const result = await video.evaluate(async (v) => {
    v.muted = true;
    try { await v.play(); } catch (e) { return { failed: `play() rejected: ${e.name} ${e.message}` }; }
    const t0 = performance.now();
    while (performance.now() - t0 < 30_000) {   // real time: the video clock advances only so
      if (v.error) return { failed: `media error ${v.error.code} ${v.error.message}` };
      if (v.currentTime > 0.5) return { ok: true, t: v.currentTime, w: v.videoWidth, h: v.videoHeight, d: v.duration };
      await new Promise((r) => setTimeout(r, 100));
    }
    return { failed: `currentTime stuck at ${v.currentTime} (readyState ${v.readyState}, networkState ${v.networkState})` };
  });
  if (!result.ok) throw new TestFailure(`${label}: the video does not play: ${result.failed}`);
  const kind = await row.locator('.player').getAttribute('data-kind');
  check(kind === 'hls.js', `${label}: the page played ${kind}, not the video's HLS through hls.js`);
  console.log(`${label}: plays (currentTime ${result.t.toFixed(2)} s, ${result.w}x${result.h}, duration ${result.d.toFixed(1)} s)`);
  const thumb = row.locator('img.thumb');
  const natural = await thumb.evaluate(async (img) => {
    if (!img.complete) await new Promise((r) => { img.onload = img.onerror = r; });
    return img.naturalWidth;
  });
  check(natural > 0, `${label}: the thumbnail <img> did not load (naturalWidth 0, src ${await thumb.getAttribute('src')})`);
  console.log(`${label}: thumbnail loaded (${natural} px wide)`);
  // The storyboard: moving the seek bar shows the tile of that time, cut from a sheet that loads.
  const scrub = row.locator('.scrub input[type=range]');
  await scrub.waitFor({ state: 'attached', timeout: 10_000 })
    .catch(() => { throw new TestFailure(`${label}: no storyboard seek bar under the player`); });
  const tile = await scrub.evaluate(async (range) => {
    range.value = Math.min(+range.max, 3.1);
    range.dispatchEvent(new Event('input'));
    const p = range.parentElement.querySelector('.preview');
    const url = /url\("(.*)"\)/.exec(p.style.backgroundImage);
    if (p.hidden || !url) return { failed: `no preview (hidden ${p.hidden}, ${p.style.backgroundImage})` };
    const img = new Image();
    img.src = url[1];
    try { await img.decode(); } catch (e) { return { failed: `the sheet ${url[1]} does not load: ${e.message}` }; }
    return { ok: true, start: +p.dataset.start, w: parseInt(p.style.width, 10), sheet: img.naturalWidth,
             x: -parseInt(p.style.backgroundPositionX, 10) };
  });
  if (!tile.ok) throw new TestFailure(`${label}: storyboard: ${tile.failed}`);
  check(tile.start <= 3.1 && tile.w === 160 && tile.x + tile.w <= tile.sheet,
        `${label}: the preview at 3.1 s is the tile of ${tile.start} s, ${tile.w} px wide at x=${tile.x} in a ${tile.sheet} px sheet`);
  console.log(`${label}: storyboard preview at 3.1 s shows the tile from ${tile.start} s`);
}

async function checkLayout(page, label) {
  await page.setViewportSize({ width: 375, height: 700 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 375, `${label}: at 375 px the page scrolls sideways (scrollWidth ${width})`);
  // Every button and the file input have an accessible name.
  const unnamed = await page.evaluate(() => [...document.querySelectorAll('button:not([hidden]), input')]
    .filter((el) => !el.closest('[hidden]'))
    .filter((el) => !(el.getAttribute('aria-label') || el.textContent.trim() || (el.labels && el.labels.length)))
    .map((el) => el.outerHTML.slice(0, 80)));
  check(unnamed.length === 0, `${label}: controls without an accessible name: ${unnamed.join(', ')}`);
}

async function pass(page, server, label) {
  check(await page.locator('#file-input').count() === 1, 'no #file-input on the page');
  const { id, row } = await uploadAndWait(page);
  const api = await getJson(server, `/api/v1/videos/${id}`);
  check(api.status === 200 && api.json.status === 'ready', `GET /api/v1/videos/${id}: ${api.status} ${api.text}`);
  await checkPlayback(page, row, label);
  // The queue counts follow the events.
  await page.waitForFunction(() => document.querySelector('#q-ready').textContent.trim() === '1', null, { timeout: 10_000 })
    .catch(() => { throw new TestFailure(`${label}: the queue counts never showed 1 ready`); });
  await checkLayout(page, label);
  check(page.problems.length === 0, `${label}: ${page.problems.join('; ')}`);
  return { id, row };
}

run('web_browser', async () => {
  let page = null;
  try {
    // ---------- 1. no auth
    const a = await startServer(bin, { name: 'serve' });
    page = await openPage(a, '/tmp/vidproc-page.png');
    await pass(page, a, 'no auth');
    await screenshot(page, '/tmp/vidproc-page.png');
    // A permanent failure (the file itself: error.retryable false) offers no Retry.
    const notVideo = await call(a, 'POST', '/api/v1/videos', { headers: { 'Content-Type': 'application/octet-stream', 'X-Filename': 'notes.mp4' }, body: 'not a video\n'.repeat(200) });
    check(notVideo.status === 201, `upload of a text file: ${notVideo.status}`);
    const bad = await notVideo.json();
    const failedRow = page.locator(`[data-video-id="${bad.id}"][data-status="failed"]`);
    await failedRow.waitFor({ state: 'attached', timeout: 60_000 })
      .catch(() => { throw new TestFailure(`the row of ${bad.id} never showed failed`); });
    const failed = await getJson(a, `/api/v1/videos/${bad.id}`);
    check(failed.json.error && failed.json.error.retryable === false, `not_a_video is retryable? ${failed.text}`);
    check(await failedRow.locator('.retry').isHidden(), 'a permanent failure offers Retry');
    console.log('no auth: a permanent failure shows no Retry');
    await closeBrowser();
    await a.stop();

    // ---------- 2. with a token: the page asks for it.
    const token = 'browser-test-token-' + Math.random().toString(36).slice(2);
    const b = await startServer(bin, { token, name: 'serve+token' });
    page = await openPage(b, '/tmp/vidproc-page-auth.png');
    const form = page.locator('#auth');
    await form.waitFor({ state: 'visible', timeout: 10_000 })
      .catch(() => { throw new TestFailure('with a token on the server, the page did not ask for it (#auth never visible)'); });
    // A wrong token is refused and asked again.
    await page.locator('#token').fill('wrong-token-0123456789');
    await page.locator('#token').press('Enter');
    await page.waitForFunction(() => !document.querySelector('#auth').hidden &&
                               /not accepted/.test(document.querySelector('#auth-msg').textContent), null, { timeout: 10_000 })
      .catch(() => { throw new TestFailure('a wrong token was not asked again'); });
    await page.locator('#token').fill(token);
    await page.getByRole('button', { name: 'Continue' }).click();
    await form.waitFor({ state: 'hidden', timeout: 10_000 });
    console.log('token: asked, a wrong one refused, the right one accepted');
    const { id, row } = await pass(page, b, 'token');
    await screenshot(page, '/tmp/vidproc-page-auth.png');
    // Delete: the row goes, the video is 404.
    await row.getByRole('button', { name: /^Delete/ }).click();
    await page.locator(`[data-video-id="${id}"]`).waitFor({ state: 'detached', timeout: 10_000 });
    const gone = await getJson(b, `/api/v1/videos/${id}`);
    check(gone.status === 404, `after Delete, GET /api/v1/videos/${id}: expected 404, got ${gone.status}`);
    console.log('token: Delete removed the row and the video');
    check(page.problems.length === 0, page.problems.join('; '));
    await closeBrowser();
    await b.stop();
  } catch (e) {
    if (page && context) await screenshot(page, page.shot).catch(() => {});
    await closeBrowser();
    throw e;
  }
});
