// Presence members in headless Chromium: the demo chat on two gateways of a
// broker with --presence, each page with its own signed token (user and
// name from the token's claims). Each page sees the other arrive, in its
// "here" list and its log; when one page closes, the other sees it leave.
//
//   node presence_test.mjs CHANNEL_BROKER_BIN WS_GATEWAY_BIN
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAll, launchChromium, startDaemon } from './harness.mjs';

const [brokerBin, gatewayBin] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), 'channel-chromium-'));
const secret = randomBytes(32).toString('hex');
let browser;

function check(cond, what) {
  if (!cond) throw new Error(what);
}

// HS256 with Node's crypto (the backend's part, which any JWT library does).
function token(sub, name) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({
    sub, groups: ['*'], info: { name }, exp: Math.floor(Date.now() / 1000) + 600 })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

async function gateway(brokerPort) {
  return startDaemon(gatewayBin,
      ['--listen=127.0.0.1', '--port=0', '--admin_port=-1',
       `--broker=127.0.0.1:${brokerPort}`, '--threads=1', `--token_hmac_secret=${secret}`],
      'broker link up');
}

const here = (p) => p.evaluate(() => document.getElementById('here').textContent);

try {
  const broker = await startDaemon(brokerBin,
      ['--listen=127.0.0.1', '--port=0', '--admin_port=-1', '--presence=room-*']);
  const gws = [await gateway(broker.port), await gateway(broker.port)];
  browser = await launchChromium(profile);
  const pages = [];
  for (const [i, user, name] of [[0, 'u-ana', 'Ana'], [1, 'u-bo', 'Bo']]) {
    const p = await browser.newPage();
    await p.goto(`http://127.0.0.1:${gws[i].port}/?token=${token(user, name)}`);
    await p.waitForFunction(() => document.getElementById('state').textContent === 'connected',
                            null, { timeout: 10000 });
    await p.fill('#name', name);
    await p.fill('#room', 'room-1');
    await p.click('#joinbtn');
    await p.waitForFunction(() => document.querySelector('.room.active'), null, { timeout: 10000 });
    pages.push(p);
  }
  // Ana was there first: she sees Bo arrive; Bo's join listed Ana.
  await pages[0].waitForFunction(() => document.getElementById('log').textContent.includes('Bo joined #room-1'),
                                 null, { timeout: 10000 });
  for (const p of pages) {
    const who = await here(p);
    check(who.includes('Ana') && who.includes('Bo'), `here: ${who}`);
  }
  const bosLog = await pages[1].evaluate(() => document.getElementById('log').textContent);
  check(!bosLog.includes('Bo joined'), 'Bo was told of his own arrival');
  await pages[1].close();
  await pages[0].waitForFunction(() => document.getElementById('log').textContent.includes('Bo left #room-1'),
                                 null, { timeout: 10000 });
  const after = await here(pages[0]);
  check(after.includes('Ana') && !after.includes('Bo'), `here after Bo left: ${after}`);
  console.log('ok: two demo pages see each other arrive and leave');
  process.exitCode = 0;
} catch (err) {
  console.error(`FAIL: ${err.stack || err}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  killAll();
  rmSync(profile, { recursive: true, force: true });
}
