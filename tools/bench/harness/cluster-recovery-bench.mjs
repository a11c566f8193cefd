// A broker of a cluster SIGKILLed under 1,000 clients of history groups:
// see tools/bench/cluster-recovery-bench.sh. Starts its own daemons
// (loopback, free ports, JetStream under a temporary directory) and kills
// them on exit.
//   node cluster-recovery-bench.mjs --build=DIR --clients=N --per_group=K --messages=M
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { children, connectMany, cpuTicksOf, freePort, request, start, TICK } from './daemons.mjs';

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, v] = a.replace(/^--/, '').split('=');
  return [k, v];
}));
const build = args.build || 'build';
const clients = Number(args.clients || 1000);
const perGroup = Number(args.per_group || 10);
const messages = Number(args.messages || 40);
const groups = Math.ceil(clients / perGroup);
const store = mkdtempSync(join(tmpdir(), 'channel-js-bench-'));
process.on('exit', () => {  // (daemons.mjs kills the daemons)
  // --logs=DIR keeps every daemon's log there (to see why a run failed).
  if (args.logs) {
    children.forEach((c, i) => writeFileSync(join(args.logs, `${i}-${c.spawnargs[0].split('/').pop()}.log`), c.log || ''));
  }
  rmSync(store, { recursive: true, force: true });
});

// 3 NATS nodes with JetStream, 2 brokers with history for every group.
const cports = [], rports = [];
for (let i = 0; i < 3; ++i) { cports.push(await freePort()); rports.push(await freePort()); }
const nats = await Promise.all([0, 1, 2].map((i) => start('nats-server', [
  '-a', '127.0.0.1', '-p', `${cports[i]}`, '-n', `n${i}`, '-js', '-sd', join(store, `n${i}`),
  '--cluster_name', 'bench', '-cluster', `nats://127.0.0.1:${rports[i]}`,
  '-routes', [0, 1, 2].filter((k) => k !== i).map((k) => `nats://127.0.0.1:${rports[k]}`).join(','),
], 'Server is ready', 60000)));
const bports = [await freePort(), await freePort()];
const brokers = await Promise.all([0, 1].map((i) => start(`${build}/broker/channel-broker`, [
  '--listen=127.0.0.1', `--port=${bports[i]}`, '--admin_port=-1', '--log_level=info',
  `--nats=nats://127.0.0.1:${cports[i]}`, `--history=room-*:size=${messages}`,
], 'following from', 60000)));
const gatewayArgs = (port, list) => ['--listen=127.0.0.1', `--port=${port}`, '--admin_port=-1',
  '--threads=1', `--broker=${list.map((p) => `127.0.0.1:${p}`).join(',')}`,
  '--rate_limit_per_sec=0', '--rate_limit_bytes_per_sec=0',
  '--max_pending_handshakes_per_source=0', '--log_level=info'];
const gport = await freePort(), pport = await freePort();
const gw = await start(`${build}/gateway/ws-gateway`, gatewayArgs(gport, bports), 'broker link up');
await start(`${build}/gateway/ws-gateway`, gatewayArgs(pport, [bports[1]]), 'broker link up');

// The members, on the gateway whose broker will die.
const members = await connectMany(`ws://127.0.0.1:${gport}/?format=json`, clients);
await Promise.all(members.map((ws, i) =>
  request(ws, { cmd: 'add_group', group_id: `room-${i % groups}`, id: 1 })));
const state = members.map(() => ({ last: 0, got: 0, dup: 0, gaps: 0, gapsAll: 0 }));
let complete = 0, resolveAll;
const allDone = new Promise((r) => { resolveAll = r; });
let killedAt = 0, lastDoneAt = 0;
members.forEach((ws, i) => {
  const group = `room-${i % groups}`;
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    const s = state[i];
    if (m.type === 'gap') {
      if ((m.groups || []).includes(group)) ++s.gaps; else ++s.gapsAll;
      return;
    }
    if (m.type !== 'message') return;
    if (m.offset <= s.last) { ++s.dup; return; }
    s.last = m.offset;
    if (++s.got === messages) {
      lastDoneAt = performance.now();
      if (++complete === clients) resolveAll();
    }
  });
  ws.on('error', () => {});
});

// The stream, through the other gateway, acknowledged round by round;
// broker 0 dies half way.
const [sender] = await connectMany(`ws://127.0.0.1:${pport}/`, 1);
sender.setMaxListeners(0);
const cpu0 = cpuTicksOf(brokers[1].pid);
let id = 10;
let linkUpAt = 0;
for (let m = 0; m < messages; ++m) {
  if (m === messages / 2) {
    brokers[0].kill('SIGKILL');
    killedAt = performance.now();
    const before = gw.log.length;
    gw.stderr.on('data', () => {
      if (!linkUpAt && gw.log.slice(before).includes('broker link up')) linkUpAt = performance.now();
    });
  }
  const acks = [];
  for (let g = 0; g < groups; ++g) {
    acks.push(request(sender, { cmd: 'send_to_group', group_id: `room-${g}`, message: `m${m}`, id: ++id }));
  }
  const replies = await Promise.all(acks);
  const failed = replies.filter((r) => !r.ok);
  if (failed.length) { console.error('refused:', JSON.stringify(failed[0])); process.exit(1); }
}
await Promise.race([allDone, new Promise((r) => setTimeout(r, 60000))]);
const cpu = (cpuTicksOf(brokers[1].pid) - cpu0) / TICK;
const sum = (f) => state.reduce((a, s) => a + f(s), 0);
console.log(JSON.stringify({
  clients, groups, messages_per_group: messages, complete,
  lost: sum((s) => messages - s.got), duplicates: sum((s) => s.dup),
  gap_notices_naming_the_group: sum((s) => s.gaps),
  gap_notices_all_only: sum((s) => s.gapsAll),
  gateway_link_up_ms_after_kill: linkUpAt ? +(linkUpAt - killedAt).toFixed(0) : -1,
  all_complete_ms_after_kill: complete === clients ? +(lastDoneAt - killedAt).toFixed(0) : -1,
  surviving_broker_cpu_s: cpu,
}));
process.exit(0);
