// Starting the daemons from the Node tests: spawn, capture stderr, resolve
// once the daemon logged `ready` and its "] listening on HOST:PORT" line.
import { spawn } from 'node:child_process';

export const children = [];

export function startDaemon(bin, args, ready = 'listening on') {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let log = '';
    const timer = setTimeout(
        () => reject(new Error(`${bin} did not start:\n${log}`)), 10000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = log.match(/\] listening on [0-9.]+:([0-9]+)/);
      if (m && log.includes(ready)) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child });
      }
    });
    child.on('exit', (code) => reject(new Error(`${bin} exited ${code}:\n${log}`)));
  });
}

export function killAll() {
  for (const child of children) child.kill('SIGKILL');
}
