// End-to-end group check against running gateways (compose, Kubernetes,
// network namespaces): a member on each of two gateways joins group 123,
// one sends "Esta é a mensagem", both receive it exactly once, byte for byte.
// Across brokers on NATS a new subscription reaches the other NATS nodes a
// moment after its join is acknowledged, so probes go first until one
// crosses (bounded); the exact check is on the message after them.
//
//   node --experimental-websocket cross_gateway.mjs ws://HOST:1234 ws://HOST:1235
//
// Exits 0 on success, 1 with the reason otherwise.
const [urlA, urlB] = process.argv.slice(2);
if (!urlA || !urlB) {
  console.error('usage: cross_gateway.mjs WS_URL_A WS_URL_B');
  process.exit(2);
}
const MESSAGE = 'Esta é a mensagem';
const GROUP = `123-${process.pid}`;

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const got = [];
    const waiters = [];
    ws.onmessage = (e) => {
      got.push(e.data);
      for (const w of waiters.splice(0)) w();
    };
    ws.onopen = () => resolve({ ws, got, waiters });
    ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
  });
}

function waitFor(client, pred, what, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout waiting for ${what}; got ${JSON.stringify(client.got)}`)), ms);
    const check = () => {
      if (pred(client.got)) { clearTimeout(timer); resolve(); }
      else client.waiters.push(check);
    };
    check();
  });
}

try {
  const a = await open(urlA);
  const b = await open(urlB);
  a.ws.send(JSON.stringify({ cmd: 'add_group', group_id: GROUP, id: 1 }));
  b.ws.send(JSON.stringify({ cmd: 'add_group', group_id: GROUP, id: 2 }));
  await waitFor(a, (g) => g.includes('{"id":1,"ok":true}'), 'join on A');
  await waitFor(b, (g) => g.includes('{"id":2,"ok":true}'), 'join on B');
  const deadline = Date.now() + 20000;
  for (let n = 1; ; ++n) {
    a.ws.send(JSON.stringify({ cmd: 'send_to_group', group_id: GROUP, message: `probe ${n}` }));
    try {
      await waitFor(b, (g) => g.some((m) => m.startsWith('probe ')), 'a probe on B', 300);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
  a.ws.send(JSON.stringify({ cmd: 'send_to_group', group_id: GROUP, message: MESSAGE, id: 3 }));
  await waitFor(b, (g) => g.includes(MESSAGE), 'message on B');
  await waitFor(a, (g) => g.includes(MESSAGE) && g.includes('{"id":3,"ok":true}'), 'message and ack on A');
  // A last acknowledged round trip flushes any duplicate.
  b.ws.send(JSON.stringify({ cmd: 'leave_group', group_id: GROUP, id: 4 }));
  await waitFor(b, (g) => g.includes('{"id":4,"ok":true}'), 'leave on B');
  const countA = a.got.filter((m) => m === MESSAGE).length;
  const countB = b.got.filter((m) => m === MESSAGE).length;
  if (countA !== 1 || countB !== 1) throw new Error(`delivered ${countA}/${countB} times`);
  console.log(`ok: "${MESSAGE}" crossed ${urlA} -> ${urlB}, once each`);
  a.ws.close(); b.ws.close();
  process.exit(0);
} catch (err) {
  console.error(`FAIL: ${err.message}`);
  process.exit(1);
}
