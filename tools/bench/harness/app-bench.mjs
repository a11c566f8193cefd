// Application events benchmark (issue 22; docs/BENCHMARKS.md "Application
// events"), Node `ws` clients against a running ws-gateway:
//
//   node app-bench.mjs --gateway=ws://127.0.0.1:P --pids=P1,P2[,..] --shape=S
//
// Shapes:
//   churn      cycles of connect + add_group + close, 50 at a time, for
//              --seconds (default 10): cycles per second, server CPU per
//              cycle (every PID of --pids: broker, gateway, consumer).
//   command    custom commands with an id, paced at --rate (default 1,000/s)
//              over 50 connections for --seconds: round trip through the
//              backend, p50 / p99 / max, and how many were answered ok.
//   webhook    custom commands without an id at --rate for --seconds; the
//              webhook receiver (--receiver_port, started here) counts the
//              events and batches it gets: sent vs received.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const [k, v] = a.replace(/^--/, '').split('=');
  return [k, v ?? 'true'];
}));
const gateway = args.gateway;
const pids = (args.pids || '').split(',').filter(Boolean).map(Number);
const seconds = Number(args.seconds || 10);
const rate = Number(args.rate || 1000);

function cpuSeconds() {
  return pids.reduce((sum, pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return sum + (Number(f[11]) + Number(f[12])) / 100;
  }, 0);
}

function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(gateway);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function churn() {
  const end = Date.now() + seconds * 1000;
  const cpu0 = cpuSeconds();
  const t0 = process.hrtime.bigint();
  let cycles = 0;
  let failures = 0;
  const worker = async (w) => {
    let n = 0;
    while (Date.now() < end) {
      const ws = await open();
      await new Promise((resolve) => {
        ws.on('message', (data) => {
          if (String(data) === `{"id":${n},"ok":true}`) resolve();
          else { ++failures; resolve(); }
        });
        ws.send(JSON.stringify({ cmd: 'add_group', group_id: `g${w}`, id: n }));
      });
      await new Promise((resolve) => { ws.once('close', resolve); ws.close(); });
      ++cycles;
      ++n;
    }
  };
  await Promise.all(Array.from({ length: 50 }, (_, w) => worker(w)));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuSeconds() - cpu0;
  console.log(JSON.stringify({ shape: 'churn', cycles, failures,
    cycles_per_s: Math.round(cycles / wall), server_cpu_us_per_cycle: Math.round(cpu / cycles * 1e6) }));
}

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
}

// Sends at `rate` over `conns` connections; with ids, measures answers.
async function paced(withId) {
  const conns = await Promise.all(Array.from({ length: 50 }, open));
  const sentAt = new Map();
  const rtts = [];
  let answeredOk = 0;
  let errors = 0;
  conns.forEach((ws) => ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    if (m.id === undefined) { ++errors; return; }
    const t = sentAt.get(m.id);
    if (t === undefined) return;
    sentAt.delete(m.id);
    rtts.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (m.ok) ++answeredOk; else ++errors;
  }));
  const total = rate * seconds;
  const cpu0 = cpuSeconds();
  const t0 = Date.now();
  for (let i = 0; i < total; ++i) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const cmd = { cmd: 'ping', n: i, ...(withId ? { id: i } : {}) };
    if (withId) sentAt.set(i, process.hrtime.bigint());
    conns[i % conns.length].send(JSON.stringify(cmd));
  }
  const deadline = Date.now() + 5000;
  while (withId && sentAt.size > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));  // draining the answers
  }
  const cpu = cpuSeconds() - cpu0;
  conns.forEach((ws) => ws.close());
  rtts.sort((a, b) => a - b);
  return { total, rtts, answeredOk, errors, unanswered: sentAt.size, cpu };
}

async function command() {
  const r = await paced(true);
  console.log(JSON.stringify({ shape: 'command', rate, sent: r.total, ok: r.answeredOk,
    errors: r.errors, unanswered: r.unanswered,
    p50_ms: +percentile(r.rtts, 0.5).toFixed(3), p99_ms: +percentile(r.rtts, 0.99).toFixed(3),
    max_ms: +r.rtts[r.rtts.length - 1].toFixed(3),
    server_cpu_us_per_command: Math.round(r.cpu / r.total * 1e6) }));
}

async function webhook() {
  let events = 0;
  let pings = 0;
  const batches = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const parsed = JSON.parse(body).events;
      batches.push(parsed.length);
      events += parsed.length;
      pings += parsed.filter((e) => e.type === 'message').length;
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(Number(args.receiver_port), '127.0.0.1', r));
  const r = await paced(false);
  const deadline = Date.now() + 10000;
  while (pings < r.total && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 50));  // the last batches
  }
  server.close();
  batches.sort((a, b) => a - b);
  console.log(JSON.stringify({ shape: 'webhook', rate, sent: r.total, received: pings,
    lost: r.total - pings, events, batches: batches.length,
    median_batch: percentile(batches, 0.5), max_batch: batches[batches.length - 1] }));
}

await { churn, command, webhook }[args.shape]();
process.exit(0);
