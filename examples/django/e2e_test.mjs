// The Django example in a real browser (Debian's Chromium, headless, through playwright-core), as
// run_tests.sh sets it up: the site on one origin, vidproc on another. The page's form sends the
// clip with tus-js-client straight to vidproc through the direct-upload URL the site's view made
// (no Authorization header from the browser, ever), the video page turns ready when vidproc's
// webhook reaches the site, and its <video> plays: currentTime advances in real time.
// env: SITE_URL, VIDPROC_URL, VIDPROC_API_TOKEN, CLIP, CHROMIUM, SCRATCH_DIR; E2E_SCREENSHOT=FILE.png
// saves the ready video's page.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const { SITE_URL, VIDPROC_URL, VIDPROC_API_TOKEN, CLIP } = process.env;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
              '--disable-component-update', '--disable-sync', '--no-first-run'];

class TestFailure extends Error {}
function check(condition, message) {
  if (!condition) throw new TestFailure(message);
}

async function main() {
  for (const [name, value] of Object.entries({ SITE_URL, VIDPROC_URL, VIDPROC_API_TOKEN, CLIP })) {
    check(value, `${name} is not set (run this through run_tests.sh)`);
  }
  check(existsSync(CLIP), `no clip at ${CLIP}`);
  check(existsSync(CHROMIUM), `${CHROMIUM} not found`);
  const site = new URL(SITE_URL).origin;
  const vidproc = new URL(VIDPROC_URL).origin;
  check(site !== vidproc, `the site and vidproc must be on different origins (${site})`);

  const profile = mkdtempSync(join(process.env.SCRATCH_DIR || tmpdir(), 'chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1024, height: 800 },
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    // Every request the browser makes, with its headers as sent.
    const requests = [];
    page.on('request', async (r) => {
      const entry = { method: r.method(), url: r.url(), headers: null };
      requests.push(entry);
      entry.headers = await r.allHeaders().catch(() => r.headers());
    });

    const res = await page.goto(SITE_URL);
    check(res.status() === 200, `GET ${SITE_URL}: ${res.status()}`);
    await page.locator('#title').fill('Browser clip');
    await page.setInputFiles('#file', CLIP);
    const t0 = Date.now();
    await page.locator('#upload-button').click();

    // Uploaded: the form goes to the video's page; a failure stays on the form with a message.
    const outcome = await Promise.race([
      page.waitForURL(/\/videos\/\d+\/$/, { timeout: 60_000 }).then(() => 'page'),
      page.waitForFunction(() => /failed|Could not/.test(document.querySelector('#upload-message')?.textContent || ''),
                           null, { timeout: 60_000, polling: 250 }).then(() => 'error'),
    ]).catch(() => 'timeout');
    if (outcome !== 'page') {
      const message = await page.locator('#upload-message').textContent().catch(() => '');
      throw new TestFailure(`the upload did not finish (${outcome}): "${message}"`);
    }
    const uploadSeconds = (Date.now() - t0) / 1000;
    console.log(`uploaded through the page in ${uploadSeconds.toFixed(1)} s; now at ${page.url()}`);

    // The file went to vidproc, not through the site, and without a token.
    const toVidproc = requests.filter((r) => r.url.startsWith(vidproc + '/'));
    const creations = toVidproc.filter((r) => r.method === 'POST');
    const patches = toVidproc.filter((r) => r.method === 'PATCH');
    check(creations.length === 1, `expected one tus creation POST to ${vidproc}, saw ${creations.length}`);
    check(patches.length >= 1, `no tus PATCH went to ${vidproc}`);
    const withAuth = requests.filter((r) => r.headers && Object.keys(r.headers).some((h) => h.toLowerCase() === 'authorization'));
    check(withAuth.length === 0, `the browser sent an Authorization header: ${withAuth.map((r) => r.url).join(', ')}`);
    check(!requests.some((r) => r.url.startsWith(site + '/') && r.method === 'PATCH'), 'the file went through the site');
    console.log(`the browser sent the file to ${vidproc}: 1 creation, ${patches.length} PATCH, no Authorization header`);

    // Ready through the webhook: the page polls the site, which only knows what the webhook said.
    const article = page.locator('#video');
    const status = await page.waitForFunction(() => {
      const a = document.querySelector('#video');
      return a && ['ready', 'failed', 'deleted'].includes(a.dataset.status) && a.dataset.status;
    }, null, { timeout: 90_000, polling: 250 }).then((h) => h.jsonValue())
      .catch(async () => { throw new TestFailure(`the video page never became ready (still ${await article.getAttribute('data-status')})`); });
    if (status !== 'ready') throw new TestFailure(`the video page shows ${status}: ${await article.textContent()}`);
    console.log(`the page shows ready ${((Date.now() - t0) / 1000).toFixed(1)} s after the upload started`);

    // vidproc has the video with the site's ids.
    const vidprocId = await article.getAttribute('data-vidproc-id');
    check(vidprocId, 'the page has no vidproc id');
    const api = await fetch(`${vidproc}/api/v1/videos/${vidprocId}`, { headers: { Authorization: `Bearer ${VIDPROC_API_TOKEN}` } });
    const resource = await api.json();
    check(api.status === 200 && resource.status === 'ready', `GET /api/v1/videos/${vidprocId}: ${api.status} ${JSON.stringify(resource)}`);
    check(resource.external_id && resource.metadata && resource.metadata.title === 'Browser clip',
          `the vidproc video lacks the site's external_id/metadata: ${JSON.stringify(resource)}`);

    // The <video> plays from vidproc's origin.
    const player = page.locator('video#player');
    check(await player.count() === 1, 'the ready page has no <video id="player">');
    const src = await player.getAttribute('src');
    check(src.startsWith(vidproc + '/'), `the <video> src is not on vidproc: ${src}`);
    const played = await player.evaluate(async (v) => {
      v.muted = true;
      try { await v.play(); } catch (e) { return { failed: `play() rejected: ${e.name} ${e.message}` }; }
      const start = performance.now();
      while (performance.now() - start < 30_000) {
        if (v.error) return { failed: `media error ${v.error.code} ${v.error.message}` };
        if (v.currentTime > 0.5) return { ok: true, t: v.currentTime, w: v.videoWidth, h: v.videoHeight, d: v.duration };
        await new Promise((r) => setTimeout(r, 100));
      }
      return { failed: `currentTime stuck at ${v.currentTime} (readyState ${v.readyState})` };
    });
    if (!played.ok) throw new TestFailure(`the <video> does not play: ${played.failed}`);
    console.log(`the <video> plays: currentTime ${played.t.toFixed(2)} s, ${played.w}x${played.h}, duration ${played.d.toFixed(1)} s`);
    const thumbWidth = await page.locator('article img.thumb').evaluate(async (img) => {
      if (!img.complete) await new Promise((r) => { img.onload = img.onerror = r; });
      return img.naturalWidth;
    });
    check(thumbWidth > 0, 'the thumbnail did not load');
    console.log(`the thumbnail loaded (${thumbWidth} px wide)`);
    if (process.env.E2E_SCREENSHOT) {
      await page.screenshot({ path: process.env.E2E_SCREENSHOT });
      console.log(`screenshot: ${process.env.E2E_SCREENSHOT}`);
    }

    // The list shows it ready too.
    await page.goto(SITE_URL);
    check(await page.locator('#videos li[data-status="ready"] img.thumb').count() === 1, 'the index does not list the ready video with its thumbnail');
    check(problems.length === 0, problems.join('; '));
  } finally {
    await context.close().catch(() => {});
  }
}

main().then(() => { console.log('PASS django e2e'); process.exit(0); },
            (e) => { console.error(`FAIL django e2e: ${e instanceof TestFailure ? e.message : e.stack || e}`); process.exit(1); });
