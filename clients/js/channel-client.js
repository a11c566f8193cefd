// channel browser/Node client: reconnects, re-joins, and settles every
// command with the gateway's acknowledgement. No runtime dependencies.
// Types: channel-client.d.ts. Protocol: docs/CLIENT-PROTOCOL.md.

/** Full-jitter exponential backoff: attempt n waits a uniform random time
 * in [0, min(maxMs, initialMs * 2^n)]. */
export class Backoff {
  /** @param {number} initialMs @param {number} maxMs @param {() => number} [random] */
  constructor(initialMs, maxMs, random = Math.random) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.random = random;
    this.attempt = 0;
  }
  /** @returns {number} the next delay in ms */
  next() {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.floor(this.random() * ceiling);
  }
  reset() { this.attempt = 0; }
}

/** A refused or failed command: `code` is the gateway's error code, or
 * "disconnected", "timeout", "queue_full", "closed". */
export class ChannelError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = 'ChannelError';
    this.code = code;
  }
}

/** Seconds-since-epoch `exp` of a JWT, or undefined. */
export function tokenExpiry(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const exp = JSON.parse(atob(payload)).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

/** The gateway's drain close (RFC 6455 1012 "Service Restart"): the gateway
 * is going away; reconnect now, to another one. */
export const CLOSE_DRAIN = 1012;

/**
 * Opens a client for a ws-gateway URL (ws:// or wss://), or for several:
 * the client moves to the next one when its gateway drains (1012) or a
 * connect fails. See channel-client.d.ts for the options.
 * @param {string | string[]} url
 * @param {import('./channel-client').ConnectOptions} [options]
 * @returns {Client}
 */
export function connect(url, options = {}) {
  return new Client(url, options);
}

export class Client {
  /** @param {string | string[]} url @param {import('./channel-client').ConnectOptions} options */
  constructor(url, options) {
    this.urls = Array.isArray(url) ? [...url] : [url];
    if (this.urls.length === 0) throw new Error('connect: no URL');
    this.urlIndex = 0;
    this.url = this.urls[0];
    this.opts = {
      backoffInitialMs: 200,
      backoffMaxMs: 10000,
      requestTimeoutMs: 10000,
      offline: 'reject',
      maxQueue: 100,
      refreshBeforeMs: 30000,
      ...options,
    };
    const timers = this.opts.timers || {};
    this.setTimeout = timers.setTimeout || ((f, ms) => setTimeout(f, ms));
    this.clearTimeout = timers.clearTimeout || ((t) => clearTimeout(t));
    this.now = timers.now || (() => Date.now());
    this.WebSocket = this.opts.WebSocket || globalThis.WebSocket;
    this.backoff = new Backoff(this.opts.backoffInitialMs, this.opts.backoffMaxMs,
                               this.opts.random);
    /** @type {'connecting'|'connected'|'disconnected'|'closed'} */
    this.state = 'connecting';
    this.listeners = { state: new Set(), message: new Set(), error: new Set(), gap: new Set(),
                       recovered: new Set(), member_added: new Set(), member_removed: new Set() };
    /** @type {Map<string, Map<string, object>>} presence groups: user -> info */
    this.memberLists = new Map();
    /** @type {Map<string, Set<Function>>} */
    this.groupHandlers = new Map();
    /** @type {Map<string, {token?: string}>} groups to (re)join */
    this.groups = new Map();
    /** @type {Map<string, {offset: number, epoch: string}>} where each joined
     * history group stands: the last offset received (or the join's) */
    this.positions = new Map();
    this.duplicatesDropped = 0;
    /** @type {string[]} groups the last reconnect could not resume */
    this.lastMissed = [];
    this.pending = new Map();
    this.queue = [];
    this.nextId = 1;
    this.ws = null;
    this.ready = false;  // socket open, authenticated, groups re-joined
    this.wasReady = false;  // some earlier connection was ready
    this.retryTimer = null;
    this.refreshTimer = null;
    this.open();
  }

  /** @param {'state'|'message'|'error'|'gap'|'recovered'|'member_added'|'member_removed'} event
   * @param {Function} handler */
  on(event, handler) {
    this.listeners[event].add(handler);
    return () => this.listeners[event].delete(handler);
  }

  /** Messages of one group (with the JSON framing). */
  onGroup(group, handler) {
    const key = String(group);
    if (!this.groupHandlers.has(key)) this.groupHandlers.set(key, new Set());
    this.groupHandlers.get(key).add(handler);
    return () => this.groupHandlers.get(key)?.delete(handler);
  }

  /** Joins a group; kept across reconnects. Resolves once the group is
   * live at the broker, with {recovered, offset, epoch} as the gateway
   * says them (history groups; docs/CLIENT-PROTOCOL.md "History"). With
   * `since` ({offset, epoch}, e.g. kept in localStorage) the messages after
   * it come first. Every reconnect resumes from the last offset received. */
  join(group, { token, since } = {}) {
    const key = String(group);
    this.groups.set(key, { token });
    if (since) this.positions.set(key, { offset: since.offset, epoch: since.epoch });
    return this.command(this.joinCommand(key, token, since))
      .then((reply) => this.joined(key, reply))
      .catch((err) => {
        if (err.code !== 'disconnected' && err.code !== 'timeout') {
          this.groups.delete(key);
          this.positions.delete(key);
        }
        throw err;
      });
  }

  leave(group) {
    const key = String(group);
    this.groups.delete(key);
    this.positions.delete(key);
    this.memberLists.delete(key);
    return this.command({ cmd: 'leave_group', group_id: key });
  }

  /** Where this client stands in a history group: {offset, epoch}, or
   * undefined (no history, or nothing known yet). */
  position(group) {
    const p = this.positions.get(String(group));
    return p && { ...p };
  }

  /** The group's kept messages, oldest first: the last `limit` (default 50)
   * before offset `before`. @returns {Promise<{offset: number, epoch: string,
   * messages: {offset: number, message: string, from?: string}[], truncated: boolean}>} */
  history(group, { limit, before } = {}) {
    return this.command({ cmd: 'history', group_id: String(group),
                          ...(limit !== undefined ? { limit } : {}),
                          ...(before !== undefined ? { before } : {}) })
      .then((r) => ({ offset: r.offset, epoch: r.epoch, messages: r.messages || [],
                      truncated: r.truncated === true }));
  }

  send(group, message, { excludeSelf = false } = {}) {
    return this.command({ cmd: 'send_to_group', group_id: String(group), message,
                          ...(excludeSelf ? { exclude_self: true } : {}) });
  }

  sendToAll(message, { excludeSelf = false } = {}) {
    return this.command({ cmd: 'send_to_all', message,
                          ...(excludeSelf ? { exclude_self: true } : {}) });
  }

  /** Who is in a presence group (docs/CLIENT-PROTOCOL.md "Presence
   * members") as last told: [{user, info}], or undefined for a group
   * without a member list. member_added / member_removed events keep it. */
  members(group) {
    const list = this.memberLists.get(String(group));
    return list && [...list].map(([user, info]) => ({ user, info }));
  }

  /** @returns {Promise<{connections: number, users: number}>} */
  presence(group) {
    return this.command({ cmd: 'presence', group_id: String(group) })
      .then((r) => ({ connections: r.connections, users: r.users }));
  }

  /** Closes for good: no reconnect; pending commands fail with "closed". */
  close() {
    this.setState('closed', { reason: 'closed by the application' });
    this.clearTimeout(this.retryTimer);
    this.clearTimeout(this.refreshTimer);
    this.failAll('closed', 'the client was closed');
    if (this.ws) this.ws.close(1000);
  }

  // ---- internals ----------------------------------------------------------

  joinCommand(group, token, since) {
    return { cmd: 'add_group', group_id: group, ...(token ? { token } : {}),
             ...(since ? { since: { offset: since.offset, epoch: since.epoch } } : {}) };
  }

  // A join's reply: a resumed join's messages follow it (the position moves
  // with them); otherwise the reply's position is where this client stands.
  joined(group, reply) {
    const result = { recovered: reply.recovered, offset: reply.offset, epoch: reply.epoch };
    if (Array.isArray(reply.members) && this.groups.has(group)) {
      this.replaceMembers(group, reply.members);
      result.members = this.members(group);
    }
    if (reply.offset !== undefined && reply.recovered !== true && this.groups.has(group)) {
      const p = this.positions.get(group);
      if (!p || p.epoch !== reply.epoch || reply.offset > p.offset || reply.recovered === false) {
        this.positions.set(group, { offset: reply.offset, epoch: reply.epoch });
      }
    }
    if (reply.recovered === false && reply.offset === undefined) this.positions.delete(group);
    if (reply.recovered !== undefined) this.emit('recovered', { group, recovered: reply.recovered });
    return result;
  }

  // A presence group's list from a join's reply. After a reconnect's
  // re-join, what changed meanwhile is told as events, once.
  replaceMembers(group, members) {
    const old = this.memberLists.get(group);
    const next = new Map();
    for (const m of members) {
      if (m && typeof m.user === 'string') next.set(m.user, m.info || {});
    }
    this.memberLists.set(group, next);
    if (!old) return;
    for (const [user, info] of old) {
      if (!next.has(user)) this.emit('member_removed', { group, user, info });
    }
    for (const [user, info] of next) {
      if (!old.has(user)) this.emit('member_added', { group, user, info });
    }
  }

  // member_added / member_removed from the gateway: applied to the list
  // (a change already known is nothing) and told.
  memberEvent(msg) {
    const group = String(msg.group);
    const list = this.memberLists.get(group);
    if (!list || typeof msg.user !== 'string') return;
    const added = msg.type === 'member_added';
    if (added === list.has(msg.user)) return;
    if (added) {
      list.set(msg.user, msg.info || {});
    } else {
      list.delete(msg.user);
    }
    this.emit(msg.type, { group, user: msg.user, info: msg.info || {} });
  }

  // A group message with an offset: false when it was received already.
  advance(msg) {
    const key = String(msg.group);
    if (!this.groups.has(key)) return true;  // bounded: joined groups only
    const p = this.positions.get(key);
    if (p && p.epoch === msg.epoch && msg.offset <= p.offset) {
      ++this.duplicatesDropped;
      return false;
    }
    this.positions.set(key, { offset: msg.offset, epoch: msg.epoch });
    return true;
  }

  emit(event, ...args) {
    for (const h of this.listeners[event]) h(...args);
  }

  setState(state, info = {}) {
    if (this.state === state || this.state === 'closed') return;
    this.state = state;
    this.emit('state', state, info);
  }

  async open() {
    if (this.state === 'closed') return;
    this.setState('connecting');
    let token;
    if (this.opts.getToken) {
      try {
        token = await this.opts.getToken();
      } catch (err) {
        this.scheduleRetry(`getToken failed: ${err && err.message}`);
        return;
      }
      if (this.state === 'closed') return;
    }
    const sep = this.url.includes('?') ? '&' : '?';
    const ws = new this.WebSocket(`${this.url}${sep}format=json`);
    this.ws = ws;
    this.opened = false;
    ws.onopen = () => {
      this.opened = true;
      this.onOpen(ws, token);
    };
    ws.onmessage = (e) => this.onMessage(typeof e.data === 'string' ? e.data : String(e.data));
    ws.onclose = (e) => this.onClose(ws, e.code, e.reason);
    ws.onerror = () => {};  // onclose follows
  }

  async onOpen(ws, token) {
    try {
      if (token) {
        await this.raw({ cmd: 'auth', token });
        this.scheduleRefresh(token);
      }
      // Re-join everything before reporting "connected". A gateway whose
      // broker link is not up yet (just restarted) refuses with
      // broker_unavailable: the group is kept and the connection retried
      // after the backoff. A re-join cut by the connection's own end
      // (disconnected, timeout) keeps the group too: the next connect
      // re-joins it. Any other refusal drops the group.
      // History groups resume from where this client stands; the others
      // (and those the gateway cannot resume) may have missed messages.
      let retry = false;
      const missed = [];
      await Promise.all([...this.groups].map(([group, { token: joinToken }]) =>
        this.raw(this.joinCommand(group, joinToken, this.positions.get(group)))
          .then((reply) => {
            this.joined(group, reply);
            if (reply.recovered !== true) missed.push(group);
          })
          .catch((err) => {
            if (err.code === 'broker_unavailable' || err.code === 'timeout') {
              retry = true;
              return;
            }
            if (err.code === 'disconnected') return;  // onClose retries
            this.groups.delete(group);
            this.emit('error', err);
          })));
      if (retry && this.ws === ws) {
        ws.close(4000, 'broker_unavailable');  // onClose schedules the retry
        return;
      }
      this.lastMissed = missed.filter((g) => this.groups.has(g)).sort();
    } catch (err) {
      this.emit('error', err);
      return;  // the gateway closes; onClose retries
    }
    if (this.ws !== ws) return;
    this.ready = true;
    this.backoff.reset();
    this.setState('connected');
    // Messages sent while this client had no connection are not replayed
    // for the groups it could not resume, nor for send_to_all and its user
    // (no history): say so once the groups are live again.
    if (this.wasReady) {
      this.emit('gap', { reason: 'reconnect', groups: this.lastMissed, all: true,
                         user: Boolean(this.opts.getToken),
                         message: 'the connection was lost; messages sent meanwhile to the groups named, to all or to your user may be missing' });
    }
    this.wasReady = true;
    const queued = this.queue;
    this.queue = [];
    for (const q of queued) this.raw(q.msg).then(q.resolve, q.reject);
  }

  scheduleRefresh(token) {
    this.clearTimeout(this.refreshTimer);
    const exp = tokenExpiry(token);
    if (exp === undefined || !this.opts.getToken) return;
    const delay = Math.max(0, exp * 1000 - this.now() - this.opts.refreshBeforeMs);
    this.refreshTimer = this.setTimeout(async () => {
      try {
        const fresh = await this.opts.getToken();
        await this.raw({ cmd: 'auth', token: fresh });
        this.scheduleRefresh(fresh);
      } catch (err) {
        this.emit('error', err);  // an expiry close (4003) follows; we reconnect
      }
    }, delay);
  }

  onMessage(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg && msg.type === 'gap') {
      // The gateway lost its broker link for a while and could not resume
      // these (docs/CLIENT-PROTOCOL.md "Gaps").
      this.emit('gap', { reason: 'gateway', groups: Array.isArray(msg.groups) ? msg.groups : [],
                         all: msg.all === true, user: msg.user === true, message: msg.message });
      return;
    }
    if (msg && (msg.type === 'member_added' || msg.type === 'member_removed')) {
      this.memberEvent(msg);
      return;
    }
    if (msg && msg.type === 'message') {
      if (typeof msg.offset === 'number' && msg.group !== undefined && !this.advance(msg)) return;
      this.emit('message', msg);
      if (msg.group !== undefined) {
        for (const h of this.groupHandlers.get(String(msg.group)) || []) h(msg);
      }
      return;
    }
    if (msg && msg.id !== undefined && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      this.clearTimeout(p.timer);
      if (msg.error) p.reject(new ChannelError(msg.error.code, msg.error.message));
      else p.resolve(msg);
      return;
    }
    if (msg && msg.error) {
      const err = new ChannelError(msg.error.code, msg.error.message);
      if (err.code === 'join_expired') {
        for (const g of this.groups.keys()) {
          if (err.message.includes(`group ${g} `)) this.groups.delete(g);
        }
      }
      if (err.code === 'join_refused') {
        // Unsolicited: the broker refused a group this client had joined.
        for (const g of this.groups.keys()) {
          if (err.message.startsWith(`add_group ${JSON.stringify(g)}:`)) this.groups.delete(g);
        }
      }
      this.emit('error', err);
    }
  }

  onClose(ws, code, reason) {
    if (this.ws !== ws) return;
    this.ws = null;
    this.ready = false;
    this.clearTimeout(this.refreshTimer);
    this.failAll('disconnected', `connection closed (${code} ${reason || ''})`.trim());
    if (this.state === 'closed') return;
    this.setState('disconnected', { code, reason });
    if (code === CLOSE_DRAIN) {
      // The gateway spreads its drain over time: reconnect now (within one
      // initial backoff, jittered), to the next URL if there are several.
      this.nextUrl();
      this.backoff.reset();
      this.clearTimeout(this.retryTimer);
      this.retryTimer = this.setTimeout(() => this.open(),
          Math.floor((this.opts.random || Math.random)() * this.opts.backoffInitialMs));
      return;
    }
    if (!this.opened) this.nextUrl();  // this one did not answer: try another
    this.scheduleRetry(reason);
  }

  nextUrl() {
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    this.url = this.urls[this.urlIndex];
  }

  scheduleRetry() {
    if (this.state === 'closed') return;
    this.clearTimeout(this.retryTimer);
    this.retryTimer = this.setTimeout(() => this.open(), this.backoff.next());
  }

  failAll(code, message) {
    for (const [, p] of this.pending) {
      this.clearTimeout(p.timer);
      p.reject(new ChannelError(code, message));
    }
    this.pending.clear();
    if (code !== 'disconnected' || this.opts.offline !== 'queue') {
      for (const q of this.queue) q.reject(new ChannelError(code, message));
      this.queue = [];
    }
  }

  // A command for the application: now, queued, or refused while offline.
  command(msg) {
    if (this.state === 'closed') {
      return Promise.reject(new ChannelError('closed', 'the client was closed'));
    }
    if (this.ready) return this.raw(msg);
    if (this.opts.offline === 'queue') {
      if (this.queue.length >= this.opts.maxQueue) {
        return Promise.reject(new ChannelError('queue_full',
            `more than ${this.opts.maxQueue} commands wait for the connection`));
      }
      return new Promise((resolve, reject) => this.queue.push({ msg, resolve, reject }));
    }
    // Joins are remembered and replayed on connect even when refused now.
    return Promise.reject(new ChannelError('disconnected', 'not connected'));
  }

  // Sends with an id and settles with the reply.
  raw(msg) {
    if (!this.ws || this.ws.readyState !== 1) {
      return Promise.reject(new ChannelError('disconnected', 'not connected'));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = this.setTimeout(() => {
        this.pending.delete(id);
        reject(new ChannelError('timeout', `no reply within ${this.opts.requestTimeoutMs} ms`));
      }, this.opts.requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...msg, id }));
    });
  }
}
