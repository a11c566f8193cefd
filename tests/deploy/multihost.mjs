// Driven by multihost_test.sh, inside the client namespace. See there.
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import {
  startDaemon as start, killAll, waitLog, client as connect, request,
  requestUntilOk, expectOnce, waitFor,
} from './multihost_lib.mjs';

const [prefix, brokerBin, gatewayBin, gw1SwitchPort] = process.argv.slice(2);
const BROKER = '10.231.0.1';
const GW = { gw1: '10.231.0.2', gw2: '10.231.0.3' };
const TOKEN = `mh-${process.pid}`;
// Clients authenticate with HS256 tokens (presence members are token users).
const SECRET = `mh-secret-${process.pid}-0123456789abcdef0123456789`;
const IDLE_TIMEOUT_MS = 2000;  // the broker's: how soon a vanished gateway is dropped

function startDaemon(ns, bin, args, env = {}) {
  return start(prefix, ns, bin, args, { CHANNEL_AUTH_TOKEN: TOKEN, ...env });
}

function token(sub, info) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = part({ alg: 'HS256', typ: 'JWT' });
  const body = part({ sub, groups: ['*'], exp: Math.floor(Date.now() / 1000) + 3600,
    ...(info ? { info } : {}) });
  const sig = createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

function startBroker() {
  return startDaemon('broker', brokerBin, [`--listen=${BROKER}`, '--port=2206',
    `--admin_listen=${BROKER}`, '--admin_port=2207', '--heartbeat_interval_ms=500',
    `--idle_timeout_ms=${IDLE_TIMEOUT_MS}`, '--presence=who-*']);
}
function startGateway(name) {
  return startDaemon(name, gatewayBin, [`--listen=${GW[name]}`, '--port=1234',
    `--admin_listen=${GW[name]}`, '--admin_port=9234', `--broker=${BROKER}:2206`,
    '--threads=1', '--broker_backoff_max_ms=500'],
    { CHANNEL_TOKEN_HMAC_SECRET: SECRET });
}
// Takes gw1's switch port down or up.
function link(state) {
  execFileSync('ip', ['-n', `${prefix}-sw`, 'link', 'set', gw1SwitchPort, state]);
}

let users = 0;
function client(gw) {
  return connect(`ws://${GW[gw]}:1234/?token=${token(`u${++users}`)}`, gw);
}
// A presence member with the JSON framing (it receives member events).
function member(gw, user) {
  return connect(`ws://${GW[gw]}:1234/?format=json&token=${token(user, { name: user })}`, gw);
}
// The member events of `c` about `user` in group who-1, in order.
function memberEvents(c, user) {
  return c.got.map((m) => JSON.parse(m))
    .filter((m) => m.group === 'who-1' && m.user === user &&
      (m.type === 'member_added' || m.type === 'member_removed'))
    .map((m) => m.type);
}
function waitEvents(c, user, n) {
  return waitFor(c, () => memberEvents(c, user).length >= n, `${n} member event(s) about ${user}`);
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

  // Presence across hosts: ann on gw1, bob on gw2, in the presence group
  // who-1; each join reply lists who is there.
  const ann = await member('gw1', 'ann');
  const bob = await member('gw2', 'bob');
  const ra = await request(ann, { cmd: 'add_group', group_id: 'who-1' });
  if (!ra.includes('"user":"ann"')) throw new Error(`ann's join: ${ra}`);
  const rb = await request(bob, { cmd: 'add_group', group_id: 'who-1' });
  if (!rb.includes('"user":"ann"') || !rb.includes('"user":"bob"')) {
    throw new Error(`bob's join does not list both: ${rb}`);
  }
  await waitEvents(ann, 'bob', 1);
  console.log('ok: presence lists and events cross hosts');

  // Cut gw1 off the network: gw2's clients keep being served. gw1's host
  // vanished for the broker (no FIN): its members are removed within the
  // broker's --idle_timeout_ms (docs/CLIENT-PROTOCOL.md "Presence members").
  const cutAt = Date.now();
  link('down');
  await waitEvents(bob, 'ann', 1);
  const removedAfter = Date.now() - cutAt;
  if (memberEvents(bob, 'ann')[0] !== 'member_removed') {
    throw new Error(`bob was told ${memberEvents(bob, 'ann')}`);
  }
  console.log(`ok: the vanished host's member was removed after ${removedAfter} ms ` +
    `(broker --idle_timeout_ms=${IDLE_TIMEOUT_MS})`);
  // The bound stated, with room for a loaded machine (its timers run late).
  if (removedAfter > IDLE_TIMEOUT_MS + 5000) {
    throw new Error(`removed after ${removedAfter} ms: over the idle timeout's bound`);
  }
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
  // gw1 reported ann again: bob is told she is back, once; ann never lost
  // bob (or got him back whole).
  await waitEvents(bob, 'ann', 2);
  const told = memberEvents(bob, 'ann').join(',');
  if (told !== 'member_removed,member_added') throw new Error(`bob was told ${told}`);
  const annOfBob = memberEvents(ann, 'bob');
  if (annOfBob[0] !== 'member_added' || annOfBob.length % 2 !== 1) {
    throw new Error(`ann's view of bob: ${annOfBob}`);
  }
  console.log('ok: the member is back once its host is');

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
  for (const c of [...all, ann, bob]) c.ws.close();
  ok = true;
} catch (err) {
  console.error(`FAIL: ${err.stack || err}`);
} finally {
  killAll();
  process.exit(ok ? 0 : 1);
}
