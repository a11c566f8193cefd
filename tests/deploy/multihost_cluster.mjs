// Driven by multihost_cluster_test.sh, inside the client namespace. See
// there.
import { execFileSync } from 'node:child_process';
import {
  startDaemon, killAll, waitLog, client, waitFor, request, expectOnce,
} from './multihost_lib.mjs';

const [prefix, brokerBin, gatewayBin, natsBin, b1Back, b2Back] = process.argv.slice(2);
const NATS = ['10.233.0.1', '10.233.0.2', '10.233.0.3'];
const B = { b1: '10.232.0.4', b2: '10.232.0.5' };
const GW = { gw1: '10.232.0.6', gw2: '10.232.0.7' };

function startNats(i) {
  const routes = NATS.filter((_, k) => k !== i).map((h) => `nats://${h}:6222`).join(',');
  return startDaemon(prefix, `nats${i + 1}`, natsBin, ['-a', NATS[i], '-p', '4222',
    '--cluster_name', 'mh', '-cluster', `nats://${NATS[i]}:6222`, '-routes', routes]);
}
function startBroker(name, natsNodes) {
  return startDaemon(prefix, name, brokerBin, [`--listen=${B[name]}`, '--port=2206',
    `--admin_listen=${B[name]}`, '--admin_port=2207', '--heartbeat_interval_ms=500',
    '--idle_timeout_ms=2000', '--nats_ping_interval_ms=300',
    `--nats=${natsNodes.map((i) => `nats://${NATS[i]}:4222`).join(',')}`]);
}
function startGateway(name, brokers) {
  return startDaemon(prefix, name, gatewayBin, [`--listen=${GW[name]}`, '--port=1234',
    `--admin_listen=${GW[name]}`, '--admin_port=9234',
    `--broker=${brokers.map((b) => `${B[b]}:2206`).join(',')}`,
    '--threads=1', '--broker_backoff_max_ms=500']);
}
function cut(port, state) {
  execFileSync('ip', ['-n', `${prefix}-sw`, 'link', 'set', port, state]);
}
async function readyz(name) {
  const r = await fetch(`http://${B[name]}:2207/readyz`);
  return r.status;
}
// Polls a broker's /readyz until it answers `status` (bounded).
async function waitReady(name, status) {
  const deadline = Date.now() + 15000;
  let last;
  while (Date.now() < deadline) {
    last = await readyz(name);
    if (last === status) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} /readyz stayed ${last}, want ${status}`);
}

// NATS spreads a new subscription between nodes asynchronously: send
// probes from `from` until every client has one (bounded), so that the
// exact checks after it test delivery, not propagation.
let probe = 0;
async function settle(from, clients) {
  const deadline = Date.now() + 20000;
  const start = probe;
  for (;;) {
    const text = `probe ${++probe}`;
    await request(from, { cmd: 'send_to_group', group_id: 'mh', message: text });
    const sent = new Set(Array.from({ length: probe - start }, (_, k) => `probe ${start + k + 1}`));
    try {
      for (const c of clients) await waitFor(c, (g) => g.some((m) => sent.has(m)), 'a probe', 300);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

let ok = false;
try {
  const nats = [0, 1, 2].map(startNats);
  for (const n of nats) await waitLog(n, 'Route connection created', 2);
  const b1 = startBroker('b1', [0, 2]);
  const b2 = startBroker('b2', [1, 2]);
  await waitLog(b1, 'NATS connected');
  await waitLog(b2, 'NATS connected');
  const gw1 = startGateway('gw1', ['b1', 'b2']);
  const gw2 = startGateway('gw2', ['b2', 'b1']);
  await waitLog(gw1, 'broker link up');
  await waitLog(gw2, 'broker link up');

  const a1 = await client(`ws://${GW.gw1}:1234`, 'gw1');
  const c1 = await client(`ws://${GW.gw1}:1234`, 'gw1');
  const a2 = await client(`ws://${GW.gw2}:1234`, 'gw2');
  const c2 = await client(`ws://${GW.gw2}:1234`, 'gw2');
  const all = [a1, c1, a2, c2];
  for (const c of all) {
    const r = await request(c, { cmd: 'add_group', group_id: 'mh' });
    if (!r.includes('"ok":true')) throw new Error(`join failed: ${r}`);
  }
  await settle(a1, all);
  await settle(a2, all);
  await request(a1, { cmd: 'send_to_group', group_id: 'mh', message: 'm1 b1 to b2' });
  await request(a2, { cmd: 'send_to_group', group_id: 'mh', message: 'm2 b2 to b1' });
  await expectOnce(all, 'm1 b1 to b2');
  await expectOnce(all, 'm2 b2 to b1');
  console.log('ok: messages cross brokers on different hosts, exactly once');

  // b1 loses NATS (its back link), not its clients: it must stop being
  // ready and send gw1 away; gw1 moves to b2.
  cut(b1Back, 'down');
  await waitLog(b1, 'NATS lost');
  await waitReady('b1', 503);
  await waitLog(gw1, `connected to broker ${B.b2}:2206`);
  await waitLog(gw1, 'broker link up', 2);
  await request(a1, { cmd: 'send_to_group', group_id: 'mh', message: 'm3 while b1 is cut' });
  await request(c2, { cmd: 'send_to_group', group_id: 'mh', message: 'm4 while b1 is cut' });
  await expectOnce(all, 'm3 while b1 is cut');
  await expectOnce(all, 'm4 while b1 is cut');
  console.log('ok: b1 cut from NATS is unready; gw1 moved to b2 and delivery goes on');

  // Link back: b1 rejoins. Then b2 loses NATS: both gateways go to b1.
  cut(b1Back, 'up');
  await waitLog(b1, 'NATS connected', 2);
  await waitReady('b1', 200);
  cut(b2Back, 'down');
  await waitLog(b2, 'NATS lost');
  await waitLog(gw1, `connected to broker ${B.b1}:2206`, 2);
  await waitLog(gw2, `connected to broker ${B.b1}:2206`);
  await waitLog(gw1, 'broker link up', 3);
  await waitLog(gw2, 'broker link up', 2);
  await request(c1, { cmd: 'send_to_group', group_id: 'mh', message: 'm5 on b1 again' });
  await request(a2, { cmd: 'send_to_group', group_id: 'mh', message: 'm6 on b1 again' });
  await expectOnce(all, 'm5 on b1 again');
  await expectOnce(all, 'm6 on b1 again');
  console.log('ok: b1 recovered; b2 cut: both gateways moved to b1, delivery goes on');
  for (const c of all) c.ws.close();
  ok = true;
} catch (err) {
  console.error(`FAIL: ${err.stack || err}`);
} finally {
  killAll();
  process.exit(ok ? 0 : 1);
}
