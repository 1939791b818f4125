// The official Pryv JavaScript client (npm `pryv`, lib-js) against one platform: the calls an app makes first.
// Usage: PRYV_PASSWORD=... node pryv-client.js SERVICE_INFO_URL USERNAME APP_ID [ORIGIN]
// Without ORIGIN, lib-js sends its own default in Node: service/info's `register` URL.
// Prints one JSON object: for each call, {"ok": true, ...what it saw} or {"ok": false, "error": "..."}.
// Tokens are never printed. Node trusts the platform's CA through NODE_EXTRA_CA_CERTS.
'use strict';
const pryv = require('pryv');

const [serviceInfoUrl, username, appId, origin] = process.argv.slice(2);
const password = process.env.PRYV_PASSWORD;
const BATCH = [{ method: 'events.get', params: { limit: 1 } }, { method: 'accesses.get', params: {} }];

// lib-js returns an error body from get() and api() rather than throwing: an `error` key is a failure too.
function failed (body) {
  return body && body.error ? body.error.id + ': ' + body.error.message : null;
}

async function step (summary, name, call) {
  try {
    const seen = await call();
    summary[name] = { ok: true, ...seen };
    return true;
  } catch (error) {
    summary[name] = { ok: false, error: String(error && error.message ? error.message : error) };
    return false;
  }
}

function check (body) {
  const error = failed(body);
  if (error) throw new Error(error);
  return body;
}

async function main () {
  const summary = {};
  const service = new pryv.Service(serviceInfoUrl);
  let connection = null;
  await step(summary, 'info', async () => {
    const info = await service.info();
    return { name: info.name, api: info.api, register: info.register };
  });
  await step(summary, 'login', async () => {
    connection = await service.login(username, password, appId, origin || undefined);
    return { endpoint: connection.endpoint };  // the endpoint without its token
  });
  if (connection) {
    await step(summary, 'accessInfo', async () => {
      const info = check(await connection.accessInfo());
      return { type: info.type, name: info.name, username: info.user && info.user.username };
    });
    await step(summary, 'events', async () => {
      const body = check(await connection.get('events', { limit: 1 }));
      return { count: body.events.length };
    });
    await step(summary, 'batch', async () => {
      const results = await connection.api(BATCH);
      results.forEach(check);
      return { results: results.map((result) => Object.keys(result).sort()) };
    });
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
}

main().catch((error) => {
  process.stderr.write('pryv-client.js: ' + (error && error.stack ? error.stack : error) + '\n');
  process.exit(2);
});
