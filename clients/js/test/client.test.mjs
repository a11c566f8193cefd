// The client's pure parts with a fake WebSocket and a fake clock (Node's
// test runner): backoff, the connect / re-join / connected state machine,
// acknowledgements and error codes, offline commands, token refresh.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, ChannelError, connect, tokenExpiry } from '../channel-client.js';

// A clock that runs timers only when told.
class FakeClock {
  constructor() { this.t = 0; this.timers = []; this.seq = 0; }
  setTimeout = (f, ms) => { const id = ++this.seq; this.timers.push({ id, at: this.t + ms, f }); return id; };
  clearTimeout = (id) => { this.timers = this.timers.filter((x) => x.id !== id); };
  now = () => this.t;
  // Advances time, running due timers in order.
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.f();
    }
    this.t = end;
  }
  get pending() { return this.timers.length; }
}

// A fake gateway socket: records what the client sends; the test answers.
const sockets = [];
class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    sockets.push(this);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close(code = 1000) { this.closeWith(code, ''); }
  // Test side:
  open() { this.readyState = 1; this.onopen(); }
  reply(obj) { this.onmessage({ data: JSON.stringify(obj) }); }
  ack(i = this.sent.length - 1) { this.reply({ id: this.sent[i].id, ok: true }); }
  closeWith(code, reason) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose({ code, reason });
  }
}

const tick = () => new Promise((r) => setImmediate(r));
function make(options = {}) {
  sockets.length = 0;
  const clock = new FakeClock();
  const client = connect('ws://gw', { WebSocket: FakeSocket, timers: clock,
                                      random: () => 1, ...options });
  return { client, clock };
}

test('backoff: full jitter under an exponential ceiling, reset', () => {
  const b = new Backoff(100, 1000, () => 0.999);
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()],
                   [99, 199, 399, 799, 999]);
  b.reset();
  assert.equal(b.next(), 99);
  assert.equal(new Backoff(100, 1000, () => 0).next(), 0);
});

test('tokenExpiry reads exp, tolerates garbage', () => {
  const payload = Buffer.from(JSON.stringify({ sub: 'a', exp: 1234 })).toString('base64url');
  assert.equal(tokenExpiry(`h.${payload}.s`), 1234);
  assert.equal(tokenExpiry('nonsense'), undefined);
});

test('connects with the JSON framing, acks resolve, errors reject with the code', async () => {
  const { client } = make();
  const states = [];
  client.on('state', (s) => states.push(s));
  await tick();
  assert.equal(sockets[0].url, 'ws://gw?format=json');
  sockets[0].open();
  await tick();
  assert.deepEqual(states, ['connected']);
  const join = client.join('room');
  sockets[0].ack();
  await join;
  const bad = client.send('x'.repeat(200), 'hi');
  sockets[0].reply({ id: sockets[0].sent[1].id,
                     error: { code: 'group_id_too_long', message: 'too long' } });
  await assert.rejects(bad, (e) => e instanceof ChannelError && e.code === 'group_id_too_long');
  const got = [];
  client.onGroup('room', (m) => got.push(m.message));
  sockets[0].reply({ type: 'message', group: 'room', message: 'hello' });
  assert.deepEqual(got, ['hello']);
});

test('reconnects with backoff and re-joins every group before "connected"', async () => {
  const { client, clock } = make({ backoffInitialMs: 100, backoffMaxMs: 1000 });
  const states = [];
  client.on('state', (s, info) => states.push([s, info.code]));
  await tick();
  sockets[0].open();
  await tick();
  const j1 = client.join('a'); sockets[0].ack(); await j1;
  const j2 = client.join('b'); sockets[0].ack(); await j2;
  const inflight = client.send('a', 'lost?');
  sockets[0].closeWith(1006, '');
  await assert.rejects(inflight, (e) => e.code === 'disconnected');
  assert.deepEqual(states.at(-1), ['disconnected', 1006]);
  // Refused at once while disconnected (the default).
  await assert.rejects(client.send('a', 'x'), (e) => e.code === 'disconnected');
  clock.advance(99);
  await tick();
  assert.equal(sockets.length, 1, 'waits for the backoff delay');
  clock.advance(1);
  await tick();
  assert.equal(sockets.length, 2);
  sockets[1].open();
  await tick();
  assert.deepEqual(sockets[1].sent.map((m) => [m.cmd, m.group_id]),
                   [['add_group', 'a'], ['add_group', 'b']]);
  assert.equal(client.state, 'connecting', 'not connected before the re-joins are acked');
  sockets[1].ack(0);
  sockets[1].ack(1);
  await tick();
  assert.equal(client.state, 'connected');
  // A second failure waits twice as long (the backoff was reset on connect).
  sockets[1].closeWith(1001, 'going away');
  clock.advance(100);
  await tick();
  assert.equal(sockets.length, 3);
});

test('a re-join refused with broker_unavailable keeps the group and retries', async () => {
  const { client, clock } = make({ backoffInitialMs: 100, backoffMaxMs: 1000 });
  await tick();
  sockets[0].open();
  await tick();
  const j = client.join('a'); sockets[0].ack(); await j;
  sockets[0].closeWith(1006, '');
  clock.advance(100);
  await tick();
  sockets[1].open();
  await tick();
  // The restarted gateway has no broker link yet.
  sockets[1].reply({ id: sockets[1].sent[0].id,
                     error: { code: 'broker_unavailable', message: 'retry later' } });
  await tick();
  assert.equal(sockets[1].readyState, 3, 'the client closes and retries');
  assert.notEqual(client.state, 'connected');
  clock.advance(1000);
  await tick();
  assert.equal(sockets.length, 3);
  sockets[2].open();
  await tick();
  assert.deepEqual(sockets[2].sent.map((m) => [m.cmd, m.group_id]), [['add_group', 'a']]);
  sockets[2].ack(0);
  await tick();
  assert.equal(client.state, 'connected');
  const got = [];
  client.onGroup('a', (m) => got.push(m.message));
  sockets[2].reply({ type: 'message', group: 'a', message: 'still here' });
  assert.deepEqual(got, ['still here']);
});

test('offline queue: bounded, flushed after the reconnect', async () => {
  const { client, clock } = make({ offline: 'queue', maxQueue: 2, backoffInitialMs: 10 });
  await tick();
  sockets[0].open();
  await tick();
  sockets[0].closeWith(1006, '');
  const q1 = client.send('g', 'one');
  const q2 = client.send('g', 'two');
  await assert.rejects(client.send('g', 'three'), (e) => e.code === 'queue_full');
  clock.advance(10);
  await tick();
  sockets[1].open();
  await tick();
  assert.deepEqual(sockets[1].sent.map((m) => m.message), ['one', 'two']);
  sockets[1].ack(0);
  sockets[1].ack(1);
  await Promise.all([q1, q2]);
});

test('tokens: auth first, refreshed before exp, fetched again after a close', async () => {
  let n = 0;
  const exp = (s) => Buffer.from(JSON.stringify({ sub: 'u', exp: s })).toString('base64url');
  const { client, clock } = make({
    getToken: async () => `h.${exp(100 + 1000 * n++)}.s`,  // exp in seconds
    refreshBeforeMs: 30000, backoffInitialMs: 10,
  });
  await tick(); await tick();
  sockets[0].open();
  await tick();
  assert.equal(sockets[0].sent[0].cmd, 'auth');
  sockets[0].ack(0);
  await tick(); await tick();
  assert.equal(client.state, 'connected');
  clock.advance(100 * 1000 - 30000);  // 30 s before exp
  await tick(); await tick();
  assert.equal(sockets[0].sent[1].cmd, 'auth');
  assert.equal(tokenExpiry(sockets[0].sent[1].token), 1100);
  sockets[0].ack(1);
  sockets[0].closeWith(4003, 'token expired');
  clock.advance(10);
  await tick(); await tick();
  assert.equal(sockets.length, 2);
  assert.equal(n, 3, 'a fresh token for the new connection');
});

test('close() ends everything', async () => {
  const { client, clock } = make();
  await tick();
  sockets[0].open();
  await tick();
  const p = client.join('g');
  client.close();
  await assert.rejects(p, (e) => e.code === 'closed');
  assert.equal(client.state, 'closed');
  clock.advance(100000);
  assert.equal(sockets.length, 1, 'no reconnect after close');
});

test('gaps are surfaced: the gateway\'s notice and the client\'s own reconnect', async () => {
  const { client, clock } = make({ backoffInitialMs: 100, backoffMaxMs: 1000 });
  const gaps = [];
  const errors = [];
  client.on('gap', (g) => gaps.push(g.reason));
  client.on('error', (e) => errors.push(e.code));
  // Groups without history: every reconnect is a gap for them.
  await tick();
  sockets[0].open();
  await tick();
  const j1 = client.join('a'); sockets[0].ack(); await j1;
  const j2 = client.join('b'); sockets[0].ack(); await j2;
  assert.deepEqual(gaps, [], 'no gap on the first connection');
  // The gateway's broker link came back: it says so.
  sockets[0].reply({ type: 'gap', message: 'the gateway\'s broker link was down for 5 ms' });
  assert.deepEqual(gaps, ['gateway']);
  // The broker refused group b's subscription: b is no longer re-joined.
  sockets[0].reply({ error: { code: 'join_refused', message: 'add_group "b": the broker refused' } });
  assert.deepEqual(errors, ['join_refused']);
  // The client's own connection drops: after the re-join, a gap.
  sockets[0].closeWith(1006, '');
  clock.advance(100);
  await tick();
  sockets[1].open();
  await tick();
  assert.deepEqual(sockets[1].sent.map((m) => m.group_id), ['a']);
  sockets[1].ack(0);
  await tick();
  assert.equal(client.state, 'connected');
  assert.deepEqual(gaps, ['gateway', 'reconnect']);
});

test('a drain (1012) reconnects at once to the next URL; a failed connect moves on too', async () => {
  sockets.length = 0;
  const clock = new FakeClock();
  const client = connect(['ws://a', 'ws://b'], {
    WebSocket: FakeSocket, timers: clock, random: () => 0.5,
    backoffInitialMs: 100, backoffMaxMs: 10000 });
  const states = [];
  client.on('state', (s, info) => states.push([s, info.code]));
  await tick();
  assert.match(sockets[0].url, /^ws:\/\/a\?format=json$/);
  // ws://a never answers: the next try goes to ws://b, after the backoff.
  sockets[0].closeWith(1006, '');
  clock.advance(50);
  await tick();
  assert.match(sockets[1].url, /^ws:\/\/b/);
  sockets[1].open();
  await tick();
  const j = client.join('g'); sockets[1].ack(); await j;
  assert.equal(client.state, 'connected');
  // Grow the backoff: two failures on b (opened, then closed 1006).
  sockets[1].closeWith(1006, '');
  clock.advance(50);
  await tick();
  sockets[2].open(); await tick(); sockets[2].closeWith(1006, '');
  assert.equal(client.backoff.attempt, 2);
  clock.advance(100);  // 0.5 * 200
  await tick();
  assert.equal(sockets.length, 4);
  assert.match(sockets[3].url, /^ws:\/\/b/, 'an opened connection that drops retries the same URL');
  sockets[3].open(); await tick(); sockets[3].ack(); await tick();
  assert.equal(client.state, 'connected');
  // The drain: reconnect within half of backoffInitialMs (random 0.5), to a.
  sockets[3].closeWith(1012, 'draining: reconnect now');
  assert.deepEqual(states.at(-1), ['disconnected', 1012]);
  clock.advance(49);
  await tick();
  assert.equal(sockets.length, 4);
  clock.advance(1);
  await tick();
  assert.equal(sockets.length, 5);
  assert.match(sockets[4].url, /^ws:\/\/a/);
  sockets[4].open(); await tick();
  assert.deepEqual(sockets[4].sent.map((m) => [m.cmd, m.group_id]), [['add_group', 'g']]);
});

test('history groups: every reconnect resumes from the last offset; recovered means no gap', async () => {
  const { client, clock } = make({ backoffInitialMs: 100, backoffMaxMs: 1000 });
  const gaps = [];
  const recovered = [];
  const got = [];
  client.on('gap', (g) => gaps.push([g.reason, g.groups]));
  client.on('recovered', (r) => recovered.push([r.group, r.recovered]));
  client.on('message', (m) => got.push(`${m.group}:${m.message}`));
  await tick();
  sockets[0].open();
  await tick();
  const j1 = client.join('h');
  sockets[0].reply({ id: sockets[0].sent[0].id, ok: true, offset: 0, epoch: 'S' });
  assert.deepEqual(await j1, { recovered: undefined, offset: 0, epoch: 'S' });
  const j2 = client.join('plain'); sockets[0].ack(); await j2;
  assert.deepEqual(client.position('h'), { offset: 0, epoch: 'S' });
  assert.equal(client.position('plain'), undefined);
  sockets[0].reply({ type: 'message', group: 'h', message: 'm1', offset: 1, epoch: 'E' });
  sockets[0].reply({ type: 'message', group: 'h', message: 'm2', offset: 2, epoch: 'E' });
  // A duplicate (same epoch, not newer) is dropped.
  sockets[0].reply({ type: 'message', group: 'h', message: 'm2', offset: 2, epoch: 'E' });
  assert.deepEqual(got, ['h:m1', 'h:m2']);
  assert.equal(client.duplicatesDropped, 1);
  assert.deepEqual(client.position('h'), { offset: 2, epoch: 'E' });

  sockets[0].closeWith(1006, '');
  clock.advance(100);
  await tick();
  sockets[1].open();
  await tick();
  const [rejoinH, rejoinPlain] = sockets[1].sent;
  assert.deepEqual(rejoinH.since, { offset: 2, epoch: 'E' });
  assert.equal(rejoinPlain.since, undefined);
  sockets[1].reply({ id: rejoinH.id, ok: true, recovered: true, offset: 4, epoch: 'E' });
  // What was missed follows the reply; the position moves with it.
  sockets[1].reply({ type: 'message', group: 'h', message: 'm3', offset: 3, epoch: 'E' });
  sockets[1].reply({ type: 'message', group: 'h', message: 'm4', offset: 4, epoch: 'E' });
  sockets[1].ack(1);
  await tick();
  assert.equal(client.state, 'connected');
  assert.deepEqual(got, ['h:m1', 'h:m2', 'h:m3', 'h:m4']);
  assert.deepEqual(recovered, [['h', true]]);
  // Of the groups, only the one without history may have missed messages.
  assert.deepEqual(gaps, [['reconnect', ['plain']]]);

  // Not recovered (e.g. a broker restart): told, and the new position kept.
  sockets[1].closeWith(1006, '');
  clock.advance(100);
  await tick();
  sockets[2].open();
  await tick();
  assert.deepEqual(sockets[2].sent[0].since, { offset: 4, epoch: 'E' });
  sockets[2].reply({ id: sockets[2].sent[0].id, ok: true, recovered: false, offset: 0, epoch: 'S2' });
  sockets[2].ack(1);
  await tick();
  assert.deepEqual(recovered, [['h', true], ['h', false]]);
  assert.deepEqual(gaps.at(-1), ['reconnect', ['h', 'plain']]);
  assert.deepEqual(client.position('h'), { offset: 0, epoch: 'S2' });
});

test('the gateway\'s gap names groups; join with since; history pages', async () => {
  const { client } = make();
  const gaps = [];
  client.on('gap', (g) => gaps.push(g));
  await tick();
  sockets[0].open();
  await tick();
  sockets[0].reply({ type: 'gap', groups: ['a', 'b'], all: true, user: false, message: 'down' });
  assert.deepEqual(gaps, [{ reason: 'gateway', groups: ['a', 'b'], all: true, user: false,
                            message: 'down' }]);
  const j = client.join('h', { since: { offset: 7, epoch: 'E' } });
  assert.deepEqual(sockets[0].sent[0].since, { offset: 7, epoch: 'E' });
  sockets[0].reply({ id: sockets[0].sent[0].id, ok: true, recovered: true, offset: 9, epoch: 'E' });
  assert.deepEqual(await j, { recovered: true, offset: 9, epoch: 'E' });
  // The reply's offset does not skip the recovered messages that follow.
  const got = [];
  client.onGroup('h', (m) => got.push(m.offset));
  sockets[0].reply({ type: 'message', group: 'h', message: 'x', offset: 8, epoch: 'E' });
  sockets[0].reply({ type: 'message', group: 'h', message: 'y', offset: 9, epoch: 'E' });
  assert.deepEqual(got, [8, 9]);
  const page = client.history('h', { limit: 2, before: 9 });
  assert.deepEqual(sockets[0].sent[1], { cmd: 'history', group_id: 'h', limit: 2, before: 9,
                                         id: sockets[0].sent[1].id });
  sockets[0].reply({ id: sockets[0].sent[1].id, ok: true, offset: 9, epoch: 'E',
                     messages: [{ offset: 7, message: 'a' }, { offset: 8, message: 'x', from: 'u' }] });
  assert.deepEqual(await page, { offset: 9, epoch: 'E', truncated: false,
                                 messages: [{ offset: 7, message: 'a' }, { offset: 8, message: 'x', from: 'u' }] });
  const missing = client.history('lobby');
  sockets[0].reply({ id: sockets[0].sent[2].id,
                     error: { code: 'history_not_enabled', message: 'no history' } });
  await assert.rejects(missing, (e) => e.code === 'history_not_enabled');
});

test('presence groups: the list from the join, changes once, a reconnect tells what changed', async () => {
  const { client, clock } = make({ backoffInitialMs: 100, backoffMaxMs: 100 });
  const told = [];
  client.on('member_added', (e) => told.push(`+${e.user}`));
  client.on('member_removed', (e) => told.push(`-${e.user}`));
  await tick();
  sockets[0].open();
  await tick();
  const j = client.join('chat');
  sockets[0].reply({ id: sockets[0].sent[0].id, ok: true,
                     members: [{ user: 'me', info: {} }, { user: 'ann', info: { n: 1 } }] });
  const result = await j;
  assert.deepEqual(result.members, [{ user: 'me', info: {} }, { user: 'ann', info: { n: 1 } }]);
  assert.equal(client.members('other'), undefined);
  sockets[0].reply({ type: 'member_added', group: 'chat', user: 'bob', info: { n: 2 } });
  sockets[0].reply({ type: 'member_added', group: 'chat', user: 'bob', info: { n: 2 } });
  sockets[0].reply({ type: 'member_removed', group: 'chat', user: 'ann', info: {} });
  sockets[0].reply({ type: 'member_removed', group: 'chat', user: 'zed', info: {} });
  assert.deepEqual(told, ['+bob', '-ann']);
  assert.deepEqual(client.members('chat').map((m) => m.user), ['me', 'bob']);
  // Lost and back: the re-join's list says bob left and cy came.
  sockets[0].closeWith(1006, '');
  clock.advance(100);
  await tick();
  sockets[1].open();
  await tick();
  sockets[1].reply({ id: sockets[1].sent[0].id, ok: true,
                     members: [{ user: 'me', info: {} }, { user: 'cy', info: {} }] });
  await tick();
  assert.deepEqual(told, ['+bob', '-ann', '-bob', '+cy']);
  client.leave('chat');
  assert.equal(client.members('chat'), undefined);
});
