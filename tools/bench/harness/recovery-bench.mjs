// Recovery after a gateway restart: see tools/bench/recovery-bench.sh.
// Starts its own daemons (loopback, free ports) and kills them on exit.
//   node recovery-bench.mjs --build=DIR --clients=N --missed=M
import { connectMany, cpuTicksOf, freePort, request, start, TICK } from './daemons.mjs';

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, v] = a.replace(/^--/, '').split('=');
  return [k, v];
}));
const build = args.build || 'build';
const clients = Number(args.clients || 1000);
const missed = Number(args.missed || 100);
const bport = await freePort(), gport = await freePort(), pport = await freePort();
const broker = await start(`${build}/broker/channel-broker`, [
  '--listen=127.0.0.1', `--port=${bport}`, '--admin_port=-1', '--log_level=info',
  `--history=b-*:size=${Math.max(missed, 1)}`], 'listening on');
await new Promise((r) => setTimeout(r, 0));
const gatewayArgs = (port) => ['--listen=127.0.0.1', `--port=${port}`, '--admin_port=-1',
  '--threads=1', `--broker=127.0.0.1:${bport}`, '--rate_limit_per_sec=0',
  '--rate_limit_bytes_per_sec=0', '--max_pending_handshakes_per_source=0'];
let gw = await start(`${build}/gateway/ws-gateway`, gatewayArgs(gport), 'broker link up');
const pub = await start(`${build}/gateway/ws-gateway`, gatewayArgs(pport), 'broker link up');

// Each client in its own group; its position from the join's reply.
let members = await connectMany(`ws://127.0.0.1:${gport}/?format=json`, clients);
const positions = await Promise.all(members.map((ws, i) =>
  request(ws, { cmd: 'add_group', group_id: `b-${i}`, id: 1 })));
for (const ws of members) ws.on('error', () => {});
gw.kill('SIGKILL');
await new Promise((r) => gw.once('exit', r));
// What they miss, sent through the other gateway (acknowledged).
const [sender] = await connectMany(`ws://127.0.0.1:${pport}/`, 1);
sender.setMaxListeners(0);  // one listener per request in flight
let id = 10;
for (let m = 0; m < missed; ++m) {
  const acks = [];
  for (let i = 0; i < clients; ++i) {
    acks.push(request(sender, { cmd: 'send_to_group', group_id: `b-${i}`, message: `m${m}`, id: ++id }));
  }
  await Promise.all(acks);
}
const brokerCpu0 = cpuTicksOf(broker.pid);
const t0 = performance.now();
gw = await start(`${build}/gateway/ws-gateway`, gatewayArgs(gport), 'broker link up');
const up = performance.now();
// Every client reconnects and resumes, as clients/js does.
let complete = 0, duplicates = 0, notRecovered = 0;
const doneAt = [];
members = await connectMany(`ws://127.0.0.1:${gport}/?format=json`, clients);
await new Promise((resolve) => {
  members.forEach((ws, i) => {
    let got = 0, last = positions[i].offset;
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.id === 2 && !m.recovered) ++notRecovered;
      if (m.type !== 'message') return;
      if (m.offset <= last) { ++duplicates; return; }
      last = m.offset;
      if (++got === missed) {
        doneAt.push(performance.now() - up);
        if (++complete === clients) resolve();
      }
    });
    ws.send(JSON.stringify({ cmd: 'add_group', group_id: `b-${i}`, id: 2,
      since: { offset: positions[i].offset, epoch: positions[i].epoch } }));
  });
  setTimeout(resolve, 60000);
});
doneAt.sort((a, b) => a - b);
const brokerCpu = (cpuTicksOf(broker.pid) - brokerCpu0) / TICK;
console.log(JSON.stringify({
  clients, missed, complete, duplicates, not_recovered: notRecovered,
  gateway_start_ms: +(up - t0).toFixed(0),
  all_recovered_ms_after_gateway_up: +(doneAt[doneAt.length - 1] || -1).toFixed(0),
  p50_ms: +(doneAt[Math.floor(doneAt.length / 2)] || -1).toFixed(0),
  broker_cpu_s: brokerCpu,
  broker_cpu_us_per_recovered_message: +(brokerCpu * 1e6 / (clients * missed)).toFixed(2),
}));
process.exit(0);
