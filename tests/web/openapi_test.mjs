// docs/openapi.json is a valid OpenAPI 3.1 document (swagger-parser), names every endpoint of
// docs/API.md, and what a running `vidproc serve` answers matches its schemas (Ajv, JSON Schema
// 2020-12): a video queued, ready (with its output and URLs) and failed (with its error), a page
// of videos, the queue, readiness, and errors.
// usage: node openapi_test.mjs PATH_TO_VIDPROC PATH_TO_FIXTURE_VIDEO
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, check, getJson, parseArgs, run, startServer, waitForStatus } from './lib.mjs';

const { bin, fixture } = parseArgs();
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const docPath = join(root, 'docs', 'openapi.json');

await run('openapi', async () => {
  const doc = JSON.parse(readFileSync(docPath, 'utf8'));
  await SwaggerParser.validate(structuredClone(doc));  // throws with the first problem
  console.log('docs/openapi.json: valid OpenAPI', doc.openapi);

  // Every endpoint of the reference table in docs/API.md is in the document.
  const apiMd = readFileSync(join(root, 'docs', 'API.md'), 'utf8');
  const documented = [...apiMd.matchAll(/^\| `([A-Z`, /]+) (\/[^`?]*)[^`]*` \|/gm)];
  check(documented.length >= 10, `found only ${documented.length} endpoints in docs/API.md`);
  for (const [, methods, path] of documented) {
    for (const method of methods.split(/[`, /]+/).filter((m) => /^[A-Z]+$/.test(m))) {
      check(doc.paths[path]?.[method.toLowerCase()], `docs/openapi.json lacks ${method} ${path} (docs/API.md has it)`);
    }
  }

  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, 'openapi');
  const validate = (name, value, what) => {
    const v = ajv.getSchema(`openapi#/components/schemas/${name}`);
    check(v(value), `${what} does not match ${name}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(value)}`);
  };

  const server = await startServer(bin, { workers: 1, name: 'openapi' });
  const body = readFileSync(fixture);
  let r = await call(server, 'POST', '/api/v1/videos', { headers: { 'Content-Type': 'video/mp4', 'X-Filename': 'clip.mp4' }, body });
  check(r.status === 201, `upload: ${r.status}`);
  const created = await r.json();
  validate('Video', created, 'POST /api/v1/videos (201)');

  r = await call(server, 'POST', '/api/v1/videos', { headers: { 'Content-Type': 'application/octet-stream', 'X-Filename': 'notes.mp4' }, body: 'this is not a video at all\n'.repeat(100) });
  const bad = await r.json();
  check(r.status === 201, `upload of a text file: ${r.status}`);

  const ready = await waitForStatus(server, created.id, ['ready'], 120_000);
  validate('Video', ready, 'a ready video');
  check(ready.output && ready.video_url && ready.thumbnail_url, 'a ready video has output and URLs');

  let failed = null;
  for (let i = 0; i < 240 && !failed; i++) {
    const g = await getJson(server, `/api/v1/videos/${bad.id}`);
    if (g.json.status === 'failed') failed = g.json;
    else await new Promise((res) => setTimeout(res, 500));
  }
  check(failed, 'the text file did not fail');
  validate('Video', failed, 'a failed video');
  check(failed.error && failed.error.code === 'not_a_video', `failed with ${JSON.stringify(failed.error)}`);

  const page = await getJson(server, '/api/v1/videos?limit=1');
  validate('VideoPage', page.json, 'GET /api/v1/videos?limit=1');
  check(page.json.next_cursor !== null, 'two videos, limit 1: there is a next page');
  validate('Queue', (await getJson(server, '/api/v1/queue')).json, 'GET /api/v1/queue');
  validate('Readiness', (await getJson(server, '/readyz')).json, 'GET /readyz');
  for (const [method, path, opts] of [
    ['GET', '/api/v1/videos/AAAAAAAAAAAAAAAAAAAAAA', {}],
    ['GET', '/api/v1/videos?limit=0', {}],
    ['POST', '/api/v1/videos', { headers: { 'Content-Type': 'text/plain' }, body: 'x' }],
    ['POST', `/api/v1/videos/${created.id}/retry`, {}],
  ]) {
    const e = await call(server, method, path, opts);
    check(e.status >= 400, `${method} ${path}: expected an error, got ${e.status}`);
    validate('Error', await e.json(), `${method} ${path} (${e.status})`);
  }
  await server.stop();
  console.log('responses match docs/openapi.json');
});
