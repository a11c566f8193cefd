// Driven by multihost_test.sh, inside the client namespace. See there.
import { execFileSync } from 'node:child_process';
import {
  startDaemon as start, killAll, waitLog, client as connect, request,
  requestUntilOk, expectOnce,
} from './multihost_lib.mjs';

const [prefix, brokerBin, gatewayBin, gw1SwitchPort] = process.argv.slice(2);
const BROKER = '10.231.0.1';
const GW = { gw1: '10.231.0.2', gw2: '10.231.0.3' };
const TOKEN = `mh-${process.pid}`;

function startDaemon(ns, bin, args) {
  return start(prefix, ns, bin, args, { CHANNEL_AUTH_TOKEN: TOKEN });
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
  return connect(`ws://${GW[gw]}:1234`, gw);
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
  // Until the gateways could re-subscribe, the new broker refuses sends
  // (backpressure); once one is acknowledged every member gets it, and each
  // was told it may have missed messages (gap).
  await requestUntilOk(b1, { cmd: 'send_to_group', group_id: 'mh', message: 'm4 after broker restart' });
  await expectOnce(all, 'm4 after broker restart');
  for (const c of all) {
    if (!c.got.some((m) => m.includes('"code":"gap"'))) throw new Error(`${c.gw}: no gap notice`);
  }
  console.log('ok: broker restart survived; clients kept their groups');
  for (const c of all) c.ws.close();
  ok = true;
} catch (err) {
  console.error(`FAIL: ${err.stack || err}`);
} finally {
  killAll();
  process.exit(ok ? 0 : 1);
}
