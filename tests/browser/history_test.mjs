// History and recovery in headless Chromium against real daemons (issue
// 21): the demo page shows a room's last 50 messages when it joins; the
// browser client (clients/js) keeps its offset and, across a SIGKILL and
// restart of its gateway while a stream flows, ends with every message
// exactly once, in order, its group reported recovered. The stream is
// published through the broker's HTTP API, so it goes on while the gateway
// is dead.
//
//   node history_test.mjs CHANNEL_BROKER_BIN WS_GATEWAY_BIN
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAll, launchChromium, startDaemon } from './harness.mjs';

const [brokerBin, gatewayBin] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'channel-chromium-'));
const KEY = 'history-test-key';
let browser;

function check(cond, what) {
  if (!cond) throw new Error(what);
}

async function gateway(brokerPort, port = 0) {
  return startDaemon(gatewayBin,
      ['--listen=127.0.0.1', `--port=${port}`, '--admin_port=-1',
       `--broker=127.0.0.1:${brokerPort}`, '--threads=1',
       '--broker_backoff_max_ms=200'], 'broker link up');
}

try {
  const broker = await startDaemon(brokerBin,
      ['--listen=127.0.0.1', '--port=0', '--admin_port=-1', '--api_port=0',
       `--api_key=${KEY}`, '--history=h-*:size=1000,ttl=300s'], 'api listening on');
  const apiPort = Number(broker.log.match(/api listening on [0-9.]+:([0-9]+)/)[1]);
  // Publishes through the HTTP API, waiting for the broker's answer.
  const publish = async (group, message) => {
    const res = await fetch(`http://127.0.0.1:${apiPort}/api/publish`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ group_id: group, message }),
    });
    check(res.status === 200, `publish ${message}: ${res.status} ${await res.text()}`);
  };
  let gw = await gateway(broker.port);
  const port = gw.port;
  browser = await launchChromium(profile);

  // ---- The demo page: a room's last 50 messages on join -----------------
  for (let i = 1; i <= 60; ++i) await publish('h-demo', JSON.stringify({ name: 'bot', text: `d${i}` }));
  const demo = await browser.newPage();
  const pageErrors = [];
  demo.on('pageerror', (e) => pageErrors.push(String(e)));
  demo.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));
  await demo.goto(`http://127.0.0.1:${port}/`);
  await demo.waitForFunction(() => document.getElementById('state').textContent === 'connected',
                             null, { timeout: 10000 });
  await demo.fill('#name', 'Ana');  // required by the form
  await demo.fill('#room', 'h-demo');
  await demo.click('#joinbtn');
  await demo.waitForFunction(() => document.getElementById('log').textContent.includes('d60'),
                             null, { timeout: 10000 })
    .catch(async (e) => {
      throw new Error(`${e.message}; log: ${await demo.evaluate(() => document.getElementById('log').innerHTML)}; page errors: ${pageErrors.join('; ')}`);
    });
  const shown = await demo.evaluate(() =>
      [...document.querySelectorAll('#log .msg')].map((e) => e.lastChild.textContent));
  const want = Array.from({ length: 50 }, (_, i) => `d${i + 11}`);
  check(JSON.stringify(shown) === JSON.stringify(want), `demo history: ${shown.join(',')}`);
  await demo.close();
  console.log('ok: the demo page shows the room\'s last 50 messages');

  // ---- The library across a gateway SIGKILL and restart ------------------
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${port}/`);
  await tab.evaluate(async (p) => {
    const { connect } = await import('/channel-client.js');
    window.got = [];
    window.recovered = [];
    window.gaps = [];
    const c = connect(`ws://127.0.0.1:${p}/`, { backoffInitialMs: 50, backoffMaxMs: 200 });
    window.c = c;
    c.on('message', (m) => window.got.push(m.message));
    c.on('recovered', (r) => window.recovered.push(r));
    c.on('gap', (g) => window.gaps.push(g));
    await new Promise((resolve) => c.on('state', (s) => s === 'connected' && resolve()));
    await c.join('h-1');
  }, port);
  const total = 300;
  for (let i = 1; i <= total; ++i) {
    if (i === 101) {
      gw.child.kill('SIGKILL');
      await tab.waitForFunction(() => window.c.state === 'disconnected', null, { timeout: 10000 });
    }
    if (i === 201) gw = await gateway(broker.port, port);
    await publish('h-1', `m${i}`);
  }
  const deadline = Date.now() + 20000;
  let got = [];
  while (Date.now() < deadline) {  // polls the page: no sleep as a sync
    got = await tab.evaluate(() => window.got);
    if (got.length >= total) break;
    await tab.waitForFunction((n) => window.got.length > n, got.length, { timeout: 20000 })
      .catch(() => {});
  }
  const expected = Array.from({ length: total }, (_, i) => `m${i + 1}`);
  check(JSON.stringify(got) === JSON.stringify(expected),
        `got ${got.length}: ${got.slice(95, 110).join(',')} ... ${got.slice(-3).join(',')}`);
  const recovered = await tab.evaluate(() => window.recovered);
  check(recovered.length >= 1 && recovered.every((r) => r.group === 'h-1' && r.recovered),
        `recovered: ${JSON.stringify(recovered)}`);
  const gaps = await tab.evaluate(() => window.gaps);
  check(gaps.every((g) => !g.groups.includes('h-1')), `gaps: ${JSON.stringify(gaps)}`);
  console.log(`ok: ${total} messages exactly once across a gateway restart, recovered`);
  process.exitCode = 0;
} catch (err) {
  console.error(`FAIL: ${err.stack || err}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  killAll();
  rmSync(profile, { recursive: true, force: true });
}
