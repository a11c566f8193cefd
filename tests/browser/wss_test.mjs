// wss end to end: a certificate made here, a broker and two gateways with
// --tls_cert/--tls_key, a Node client that trusts the certificate sending
// across the two gateways, a client that does not trust it refused, and the
// seed page in headless Chromium told to trust exactly this certificate
// (by its SPKI hash) receiving "Esta é a mensagem" over wss.
//
//   node wss_test.mjs CHANNEL_BROKER_BIN WS_GATEWAY_BIN
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, launchChromium, serveSeedPage, startDaemon } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const [brokerBin, gatewayBin] = process.argv.slice(2);
if (!brokerBin || !gatewayBin) {
  console.error('usage: node wss_test.mjs CHANNEL_BROKER_BIN WS_GATEWAY_BIN');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'channel-wss-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');

let browser;
let server;
try {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const spki = execFileSync('sh', ['-c',
    `openssl x509 -pubkey -noout -in ${cert} | openssl pkey -pubin -outform der | ` +
    'openssl dgst -sha256 -binary | base64']).toString().trim();

  const broker = await startDaemon(brokerBin,
      ['--listen=127.0.0.1', '--port=0', '--admin_port=-1'], 'listening on');
  const gw = [];
  for (let i = 0; i < 2; i++) {
    gw.push(await startDaemon(gatewayBin, ['--listen=127.0.0.1', '--port=0',
      '--admin_port=-1', `--broker=127.0.0.1:${broker.port}`,
      `--tls_cert=${cert}`, `--tls_key=${key}`], 'broker link up'));
  }
  const wss = gw.map((g) => `wss://127.0.0.1:${g.port}`);

  // A client that trusts the certificate: messages cross the gateways.
  const trusted = spawnSync(process.execPath, ['--experimental-websocket', '--no-warnings',
    join(here, '../deploy/cross_gateway.mjs'), ...wss],
  { env: { ...process.env, NODE_EXTRA_CA_CERTS: cert }, encoding: 'utf8', timeout: 30000 });
  if (trusted.status !== 0) throw new Error(`trusted wss client failed:\n${trusted.stdout}${trusted.stderr}`);
  process.stdout.write(trusted.stdout);

  // Without trust in the certificate, or in plain ws, nothing gets through.
  const untrusted = spawnSync(process.execPath, ['--experimental-websocket', '--no-warnings',
    join(here, '../deploy/cross_gateway.mjs'), ...wss], { encoding: 'utf8', timeout: 30000 });
  if (untrusted.status === 0) throw new Error('a client that does not trust the certificate got in');
  const plain = spawnSync(process.execPath, ['--experimental-websocket', '--no-warnings',
    join(here, '../deploy/cross_gateway.mjs'), ...wss.map((u) => u.replace('wss:', 'ws:'))],
  { encoding: 'utf8', timeout: 30000 });
  if (plain.status === 0) throw new Error('plain ws worked on the wss port');
  console.log('ok: untrusted and plain-ws clients are refused');

  // The seed page in Chromium, trusting exactly this certificate.
  server = await serveSeedPage();
  browser = await launchChromium(join(dir, 'profile'),
      [`--ignore-certificate-errors-spki-list=${spki}`]);
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${server.address().port}/seed.html?port=${gw[1].port}&scheme=wss`);
  await tab.waitForFunction(
      () => document.getElementById('out').textContent === 'Esta é a mensagem',
      null, { timeout: 15000 });
  console.log('ok: Chromium received "Esta é a mensagem" over wss');
  process.exitCode = 0;
} catch (err) {
  console.error(`FAIL: ${err.stack || err}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) server.close();
  killAll();
  rmSync(dir, { recursive: true, force: true });
}
