// The seed's own test in a real browser: headless Chromium loads seed.html,
// which joins group 123 and sends "Esta é a mensagem" to it through a real
// ws-gateway and channel-broker; the page must show exactly that text.
//
//   node seed_test.mjs CHANNEL_BROKER_BIN WS_GATEWAY_BIN
//   node seed_test.mjs --gateway-port=PORT   (a gateway already running on
//                                             127.0.0.1, e.g. docker-compose)
//
// Exits 0 on success, 1 with the reason otherwise. Every process it starts
// binds to 127.0.0.1 on a free port and is killed by PID at the end.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const existingPort = (process.argv.find((a) => a.startsWith('--gateway-port=')) || '')
    .split('=')[1];
const [brokerBin, gatewayBin] = process.argv.slice(2);
if (!existingPort && (!brokerBin || !gatewayBin)) {
  console.error('usage: node seed_test.mjs CHANNEL_BROKER_BIN WS_GATEWAY_BIN');
  process.exit(2);
}
const EXPECTED = 'Esta é a mensagem';
const children = [];

// Starts a daemon and resolves with the port of its "<what> listening on
// HOST:PORT" log line.
function startDaemon(bin, args, what) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let log = '';
    const timer = setTimeout(
        () => reject(new Error(`${bin} did not start:\n${log}`)), 10000);
    child.stderr.on('data', (chunk) => {
      log += chunk.toString();
      const m = log.match(new RegExp(`${what} [0-9.]+:([0-9]+)`));
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child, log: () => log });
      }
    });
    child.on('exit', (code) => reject(new Error(`${bin} exited ${code}:\n${log}`)));
  });
}

function waitForLine(daemon, pattern, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${pattern}"`)), ms);
    const check = () => {
      if (daemon.log().includes(pattern)) {
        clearTimeout(timer);
        resolve();
      }
    };
    daemon.child.stderr.on('data', check);
    check();
  });
}

let browser;
let server;
const profile = mkdtempSync(join(tmpdir(), 'channel-chromium-'));
try {
  let gateway = { port: Number(existingPort) };
  if (!existingPort) {
    const broker = await startDaemon(brokerBin,
        ['--listen=127.0.0.1', '--port=0', '--admin_port=-1'], '] listening on');
    gateway = await startDaemon(gatewayBin,
        ['--listen=127.0.0.1', '--port=0', '--admin_port=-1',
         `--broker=127.0.0.1:${broker.port}`], '] listening on');
    await waitForLine(gateway, 'broker link up', 10000);
  }

  const page = readFileSync(join(here, 'seed.html'));
  server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(page);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const httpPort = server.address().port;

  // A new, empty profile directory per run.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--disable-quic'],
  });
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${httpPort}/seed.html?port=${gateway.port}`);
  await tab.waitForFunction(
      (want) => document.getElementById('out').textContent === want,
      EXPECTED, { timeout: 15000 });
  const got = await tab.$eval('#out', (e) => e.textContent);
  if (got !== EXPECTED) throw new Error(`page shows ${JSON.stringify(got)}`);
  console.log(`ok: Chromium received ${JSON.stringify(got)} via ws-gateway`);
  process.exitCode = 0;
} catch (err) {
  console.error(`FAIL: ${err.stack || err}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) server.close();
  for (const child of children) child.kill('SIGKILL');
  rmSync(profile, { recursive: true, force: true });
}
