// The two ported seed programs of examples/ against real daemons in
// headless Chromium (issue 22): examples/php-chat's backend in php-cli, and
// examples/webhook-chat's receiver behind the broker's webhooks and API.
// For each: a browser joins a room through a custom command the backend
// approves, a bad room is refused, a chat line reaches the other browser
// in the room, and the backend has seen every connect, message and close.
//
//   node examples_test.mjs CHANNEL_BROKER_BIN WS_GATEWAY_BIN PHP_BIN
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, launchChromium, startDaemon } from './harness.mjs';

const [brokerBin, gatewayBin, phpBin] = process.argv.slice(2);
const examples = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
const profile = mkdtempSync(join(tmpdir(), 'channel-chromium-'));
const work = mkdtempSync(join(tmpdir(), 'channel-examples-'));
const started = [];
let browser;
let pageServer;

function check(cond, what) {
  if (!cond) throw new Error(what);
}

// A backend process whose output lines are kept; resolves once it printed
// `ready` on stderr.
function startBackend(bin, args, ready, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: { ...process.env, ...env },
                                     stdio: ['pipe', 'pipe', 'pipe'] });
    started.push(child);
    const backend = { child, out: '', err: '' };
    const timer = setTimeout(() => reject(new Error(`${bin} did not start: ${backend.err}`)), 10000);
    child.stdout.on('data', (c) => { backend.out += c; });
    child.stderr.on('data', (c) => {
      backend.err += c;
      if (backend.err.includes(ready)) {
        clearTimeout(timer);
        resolve(backend);
      }
    });
    child.on('exit', (code) => reject(new Error(`${bin} exited ${code}: ${backend.err}`)));
  });
}

// Waits (polling the process's output, bounded) until `pattern` is there.
async function waitOutput(backend, pattern, what) {
  const deadline = Date.now() + 10000;
  while (!pattern.test(backend.out)) {
    check(Date.now() < deadline, `${what}: not in the backend's output:\n${backend.out}`);
    await new Promise((r) => {
      const timer = setTimeout(r, deadline - Date.now());
      backend.child.stdout.once('data', () => { clearTimeout(timer); r(); });
    });
  }
}

// The example page, served on loopback, opened against `gatewayPort`.
async function openPage(pageUrl, gatewayPort) {
  const page = await browser.newPage();
  await page.goto(`${pageUrl}?gateway=ws://127.0.0.1:${gatewayPort}/`);
  await page.waitForFunction(() => document.getElementById('log').textContent.includes('connected'),
                             null, { timeout: 10000 });
  return page;
}
const logOf = (page) => page.evaluate(() => document.getElementById('log').textContent);
async function waitLog(page, text) {
  await page.waitForFunction((t) => document.getElementById('log').textContent.includes(t),
                             text, { timeout: 10000 })
    .catch(async () => { throw new Error(`page log lacks "${text}": ${await logOf(page)}`); });
}

async function scenario(name, gatewayPort, backend, pageUrl) {
  const a = await openPage(pageUrl, gatewayPort);
  const b = await openPage(pageUrl, gatewayPort);
  for (const page of [a, b]) {
    await page.fill('#room', 'lobby');
    await page.click('#join');
    await waitLog(page, 'joined lobby');
  }
  await a.fill('#room', 'Bad Room!');
  await a.click('#join');
  await waitLog(a, 'refused: rooms are a-z');
  await a.fill('#room', 'lobby');
  await a.fill('#text', 'hello from a');
  await a.click('#send');
  await waitLog(b, 'hello from a');
  // The backend publishes before it answers: closing `a` as soon as `b` has
  // the line would race the answer (a 404 "closed" at the backend).
  await waitLog(a, 'stored and sent');
  await a.close();
  await b.close();
  await waitOutput(backend, /^connect \S+$/m, `${name}: connect`);
  await waitOutput(backend, /^message \S+ join lobby$/m, `${name}: join command`);
  await waitOutput(backend, /^message \S+ chat lobby$/m, `${name}: chat command`);
  await waitOutput(backend, /close \S+[\s\S]*close \S+/, `${name}: both closes`);
  console.log(`ok: ${name}: joined through the backend, refused, chatted, every event seen`);
}

try {
  pageServer = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(readFileSync(join(examples, 'php-chat', 'index.html')));
  });
  await new Promise((r) => pageServer.listen(0, '127.0.0.1', r));
  const pageUrl = `http://127.0.0.1:${pageServer.address().port}/`;
  browser = await launchChromium(profile);
  const gatewayArgs = (brokerPort) =>
      ['--listen=127.0.0.1', '--port=0', '--admin_port=-1', '--threads=1',
       `--broker=127.0.0.1:${brokerPort}`, '--events',
       // The backends' answers go through PHP, or a webhook batch and the
       // HTTP API: on a loaded machine (sanitizers, parallel tests) they can
       // take longer than the 1 s default, and a late answer is a 404.
       '--backend_timeout_ms=30000'];

  // ---- PHP: the backend is a Channel client of the broker ----------------
  {
    const broker = await startDaemon(brokerBin,
        ['--listen=127.0.0.1', '--port=0', '--admin_port=-1']);
    const gw = await startDaemon(gatewayBin, gatewayArgs(broker.port), 'broker link up');
    const backend = await startBackend(phpBin,
        [join(examples, 'php-chat', 'backend.php'), `127.0.0.1:${broker.port}`,
         join(work, 'php-chat.log')], 'backend ready');
    await scenario('php-chat', gw.port, backend, pageUrl);
    const stored = readFileSync(join(work, 'php-chat.log'), 'utf8');
    check(stored.includes('hello from a'), `php-chat stored: ${stored}`);
  }

  // ---- Webhooks: the backend is an HTTP receiver, acting through the API -
  {
    const secret = 'examples-test-secret';
    const receiver = await startBackend(process.execPath,
        [join(examples, 'webhook-chat', 'receiver.mjs'), '0', '-', secret],
        'receiver ready', { CHAT_LOG: join(work, 'webhook-chat.log') });
    const hookPort = Number(receiver.err.match(/receiver ready on port (\d+)/)[1]);
    const broker = await startDaemon(brokerBin,
        ['--listen=127.0.0.1', '--port=0', '--admin_port=-1', '--api_port=0',
         `--webhook_url=http://127.0.0.1:${hookPort}/events`,
         `--webhook_secret=${secret}`, '--webhook_batch_ms=20'], 'api listening on');
    const apiPort = Number(broker.log.match(/api listening on [0-9.]+:([0-9]+)/)[1]);
    receiver.child.stdin.write(`http://127.0.0.1:${apiPort}\n`);
    const gw = await startDaemon(gatewayBin, gatewayArgs(broker.port), 'broker link up');
    await scenario('webhook-chat', gw.port, receiver, pageUrl);
    check(!/batch failed|: [45]\d\d /.test(receiver.err), `receiver errors: ${receiver.err}`);
  }
  process.exitCode = 0;
} catch (err) {
  console.error(`FAIL: ${err.stack || err}`);
  process.exitCode = 1;
} finally {
  // Nothing may keep the process alive after a failure (the page server's
  // keep-alive sockets would, until ctest's timeout).
  if (pageServer) {
    pageServer.closeAllConnections();
    pageServer.close();
  }
  if (browser) await browser.close().catch(() => {});
  for (const child of started) child.kill('SIGKILL');
  killAll();
  rmSync(profile, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
