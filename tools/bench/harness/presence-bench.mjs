// Presence members benchmark: MEMBERS token users on the gateways (in
// turn) join room-1 at once, then each leaves and re-joins at once. Every
// member's view (its last join reply, then the member events after it)
// must end exact: the broker's list. Prints one JSON line per phase:
// membership events, member events delivered, CPU of the watched PIDs.
//   node presence-bench.mjs --gateways=ws://..,ws://.. --pids=1,2,3
//        --secret=S --members=100
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, v] = a.replace(/^--/, '').split('=');
  return [k, v ?? 'true'];
}));
const gateways = args.gateways.split(',');
const pids = args.pids.split(',').map(Number);
const members = Number(args.members || 100);

function cpuOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
const cpuSeconds = () => pids.reduce((sum, pid) => sum + cpuOf(pid), 0);

function token(sub) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({
    sub, groups: ['*'], info: { name: `Member ${sub}` },
    exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${body}.${createHmac('sha256', args.secret).update(body).digest('base64url')}`;
}

const clients = await Promise.all(Array.from({ length: members }, (_, i) => new Promise((resolve, reject) => {
  const user = `m${i}`;
  const ws = new WebSocket(`${gateways[i % gateways.length]}/?format=json&token=${token(user)}`);
  const c = { ws, user, view: new Set(), events: 0, waiting: new Map() };
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (m.type === 'member_added') { c.view.add(m.user); ++c.events; return; }
    if (m.type === 'member_removed') { c.view.delete(m.user); ++c.events; return; }
    if (m.id !== undefined && c.waiting.has(m.id)) {
      if (m.members) c.view = new Set(m.members.map((x) => x.user));
      c.waiting.get(m.id)(m);
      c.waiting.delete(m.id);
    }
  });
  ws.once('open', () => resolve(c));
  ws.once('error', reject);
})));

let nextId = 1;
function request(c, cmd) {
  const id = nextId++;
  return new Promise((resolve) => {
    c.waiting.set(id, resolve);
    c.ws.send(JSON.stringify({ ...cmd, id }));
  });
}

// Until every view holds `want` (the marker's arrival reaches everyone
// after every earlier change), at most 30 s.
async function settle(want) {
  const deadline = Date.now() + 30000;
  while (clients.some((c) => c.view.size !== want.size || [...want].some((u) => !c.view.has(u)))) {
    if (Date.now() > deadline) throw new Error('views did not settle on the broker\'s list');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function phase(name, run, membershipEvents) {
  const events0 = clients.reduce((s, c) => s + c.events, 0);
  const cpu0 = cpuSeconds();
  const each0 = pids.map(cpuOf);
  const t0 = process.hrtime.bigint();
  await run();
  const want = new Set(clients.map((c) => c.user));
  await settle(want);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = cpuSeconds() - cpu0;
  const delivered = clients.reduce((s, c) => s + c.events, 0) - events0;
  console.log(JSON.stringify({
    phase: name, members, membership_events: membershipEvents, member_events_delivered: delivered,
    wall_ms: Math.round(ms), cpu_s: Number(cpu.toFixed(3)),
    cpu_us_per_membership_event: Math.round((cpu * 1e6) / membershipEvents),
    cpu_us_per_event_delivered: Number(((cpu * 1e6) / Math.max(1, delivered)).toFixed(2)),
    cpu_s_broker_gateways: pids.map((pid, i) => Number((cpuOf(pid) - each0[i]).toFixed(2))),
    views_exact: true,
  }));
}
await phase('join-at-once', async () => {
  const replies = await Promise.all(clients.map((c) => request(c, { cmd: 'add_group', group_id: 'room-1' })));
  if (replies.some((r) => !r.ok)) throw new Error(`a join failed: ${JSON.stringify(replies.find((r) => !r.ok))}`);
}, members);
await phase('leave-and-rejoin-once', async () => {
  const replies = await Promise.all(clients.map((c) => {
    c.ws.send(JSON.stringify({ cmd: 'leave_group', group_id: 'room-1' }));
    return request(c, { cmd: 'add_group', group_id: 'room-1' });
  }));
  if (replies.some((r) => !r.ok)) throw new Error('a re-join failed');
}, 2 * members);
for (const c of clients) c.ws.close();
