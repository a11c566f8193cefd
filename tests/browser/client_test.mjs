// The browser client (clients/js) and the demo page in headless Chromium
// against real daemons: the module is loaded from the gateway that serves
// it. Join, send and receive with the group named; two rooms; the gateway
// killed and started again on the same port (the client reconnects,
// re-joins, and the next message arrives); a send while disconnected gets
// "disconnected"; acks and error codes as promise results. Then the demo
// chat: two pages on two gateways chat, with screenshots at desktop and
// phone widths (written to $CHANNEL_SCREENSHOTS, default a temp dir).
//
//   node client_test.mjs CHANNEL_BROKER_BIN WS_GATEWAY_BIN
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAll, launchChromium, startDaemon } from './harness.mjs';

const [brokerBin, gatewayBin] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'channel-chromium-'));
const shots = process.env.CHANNEL_SCREENSHOTS || mkdtempSync(join(tmpdir(), 'channel-shots-'));
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
      ['--listen=127.0.0.1', '--port=0', '--admin_port=-1']);
  let gwA = await gateway(broker.port);
  const gwB = await gateway(broker.port);
  const portA = gwA.port;
  browser = await launchChromium(profile);

  // ---- The library ---------------------------------------------------
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${portA}/`);
  await tab.evaluate(async (port) => {
    const { connect } = await import('/channel-client.js');
    window.got = [];
    window.states = [];
    const c = connect(`ws://127.0.0.1:${port}/`, { backoffInitialMs: 50, backoffMaxMs: 300 });
    window.c = c;
    c.on('state', (s) => window.states.push(s));
    c.on('message', (m) => window.got.push([m.group, m.message]));
    await new Promise((resolve) => c.on('state', (s) => s === 'connected' && resolve()));
    await c.join('r1');
    await c.join('r2');
  }, portA);
  // A second client, in Node's view of the page: sends from gateway B.
  const other = await browser.newPage();
  await other.goto(`http://127.0.0.1:${gwB.port}/`);
  await other.evaluate(async (port) => {
    const { connect } = await import('/channel-client.js');
    const c = connect(`ws://127.0.0.1:${port}/`);
    window.c = c;
    await new Promise((resolve) => c.on('state', (s) => s === 'connected' && resolve()));
  }, gwB.port);
  await other.evaluate(() => Promise.all([window.c.send('r1', 'one'), window.c.send('r2', 'two')]));
  await tab.waitForFunction(() => window.got.length >= 2, null, { timeout: 10000 });
  const got = await tab.evaluate(() => window.got.map((x) => x.join(':')).sort());
  check(JSON.stringify(got) === JSON.stringify(['r1:one', 'r2:two']), `rooms: ${got}`);
  // An error code as the promise's result.
  const code = await tab.evaluate(() => window.c.join('x'.repeat(300)).then(() => 'ok', (e) => e.code));
  check(code === 'group_id_too_long', `error code: ${code}`);

  // The gateway dies: disconnected, and a send is refused at once.
  gwA.child.kill('SIGKILL');
  await tab.waitForFunction(() => window.c.state === 'disconnected', null, { timeout: 10000 });
  const offline = await tab.evaluate(() => window.c.send('r1', 'x').then(() => 'sent', (e) => e.code));
  check(offline === 'disconnected', `send while disconnected: ${offline}`);
  // Back on the same port: reconnects, re-joins, then reports connected.
  gwA = await gateway(broker.port, portA);
  await tab.waitForFunction(() => window.c.state === 'connected', null, { timeout: 15000 });
  await other.evaluate(() => window.c.send('r1', 'after restart'));
  await tab.waitForFunction(() => window.got.some((x) => x[1] === 'after restart'), null,
                            { timeout: 10000 });
  const states = await tab.evaluate(() => window.states.join(','));
  check(states.includes('connected,disconnected') && states.endsWith('connected'),
        `states: ${states}`);
  console.log('ok: library (rooms, error codes, offline refusal, reconnect and re-join)');

  // ---- The demo chat: two pages, two gateways --------------------------
  const chatters = [];
  for (const [port, name, width, height] of [[portA, 'Ana', 1280, 800], [gwB.port, 'Bo', 390, 844]]) {
    const p = await browser.newPage();
    await p.setViewportSize({ width, height });
    await p.goto(`http://127.0.0.1:${port}/`);
    await p.waitForFunction(() => document.getElementById('state').textContent === 'connected',
                            null, { timeout: 10000 });
    await p.fill('#name', name);
    await p.fill('#room', 'lobby');
    await p.click('#joinbtn');
    await p.waitForFunction(() => document.querySelector('.room.active'), null, { timeout: 10000 });
    chatters.push(p);
  }
  await chatters[0].fill('#text', 'Olá from Ana');
  await chatters[0].click('#send');
  await chatters[1].fill('#text', 'hi Ana, Bo here');
  await chatters[1].click('#send');
  for (const p of chatters) {
    await p.waitForFunction(() => {
      const t = document.getElementById('log').textContent;
      return t.includes('Olá from Ana') && t.includes('hi Ana, Bo here');
    }, null, { timeout: 10000 });
  }
  await chatters[0].screenshot({ path: join(shots, 'demo-desktop.png') });
  await chatters[1].screenshot({ path: join(shots, 'demo-phone.png') });
  for (const f of ['demo-desktop.png', 'demo-phone.png']) {
    check(statSync(join(shots, f)).size > 5000, `${f} looks empty`);
  }
  console.log(`ok: demo chat across two gateways; screenshots in ${shots}`);
  process.exitCode = 0;
} catch (err) {
  console.error(`FAIL: ${err.stack || err}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  killAll();
  rmSync(profile, { recursive: true, force: true });
}
