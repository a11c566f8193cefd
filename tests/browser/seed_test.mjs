// The seed's own test in a real browser: headless Chromium loads seed.html,
// which joins group 123 and sends "Esta é a mensagem" to it through a real
// ws-gateway and channel-broker; the page must show exactly that text.
//
//   node seed_test.mjs CHANNEL_BROKER_BIN WS_GATEWAY_BIN [--token]
//   node seed_test.mjs --gateway-port=PORT   (a gateway already running on
//                                             127.0.0.1, e.g. docker-compose)
//
// --token: the gateway verifies HS256 tokens and the page passes one
// (minted here with node:crypto) as ?token= in the WebSocket URL.
//
// Exits 0 on success, 1 with the reason otherwise. Every process it starts
// binds to 127.0.0.1 on a free port and is killed by PID at the end.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAll, launchChromium, serveSeedPage, startDaemon } from './harness.mjs';

const existingPort = (process.argv.find((a) => a.startsWith('--gateway-port=')) || '')
    .split('=')[1];
const [brokerBin, gatewayBin] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const withToken = process.argv.includes('--token');
const secret = randomBytes(32).toString('hex');
function hs256(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}
if (!existingPort && (!brokerBin || !gatewayBin)) {
  console.error('usage: node seed_test.mjs CHANNEL_BROKER_BIN WS_GATEWAY_BIN');
  process.exit(2);
}
const EXPECTED = 'Esta é a mensagem';

let browser;
let server;
const profile = mkdtempSync(join(tmpdir(), 'channel-chromium-'));
try {
  let gateway = { port: Number(existingPort) };
  if (!existingPort) {
    const broker = await startDaemon(brokerBin,
        ['--listen=127.0.0.1', '--port=0', '--admin_port=-1']);
    gateway = await startDaemon(gatewayBin,
        ['--listen=127.0.0.1', '--port=0', '--admin_port=-1',
         `--broker=127.0.0.1:${broker.port}`,
         ...(withToken ? [`--token_hmac_secret=${secret}`] : [])],
        'broker link up');
  }

  server = await serveSeedPage();
  const httpPort = server.address().port;
  browser = await launchChromium(profile);
  const tab = await browser.newPage();
  const token = withToken
      ? `&token=${hs256({ sub: 'seed-user', groups: ['123'],
                          exp: Math.floor(Date.now() / 1000) + 600 })}`
      : '';
  await tab.goto(`http://127.0.0.1:${httpPort}/seed.html?port=${gateway.port}${token}`);
  await tab.waitForFunction(
      (want) => document.getElementById('out').textContent === want,
      EXPECTED, { timeout: 15000 });
  const got = await tab.$eval('#out', (e) => e.textContent);
  if (got !== EXPECTED) throw new Error(`page shows ${JSON.stringify(got)}`);
  console.log(`ok: Chromium received ${JSON.stringify(got)} via ws-gateway` +
              (withToken ? ' (with a token)' : ''));
  process.exitCode = 0;
} catch (err) {
  console.error(`FAIL: ${err.stack || err}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) server.close();
  killAll();
  rmSync(profile, { recursive: true, force: true });
}
