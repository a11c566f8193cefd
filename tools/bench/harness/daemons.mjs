// What the recovery benchmarks share: daemons started on loopback (killed
// when the process exits), free ports, CPU of a PID, WebSocket clients.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import WebSocket from 'ws';

export const TICK = 100;  // USER_HZ
// Every daemon started here, in order (each keeps its stderr in .log).
export const children = [];
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
// Starts a daemon; resolves once `ready` appears on its stderr.
export function start(bin, argv, ready, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    child.log = '';
    const timer = setTimeout(() => reject(new Error(`${bin}: no "${ready}"\n${child.log}`)), timeoutMs);
    child.stderr.on('data', (d) => {
      child.log += d;
      if (child.log.includes(ready)) { clearTimeout(timer); resolve(child); }
    });
  });
}
export function cpuTicksOf(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}
function connect(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}
export async function connectMany(url, n) {
  const out = [];
  for (let i = 0; i < n; i += 100) {
    const batch = [];
    for (let k = i; k < Math.min(n, i + 100); ++k) batch.push(connect(url));
    out.push(...await Promise.all(batch));
  }
  return out;
}
// Sends `obj` (with an id) and resolves with the reply carrying that id.
export function request(ws, obj) {
  return new Promise((resolve) => {
    const onMessage = (data) => {
      const m = JSON.parse(data.toString());
      if (m.id === obj.id) { ws.off('message', onMessage); resolve(m); }
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify(obj));
  });
}
