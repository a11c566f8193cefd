// Driven by multihost_test.sh, inside the client namespace. See there.
import { spawn, execFileSync } from 'node:child_process';

const [prefix, brokerBin, gatewayBin, gw1SwitchPort] = process.argv.slice(2);
const BROKER = '10.231.0.1';
const GW = { gw1: '10.231.0.2', gw2: '10.231.0.3' };
const TOKEN = `mh-${process.pid}`;
const children = [];

function startDaemon(ns, bin, args) {
  const child = spawn('ip', ['netns', 'exec', `${prefix}-${ns}`, bin, ...args],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CHANNEL_AUTH_TOKEN: TOKEN } });
  children.push(child);
  const d = { child, log: '', waiters: [] };
  child.stderr.on('data', (chunk) => {
    d.log += chunk;
    for (const w of d.waiters.splice(0)) w();
  });
  return d;
}

// Waits until `pattern` has appeared `count` times in the daemon's log.
function waitLog(d, pattern, count = 1, ms = 20000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout waiting for "${pattern}" x${count}:\n${d.log.slice(-2000)}`)), ms);
    const check = () => {
      if (d.log.split(pattern).length - 1 >= count) { clearTimeout(timer); resolve(); }
      else d.waiters.push(check);
    };
    check();
  });
}

function startBroker() {
  return startDaemon('broker', brokerBin, [`--listen=${BROKER}`, '--port=2206',
    `--admin_listen=${BROKER}`, '--admin_port=2207', '--heartbeat_interval_ms=500',
    '--idle_timeout_ms=2000']);
}
function startGateway(name) {
  return startDaemon(name, gatewayBin, [`--listen=${GW[name]}`, '--port=1234',
    `--admin_listen=${GW[name]}`, '--admin_port=9234', `--broker=${BROKER}:2206`,
    '--threads=1', '--broker_backoff_max_ms=500']);
}
// Takes gw1's switch port down or up.
function link(state) {
  execFileSync('ip', ['-n', `${prefix}-sw`, 'link', 'set', gw1SwitchPort, state]);
}

function client(gw) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${GW[gw]}:1234`);
    const c = { ws, got: [], waiters: [], gw };
    ws.onmessage = (e) => { c.got.push(e.data); for (const w of c.waiters.splice(0)) w(); };
    ws.onopen = () => resolve(c);
    ws.onerror = () => reject(new Error(`cannot connect to ${gw}`));
  });
}
function waitFor(c, pred, what, ms = 15000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${c.gw}: timeout waiting for ${what}; got ${JSON.stringify(c.got.slice(-5))}`)), ms);
    const check = () => { if (pred(c.got)) { clearTimeout(timer); resolve(); } else c.waiters.push(check); };
    check();
  });
}
let nextId = 1;
async function request(c, cmd) {
  const id = nextId++;
  c.ws.send(JSON.stringify({ ...cmd, id }));
  await waitFor(c, (g) => g.some((m) => m.startsWith(`{"id":${id},`)), `reply ${id}`);
  return c.got.find((m) => m.startsWith(`{"id":${id},`));
}
async function expectOnce(clients, message) {
  for (const c of clients) await waitFor(c, (g) => g.includes(message), `"${message}"`);
  for (const c of clients) {
    const n = c.got.filter((m) => m === message).length;
    if (n !== 1) throw new Error(`${c.gw}: "${message}" delivered ${n} times`);
  }
}

let ok = false;
try {
  let broker = startBroker();
  await waitLog(broker, 'listening on');
  const gw1 = startGateway('gw1');
  const gw2 = startGateway('gw2');
  await waitLog(gw1, 'broker link up');
  await waitLog(gw2, 'broker link up');

  const a1 = await client('gw1'), b1 = await client('gw1');
  const a2 = await client('gw2'), b2 = await client('gw2');
  const all = [a1, b1, a2, b2];
  for (const c of all) {
    const r = await request(c, { cmd: 'add_group', group_id: 'mh' });
    if (!r.includes('"ok":true')) throw new Error(`join failed: ${r}`);
  }
  await request(a1, { cmd: 'send_to_group', group_id: 'mh', message: 'm1 across hosts' });
  await expectOnce(all, 'm1 across hosts');
  console.log('ok: messages cross hosts');

  // Cut gw1 off the network: gw2's clients keep being served.
  link('down');
  await waitLog(gw1, 'broker link down', 1);
  const r2 = await request(a2, { cmd: 'send_to_group', group_id: 'mh', message: 'm2 while gw1 is cut' });
  if (!r2.includes('"ok":true')) throw new Error(`send on gw2 failed: ${r2}`);
  await expectOnce([a2, b2], 'm2 while gw1 is cut');
  console.log('ok: gw2 serves its clients while gw1 is cut off');

  // Link back: gw1 reconnects and re-subscribes; its clients kept their
  // group and receive again.
  link('up');
  await waitLog(gw1, 'broker link up', 2);
  await request(a2, { cmd: 'send_to_group', group_id: 'mh', message: 'm3 after the link is back' });
  await expectOnce(all, 'm3 after the link is back');
  console.log('ok: gw1 recovered after its link came back');

  // Kill the broker host's process and start it again.
  broker.child.kill('SIGKILL');
  await waitLog(gw1, 'broker link down', 2);
  await waitLog(gw2, 'broker link down', 1);
  broker = startBroker();
  await waitLog(gw1, 'broker link up', 3);
  await waitLog(gw2, 'broker link up', 2);
  await request(b1, { cmd: 'send_to_group', group_id: 'mh', message: 'm4 after broker restart' });
  await expectOnce(all, 'm4 after broker restart');
  console.log('ok: broker restart survived; clients kept their groups');
  for (const c of all) c.ws.close();
  ok = true;
} catch (err) {
  console.error(`FAIL: ${err.stack || err}`);
} finally {
  for (const child of children) child.kill('SIGKILL');
  process.exit(ok ? 0 : 1);
}
