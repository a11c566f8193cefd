// What the Node browser tests share: starting the daemons, serving the seed
// page, and launching headless Chromium with the flags this machine needs.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const children = [];

// Spawns a daemon and resolves once it has logged `ready` and its
// "] listening on HOST:PORT" line, with that port (and the log so far).
export function startDaemon(bin, args, ready = 'listening on') {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let log = '';
    const timer = setTimeout(
        () => reject(new Error(`${bin} did not start:\n${log}`)), 10000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = log.match(/\] listening on [0-9.]+:([0-9]+)/);
      if (m && log.includes(ready)) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child, log });
      }
    });
    child.on('exit', (code) => reject(new Error(`${bin} exited ${code}:\n${log}`)));
  });
}

// Kills, by PID, every daemon startDaemon started.
export function killAll() {
  for (const child of children) child.kill('SIGKILL');
}

// Serves seed.html on 127.0.0.1 (any free port); resolves with the server.
export async function serveSeedPage() {
  const page = readFileSync(join(here, 'seed.html'));
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(page);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

// Headless Debian Chromium with a new, empty profile in `profileDir`.
export function launchChromium(profileDir, extraArgs = []) {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--disable-quic', ...extraArgs],
  });
}
