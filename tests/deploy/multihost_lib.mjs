// Helpers of the multi-host tests (run by node inside the client
// namespace): daemons started in other namespaces, their logs awaited,
// WebSocket clients with exactly-once checks. No sleeps: everything waits
// for a log line or a message, with a deadline.
import { spawn } from 'node:child_process';

const children = [];

// Starts `bin args` in namespace `${prefix}-${ns}`; stderr is collected.
export function startDaemon(prefix, ns, bin, args, env = {}) {
  const child = spawn('ip', ['netns', 'exec', `${prefix}-${ns}`, bin, ...args],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  children.push(child);
  const d = { child, log: '', waiters: [], name: ns };
  child.stderr.on('data', (chunk) => {
    d.log += chunk;
    for (const w of d.waiters.splice(0)) w();
  });
  return d;
}

export function killAll() {
  for (const child of children) child.kill('SIGKILL');
}

// Waits until `pattern` has appeared `count` times in the daemon's log.
export function waitLog(d, pattern, count = 1, ms = 20000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${d.name}: timeout waiting for "${pattern}" x${count}:\n${d.log.slice(-2000)}`)), ms);
    const check = () => {
      if (d.log.split(pattern).length - 1 >= count) { clearTimeout(timer); resolve(); }
      else d.waiters.push(check);
    };
    check();
  });
}

export function client(url, name) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const c = { ws, got: [], waiters: [], gw: name };
    ws.onmessage = (e) => { c.got.push(e.data); for (const w of c.waiters.splice(0)) w(); };
    ws.onopen = () => resolve(c);
    ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
  });
}

export function waitFor(c, pred, what, ms = 15000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${c.gw}: timeout waiting for ${what}; got ${JSON.stringify(c.got.slice(-5))}`)), ms);
    const check = () => { if (pred(c.got)) { clearTimeout(timer); resolve(); } else c.waiters.push(check); };
    check();
  });
}

let nextId = 1;
// Sends a command with a fresh id; resolves to the reply.
export async function request(c, cmd) {
  const id = nextId++;
  c.ws.send(JSON.stringify({ ...cmd, id }));
  await waitFor(c, (g) => g.some((m) => m.startsWith(`{"id":${id},`)), `reply ${id}`);
  return c.got.find((m) => m.startsWith(`{"id":${id},`));
}

// Sends until the gateway says ok, as a client would: right after a broker
// restart the broker refuses publishes (backpressure) while gateways
// re-subscribe. Bounded: 100 attempts, 100 ms apart.
export async function requestUntilOk(c, cmd) {
  let reply = '';
  for (let i = 0; i < 100; ++i) {
    reply = await request(c, cmd);
    if (reply.includes('"ok":true')) return reply;
    if (!reply.includes('backpressure') && !reply.includes('broker_unavailable')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${c.gw}: never acknowledged: ${reply}`);
}

// Every client got `message` exactly once.
export async function expectOnce(clients, message) {
  for (const c of clients) await waitFor(c, (g) => g.includes(message), `"${message}"`);
  for (const c of clients) {
    const n = c.got.filter((m) => m === message).length;
    if (n !== 1) throw new Error(`${c.gw}: "${message}" delivered ${n} times`);
  }
}
