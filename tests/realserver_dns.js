// The real server's own DNS (components/dns-server), started beside a running DNS-less core the way bin/master.js
// starts it in DNS mode, against the same PostgreSQL platform DB. The server itself refuses DNS mode with PostgreSQL
// as platform engine (config/plugins/config-validation.js), hence this separate process.
// Usage (by tests/realserver.py): node realserver_dns.js SERVER_ROOT --config CONFIG_FILE
// CONFIG_FILE: the core's config plus dns.domain, dns.ip, dns.port and core.ip (the address users resolve to).
'use strict';
const path = require('node:path');
const root = path.resolve(process.argv[2]);
// Resolve the server's modules (workspaces, TypeScript sources) as its own bin/ scripts do.
const serverRequire = require('node:module').createRequire(path.join(root, 'bin', 'master.js'));

serverRequire('@pryv/boiler').init({
  appName: 'check-pryv-dns',
  baseFilesDir: root,
  baseConfigDir: path.join(root, 'config'),
  extraConfigs: [
    { scope: 'default-paths', file: path.join(root, 'config', 'plugins', 'paths-config.js') },
    { pluginAsync: serverRequire('../config/plugins/systemStreams') },
    { plugin: serverRequire('../config/plugins/core-identity') }
  ]
});

(async () => {
  const { getConfig, getLogger } = serverRequire('@pryv/boiler');
  const config = await getConfig();
  await serverRequire('storages').init(config);
  const { getPlatform } = serverRequire('../components/platform/src/index.ts');
  const platform = await getPlatform(); // registers core.ip for this core id: user names resolve to it
  const { createDnsServer } = serverRequire('../components/dns-server/src/index.ts');
  const server = createDnsServer({ config, platform, logger: getLogger('dns-server') });
  await server.start({ port: config.get('dns:port'), ip: config.get('dns:ip') });
  console.log('DNS ready on %s:%d for %s', config.get('dns:ip'), config.get('dns:port'), config.get('dns:domain'));
})().catch((error) => {
  console.error('DNS failed to start: ' + (error && error.stack ? error.stack : error));
  process.exit(1);
});
