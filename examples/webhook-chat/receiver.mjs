// The seed chat's logic as a webhook receiver (README.md in this folder):
// the broker POSTs every application event here in signed batches; the
// receiver checks the signature, then acts through the broker's HTTP API.
// Plain Node (no packages).
//
//   node receiver.mjs PORT BROKER_API_URL SECRET [API_KEY]
//
// PORT 0 takes any free port (printed); BROKER_API_URL "-" is read from the
// first line of standard input (for tests that start the broker after).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [port, apiArg, secret, apiKey = ''] = process.argv.slice(2);
// The broker's API URL, once known.
const apiUrl = apiArg !== '-' ? Promise.resolve(apiArg) : new Promise((resolve) => {
  let text = '';
  process.stdin.on('data', (chunk) => {
    text += chunk;
    if (text.includes('\n')) resolve(text.split('\n')[0].trim());
  });
});
const chatLog = process.env.CHAT_LOG || join(tmpdir(), 'channel-webhook-chat.log');

// X-Channel-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
// Refuses signatures more than 5 minutes away (replays of old requests).
function verified(header, body) {
  const parts = Object.fromEntries((header || '').split(',').map((p) => p.split('=')));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > 300) return false;
  const want = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  const got = String(parts.v1 || '');
  return got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want));
}

// POST /api/clients/{client}/{action} on the broker.
async function act(client, action, body) {
  const api = await apiUrl;
  const res = await fetch(`${api}/api/clients/${encodeURIComponent(client)}/${action}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json',
               ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) console.error(`${action} ${client}: ${res.status} ${await res.text()}`);
}

async function publish(group, message) {
  const api = await apiUrl;
  await fetch(`${api}/api/publish`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json',
               ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}) },
    body: JSON.stringify({ group_id: group, message }),
  });
}

async function handle(event) {
  if (event.type !== 'message') {
    console.log(`${event.type} ${event.client || event.group}`);
    return;
  }
  const command = event.command;
  const room = String(command.room || '');
  const reply = (answer) => event.request &&
      act(event.client, 'reply', { request: event.request, ...answer });
  console.log(`message ${event.client} ${command.cmd} ${room}`);
  if (!/^[a-z0-9-]{1,32}$/.test(room)) {
    await reply({ error: 'bad_room', message: 'rooms are a-z, 0-9 and -' });
  } else if (command.cmd === 'join') {
    await act(event.client, 'join', { group_id: room });
    await reply({ data: { room } });
  } else if (command.cmd === 'chat') {
    const line = JSON.stringify({ from: event.client, text: String(command.text || '') });
    appendFileSync(chatLog, `${room} ${line}\n`);  // stored first
    await publish(room, line);
    await reply({ data: { stored: true } });
  } else {
    await reply({ error: 'unknown', message: 'join or chat' });
  }
}

const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', async () => {
    if (!verified(req.headers['x-channel-signature'], body)) {
      res.writeHead(401).end();
      return;
    }
    // Answered once handled: a failure (non-2xx) makes the broker retry.
    try {
      for (const event of JSON.parse(body).events) await handle(event);
      res.writeHead(204).end();
    } catch (err) {
      console.error(`batch failed: ${err}`);
      res.writeHead(500).end();
    }
  });
});
server.listen(Number(port), '127.0.0.1',
              () => console.error(`receiver ready on port ${server.address().port}`));
