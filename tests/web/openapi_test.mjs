// docs/openapi.json is a valid OpenAPI 3.1 document (swagger-parser), names every endpoint of
// docs/API.md, and what a running `vidproc serve` answers matches its schemas (Ajv, JSON Schema
// 2020-12): a video queued, ready (with its output and URLs) and failed (with its error), a page
// of videos, the queue, readiness, and errors. Every operation has an operationId and every one
// that needs the token lists 401; every webhook the server sends to a receiver in this process
// (video.ready, video.failed, video.deleted) matches the document's `webhooks` section, and a
// video.ready carries the video exactly as GET /api/v1/videos/{id} renders it.
// usage: node openapi_test.mjs PATH_TO_VIDPROC PATH_TO_FIXTURE_VIDEO
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, check, getJson, parseArgs, run, sleep, startServer, waitForStatus } from './lib.mjs';

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

  // Generated clients name their methods after operationIds; a token-protected operation that
  // did not list 401 would leave that answer untyped.
  const operationIds = new Set();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (method === 'parameters') continue;
      check(op.operationId, `${method.toUpperCase()} ${path} has no operationId`);
      check(!operationIds.has(op.operationId), `operationId ${op.operationId} is used twice`);
      operationIds.add(op.operationId);
      const isPublic = Array.isArray(op.security) && op.security.length === 0;
      if (path.startsWith('/api/') && !isPublic) {
        check(op.responses['401'], `${method.toUpperCase()} ${path} does not list 401`);
      }
    }
  }
  const events = ['video.ready', 'video.failed', 'video.deleted'];
  for (const e of events) check(doc.webhooks?.[e]?.post, `docs/openapi.json has no webhook ${e}`);

  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, 'openapi');
  const validate = (name, value, what) => {
    const v = ajv.getSchema(`openapi#/components/schemas/${name}`);
    check(v(value), `${what} does not match ${name}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(value)}`);
  };

  const validateHook = (body, what) => {
    const ref = doc.webhooks[body.event]?.post.requestBody.content['application/json'].schema.$ref;
    check(ref, `${what}: an event the document does not list: ${body.event}`);
    const v = ajv.getSchema(`openapi${ref}`);
    check(v(body), `${what} does not match ${ref}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(body)}`);
  };

  // A webhook receiver: every body it gets is kept (and all are checked at the end).
  const hooks = [];
  const receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  const publicUrl = 'https://platform.example/media';  // mounted under a sub-path
  const hookFor = async (event, id) => {
    for (let i = 0; i < 600; i++) {
      const h = hooks.find((x) => x.body.event === event && x.body.video?.id === id);
      if (h) return h;
      await sleep(100);
    }
    throw new Error(`no ${event} webhook for ${id}`);
  };

  const server = await startServer(bin, {
    workers: 1, name: 'openapi',
    env: { WEBHOOK_URL: `http://127.0.0.1:${receiver.address().port}/hooks`, VIDPROC_PUBLIC_URL: publicUrl },
  });
  const body = readFileSync(fixture);
  // With the platform's ids (query parameters of a raw body), so their schemas are checked too.
  const metadata = { tags: ['a', 'été'], user: 42 };  // keys in order: vidproc sorts them
  const ids = `external_id=${encodeURIComponent('order 17')}&metadata=${encodeURIComponent(JSON.stringify(metadata))}`;
  let r = await call(server, 'POST', `/api/v1/videos?${ids}`, { headers: { 'Content-Type': 'video/mp4', 'X-Filename': 'clip.mp4' }, body });
  check(r.status === 201, `upload: ${r.status}`);
  const created = await r.json();
  validate('Video', created, 'POST /api/v1/videos (201)');
  check(created.external_id === 'order 17' && JSON.stringify(created.metadata) === JSON.stringify(metadata),
        `the ids are not echoed: ${JSON.stringify(created)}`);

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

  // A direct upload: the answer, the waiting video, its 410 once used.
  r = await call(server, 'POST', '/api/v1/direct-uploads', { headers: { 'Content-Type': 'application/json' },
                                                             body: JSON.stringify({ external_id: 'direct 1', max_bytes: 100 }) });
  check(r.status === 201, `POST /api/v1/direct-uploads: ${r.status}`);
  const direct = await r.json();
  validate('DirectUpload', direct, 'POST /api/v1/direct-uploads (201)');
  validate('Video', (await getJson(server, `/api/v1/videos/${direct.id}`)).json, 'a video waiting for its upload');
  r = await fetch(direct.upload_url.replace(publicUrl, server.url.replace(/\/$/, '')), { method: 'PUT', body: 'x'.repeat(100) });
  check(r.status === 201, `PUT upload_url: ${r.status}`);
  validate('Video', await r.json(), 'PUT upload_url (201)');
  r = await fetch(direct.upload_url.replace(publicUrl, server.url.replace(/\/$/, '')), { method: 'PUT', body: 'x' });
  check(r.status === 410, `PUT upload_url again: ${r.status}`);
  validate('Error', await r.json(), 'PUT upload_url again (410)');
  // An import (a JSON body): 202 with the queued video, its URL's host shown and never its query;
  // a loopback source without VIDPROC_IMPORT_ALLOWED_HOSTS ends failed (source_refused).
  r = await call(server, 'POST', '/api/v1/videos', {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ source_url: `http://127.0.0.1:${receiver.address().port}/v.mp4?sig=secret`, external_id: 'import 1' }),
  });
  check(r.status === 202, `import: ${r.status}`);
  const imported = await r.json();
  validate('Video', imported, 'POST /api/v1/videos with a JSON body (202)');
  check(imported.import?.source_host === `127.0.0.1:${receiver.address().port}` && !JSON.stringify(imported).includes('secret'),
        `the import is not shown as documented: ${JSON.stringify(imported)}`);
  const refused = await waitForStatus(server, imported.id, ['failed'], 60_000);
  validate('Video', refused, 'a refused import');
  check(refused.error?.code === 'source_refused', `the import failed with ${JSON.stringify(refused.error)}`);

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
    ['POST', '/api/v1/videos?metadata=%5B1%5D', { headers: { 'Content-Type': 'video/mp4' }, body: 'x' }],
    ['POST', '/api/v1/videos', { headers: { 'Content-Type': 'application/json' }, body: '{"source_key": "../x"}' }],
  ]) {
    const e = await call(server, method, path, opts);
    check(e.status >= 400, `${method} ${path}: expected an error, got ${e.status}`);
    validate('Error', await e.json(), `${method} ${path} (${e.status})`);
  }
  // Webhooks: the same rendering as the API, absolute links on VIDPROC_PUBLIC_URL.
  const readyHook = await hookFor('video.ready', created.id);
  const now = (await getJson(server, `/api/v1/videos/${created.id}`)).json;
  check(JSON.stringify(readyHook.body.video) === JSON.stringify(now),
        `video.ready's video differs from GET /api/v1/videos/{id}:\n${JSON.stringify(readyHook.body.video)}\n${JSON.stringify(now)}`);
  check(now.video_url.startsWith(`${publicUrl}/api/v1/videos/${created.id}/video`), `video_url ${now.video_url}`);
  check(now.thumbnail_url.startsWith(`${publicUrl}/api/v1/videos/${created.id}/thumbnail`), `thumbnail_url ${now.thumbnail_url}`);
  const failedHook = await hookFor('video.failed', bad.id);
  check(failedHook.body.video.error?.retryable === false, `not_a_video is not retryable: ${JSON.stringify(failedHook.body.video.error)}`);
  r = await call(server, 'DELETE', `/api/v1/videos/${created.id}`);
  check(r.status === 204, `DELETE: ${r.status}`);
  const deletedHook = await hookFor('video.deleted', created.id);
  check(deletedHook.body.video.status === 'ready', 'video.deleted carries the video as it was');
  await server.stop();
  receiver.close();
  check(hooks.length >= 3, `${hooks.length} webhooks`);
  const seen = new Set();
  for (const h of hooks) {
    validateHook(h.body, `webhook ${h.body.event}`);
    check(h.headers['x-vidproc-delivery'] === h.body.id, 'X-Vidproc-Delivery is the body\'s id');
    check(h.headers['x-vidproc-event'] === h.body.event, 'X-Vidproc-Event is the body\'s event');
    check(!seen.has(h.body.id), `delivery id ${h.body.id} used for two events`);
    seen.add(h.body.id);
  }
  console.log(`responses and ${hooks.length} webhooks match docs/openapi.json`);
});
