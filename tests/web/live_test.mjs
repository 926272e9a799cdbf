// Watching a video while it is processed: Debian's Chromium (headless, playwright-core) on the page
// of `vidproc serve`, uploading a clip that needs a real encode. The row shows a player while its
// status is still `processing` (the job published its first HLS segments), the player uses HLS
// through hls.js (not the MP4, which does not exist yet), starts from the beginning and its
// clock advances while the job runs; at the end the video is ready and plays to its full length.
// The server runs a slow x264 preset so that the encode lasts longer than the first segment.
// usage: node live_test.mjs PATH_TO_VIDPROC PATH_TO_FIXTURE_VIDEO
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { check, getJson, parseArgs, run, startServer, tempDir, TestFailure } from './lib.mjs';

const { bin, fixture } = parseArgs();
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
              '--disable-component-update', '--disable-sync', '--no-first-run'];

run('web_live', async () => {
  if (!existsSync(CHROMIUM)) throw new TestFailure(`${CHROMIUM} not found (apt-get install -y chromium)`);
  const server = await startServer(bin, { workers: 1, env: { VIDPROC_PRESET: 'veryslow' }, name: 'serve' });
  const context = await chromium.launchPersistentContext(tempDir('vidproc-chromium-'), {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1024, height: 800 },
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    const assets = [];
    page.on('request', (r) => { if (/\/assets\/hls\.js$/.test(r.url())) assets.push(r.url()); });
    await page.goto(server.url);
    await page.setInputFiles('#file-input', fixture);

    // A player appears while the row is still processing.
    const live = await page.waitForFunction(() => {
      const row = document.querySelector('#videos [data-video-id]');
      if (!row) return false;
      if (row.dataset.status === 'ready') return { tooLate: true };
      const box = row.querySelector('.player');
      return row.dataset.status === 'processing' && box.querySelector('video') && box.dataset.kind
        ? { id: row.dataset.videoId, kind: box.dataset.kind } : false;
    }, null, { timeout: 180_000, polling: 100 }).then((h) => h.jsonValue());
    if (live.tooLate) throw new TestFailure('the video became ready before the page showed a player for it');
    check(live.kind === 'hls.js', `the player of a processing video uses ${live.kind}, not HLS through hls.js`);
    check(assets.length === 1, `the page loaded /assets/hls.js ${assets.length} times`);
    const during = await getJson(server, `/api/v1/videos/${live.id}`);
    console.log(`player shown while processing (${Math.round((during.json.progress || 0) * 100)} % done), ` +
                `playable=${during.json.playable}`);
    check(during.json.playable === true && /\/hls\/master\.m3u8/.test(during.json.hls_url || ''),
          `a processing video with a player: ${during.text}`);
    check(!during.json.video_url, 'a processing video has a video_url');

    // It plays from the beginning while the job runs.
    const row = page.locator(`#videos [data-video-id="${live.id}"]`);
    const played = await row.locator('video').evaluate(async (v) => {
      v.muted = true;
      try { await v.play(); } catch (e) { return { failed: `play() rejected: ${e.name} ${e.message}` }; }
      const t0 = performance.now();
      let first = null;
      while (performance.now() - t0 < 60_000) {
        if (v.error) return { failed: `media error ${v.error.code} ${v.error.message}` };
        if (first === null && v.currentTime > 0) first = v.currentTime;
        if (v.currentTime > 1.0) {
          return { ok: true, first, status: v.closest('[data-status]').dataset.status, w: v.videoWidth };
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      return { failed: `currentTime stuck at ${v.currentTime} (readyState ${v.readyState})` };
    });
    if (!played.ok) throw new TestFailure(`the processing video does not play: ${played.failed}`);
    console.log(`plays: first currentTime ${played.first.toFixed(2)} s, ${played.w} px wide, row ${played.status}`);
    check(played.first < 1.0, `playback started at ${played.first} s, not at the beginning`);
    check(played.status === 'processing', `the row was ${played.status} by the time 1 s had played: the ` +
          'live part of this test saw nothing (a faster machine needs a slower preset or a longer clip)');

    // Ready: the same player goes on to the end of the whole video.
    await page.waitForFunction((id) => document.querySelector(`[data-video-id="${id}"]`).dataset.status === 'ready',
                               live.id, { timeout: 180_000, polling: 250 });
    const ready = await getJson(server, `/api/v1/videos/${live.id}`);
    const duration = ready.json.output.duration_s;
    const end = await row.locator('video').evaluate(async (v, want) => {
      v.currentTime = Math.max(0, want - 1.5);
      const t0 = performance.now();
      while (performance.now() - t0 < 30_000) {
        if (v.error) return { failed: `media error ${v.error.code}` };
        if (v.ended || v.currentTime >= want - 0.3) return { ok: true, t: v.currentTime, d: v.duration };
        await new Promise((r) => setTimeout(r, 100));
      }
      return { failed: `stuck at ${v.currentTime} of ${v.duration}` };
    }, duration);
    if (!end.ok) throw new TestFailure(`the ready video does not play to its end: ${end.failed}`);
    console.log(`ready: played to ${end.t.toFixed(2)} of ${duration} s (player duration ${end.d.toFixed(2)})`);
    check(Math.abs(end.d - duration) < 0.5, `the player's duration ${end.d} is not the video's ${duration}`);
    check(problems.length === 0, problems.join('; '));
  } finally {
    await context.close().catch(() => {});
    await server.stop();
  }
});
