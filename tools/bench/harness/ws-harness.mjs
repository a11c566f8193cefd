// External load harness: Node `ws` clients against running ws-gateways, in
// the shapes of docs/BENCHMARKS.md ("external harness"). Server CPU is
// utime+stime of the given server PIDs over the run (from /proc), RSS their
// summed VmRSS sampled every 20 ms. Checks exactly-once delivery.
//
//   node ws-harness.mjs --gateways=ws://127.0.0.1:P[,..] --pids=P1,P2 \
//        --shape=fanout-burst|fanout-paced|routed-burst|routed-paced
//
// Shapes: fanout = 1,000 members of one group and one non-member publisher,
// 2,000 messages as fast as they go (burst) or 900 at 30/s (paced);
// routed = 2,000 connections each alone in its own group and 4 other
// connections publishing 20,000 send_to_group messages to random groups, as
// fast as they go or 1,000/s in total. 64-byte text messages.
// php-fanout-burst: the fan-out burst with the publisher a Workerman
// Channel (PHP codec) client on the broker port (--broker_port), publishing
// ['group_id'=>'f','message'=>M] on send_to_group (the broker's bridge).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import WebSocket from 'ws';

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, v] = a.replace(/^--/, '').split('=');
  return [k, v ?? 'true'];
}));
const gateways = args.gateways.split(',');
// Publishers' gateways (--publisher_gateways): by default the members'.
const pubGateways = args.publisher_gateways
  ? args.publisher_gateways.split(',') : gateways;
const pids = args.pids.split(',').map(Number);
const shape = args.shape;
const TICK = 100;  // USER_HZ

function cpuTicksOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);  // utime, stime
}
function cpuTicks() {
  return pids.reduce((sum, pid) => sum + cpuTicksOf(pid), 0);
}
const peakByPid = pids.map(() => 0);
function rssKiB() {
  let total = 0;
  pids.forEach((pid, i) => {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
    const kib = Number(m[1]);
    peakByPid[i] = Math.max(peakByPid[i], kib);
    total += kib;
  });
  return total;
}

// PHP serialize() of a string, and one Channel\Client publish frame of
// ['group_id'=>G,'message'=>M] on `channel`.
function phpString(s) {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from(`s:${b.length}:"`), b, Buffer.from('";')]);
}
function phpPublish(channel, group, msg) {
  const body = Buffer.concat([
    Buffer.from('a:3:{s:4:"type";s:7:"publish";s:8:"channels";a:1:{i:0;'),
    phpString(channel), Buffer.from('}s:4:"data";a:2:{s:8:"group_id";'),
    phpString(group), Buffer.from('s:7:"message";'), phpString(msg),
    Buffer.from('}}')]);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length + 4);
  return Buffer.concat([head, body]);
}
function phpConnect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

function connect(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}
async function connectMany(n, offset = 0, urls = gateways) {
  const out = [];
  for (let i = 0; i < n; i += 200) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 200); ++j) {
      batch.push(connect(urls[(j + offset) % urls.length]));
    }
    out.push(...await Promise.all(batch));
  }
  return out;
}
function request(ws, obj) {
  return new Promise((resolve, reject) => {
    const onMessage = (data) => {
      const text = data.toString();
      if (text.includes(`"id":${obj.id}`)) {
        ws.off('message', onMessage);
        text.includes('"ok":true') ? resolve() : reject(new Error(text));
      }
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify(obj));
  });
}
// A 64-byte message carrying a sequence number and the send time.
function message(seq) {
  const head = `${seq} ${process.hrtime.bigint()} `;
  return head + 'x'.repeat(64 - head.length);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;
}

async function run() {
  const fanout = shape.includes('fanout');
  const paced = shape.endsWith('paced');
  const receivers = fanout ? 1000 : 2000;
  // --messages=N: a longer (or shorter) run of the same shape.
  const total = Number(args.messages) || (fanout ? (paced ? 900 : 2000) : 20000);
  const publishers = fanout ? 1 : 4;
  const rate = fanout ? 30 : 1000;  // paced: messages per second in total

  const members = await connectMany(receivers);
  await Promise.all(members.map((ws, i) => request(ws, {
    cmd: 'add_group', group_id: fanout ? 'f' : `r${i}`, id: 1 })));
  const phpPublisher = shape.startsWith('php-');
  const pubs = phpPublisher ? [await phpConnect(Number(args.broker_port))]
                            : await connectMany(publishers, receivers, pubGateways);

  // Brokers on NATS spread new subscriptions between nodes asynchronously:
  // a cluster run lets them settle before measuring.
  if (args.settle_ms) await sleep(Number(args.settle_ms));
  const expected = fanout ? total * receivers : total;
  let delivered = 0, duplicates = 0;
  const seen = members.map(() => new Set());
  const latencies = [];
  let done;
  const finished = new Promise((r) => { done = r; });
  members.forEach((ws, i) => ws.on('message', (data) => {
    const text = data.toString();
    const space = text.indexOf(' ');
    const seq = Number(text.slice(0, space));
    const sent = BigInt(text.slice(space + 1, text.indexOf(' ', space + 1)));
    if (seen[i].has(seq)) ++duplicates; else seen[i].add(seq);
    if (paced) latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
    if (++delivered === expected) done();
  }));

  let peakRss = rssKiB();
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssKiB()); }, 20);
  const cpu0 = cpuTicks();
  const cpu0ByPid = pids.map(cpuTicksOf);
  const t0 = process.hrtime.bigint();
  const targets = [];
  for (let s = 0; s < total; ++s) {
    targets.push(fanout ? 'f' : `r${Math.floor(Math.random() * receivers)}`);
  }
  if (paced) {
    const interval = 1000 / rate;
    const start = performance.now();
    for (let s = 0; s < total; ++s) {
      const due = start + s * interval;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      pubs[s % publishers].send(JSON.stringify({ cmd: 'send_to_group', group_id: targets[s], message: message(s) }));
    }
  } else if (phpPublisher) {
    let batch = [];
    for (let s = 0; s < total; ++s) {
      batch.push(phpPublish('send_to_group', targets[s], message(s)));
      if (batch.length === 100) { pubs[0].write(Buffer.concat(batch)); batch = []; }
    }
    if (batch.length) pubs[0].write(Buffer.concat(batch));
  } else {
    for (let s = 0; s < total; ++s) {
      pubs[s % publishers].send(JSON.stringify({ cmd: 'send_to_group', group_id: targets[s], message: message(s) }));
    }
  }
  const timeout = setTimeout(() => done('timeout'), 120000);
  const outcome = await finished;
  clearTimeout(timeout);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = (cpuTicks() - cpu0) / TICK;
  const cpuByPid = pids.map((pid, i) => (cpuTicksOf(pid) - cpu0ByPid[i]) / TICK);
  clearInterval(sampler);
  latencies.sort((a, b) => a - b);
  const per = fanout ? 'delivery' : 'routed message';
  const units = fanout ? expected : total;
  console.log(JSON.stringify({
    shape, receivers, messages: total, delivered, expected, duplicates,
    complete: outcome !== 'timeout' && delivered === expected && duplicates === 0,
    seconds: +seconds.toFixed(3), server_cpu_s: cpu, cpu_s_by_pid: cpuByPid,
    [`us_per_${per.replace(' ', '_')}`]: +(cpu * 1e6 / units).toFixed(3),
    peak_rss_mb: +(peakRss / 1024).toFixed(1),
    peak_rss_mb_by_pid: peakByPid.map((k) => +(k / 1024).toFixed(1)),
    ...(paced ? { p50_ms: +percentile(latencies, 0.5).toFixed(2), p99_ms: +percentile(latencies, 0.99).toFixed(2) } : {}),
  }));
  for (const ws of members) ws.terminate();
  for (const p of pubs) phpPublisher ? p.destroy() : p.terminate();
}

run().catch((e) => { console.error(e); process.exit(1); });
