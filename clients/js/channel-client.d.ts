// Types of channel-client.js (checked against it: npm run typecheck).

export type State = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface ConnectOptions {
  /** Called before every connect (and before a token expires, when it has
   * an exp): returns the token to authenticate with. */
  getToken?: () => Promise<string> | string;
  /** First reconnect delay ceiling and its maximum (full jitter). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Commands without a reply in this time fail with "timeout". */
  requestTimeoutMs?: number;
  /** While disconnected: refuse commands at once ("reject", the default)
   * or queue up to maxQueue of them until the next connect ("queue"). */
  offline?: 'reject' | 'queue';
  maxQueue?: number;
  /** Refresh a token this long before its exp (default 30000). */
  refreshBeforeMs?: number;
  /** A WebSocket constructor (Node < 22: the `ws` package). */
  WebSocket?: new (url: string) => WebSocketLike;
  /** Injected clock and randomness (tests). */
  timers?: {
    setTimeout?: (f: () => void, ms: number) => unknown;
    clearTimeout?: (t: unknown) => void;
    now?: () => number;
  };
  random?: () => number;
}

/** The gateway's drain close code (1012): reconnect now, elsewhere. */
export const CLOSE_DRAIN: 1012;

export interface WebSocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number): void;
  onopen: ((e?: unknown) => void) | null;
  onmessage: ((e: { data: unknown }) => void) | null;
  onclose: ((e: { code: number; reason: string }) => void) | null;
  onerror: ((e?: unknown) => void) | null;
}

export interface Message {
  type: 'message';
  /** The group, for group messages. */
  group?: string;
  /** true for send_to_all. */
  all?: boolean;
  /** true for messages addressed to this user. */
  user?: boolean;
  message: string;
  /** The sender's user id, where tokens are in use. */
  from?: string;
  /** History groups: the message's offset in its group and the group's
   * epoch (docs/CLIENT-PROTOCOL.md "History"). */
  offset?: number;
  epoch?: string;
}

/** Where a client stands in a history group. */
export interface Position {
  offset: number;
  epoch: string;
}

/** A member of a presence group: its user and the info its token gives. */
export interface Member {
  user: string;
  info: Record<string, unknown>;
}

/** What a join's reply says (history and presence groups). */
export interface JoinResult {
  /** Presence groups: who is there, yourself included. */
  members?: Member[];
  /** Only when the join resumed (since): whether every missed message
   * follows. */
  recovered?: boolean;
  offset?: number;
  epoch?: string;
}

export interface HistoryPage {
  offset: number;
  epoch: string;
  messages: { offset: number; message: string; from?: string }[];
  /** Cut by the gateway's byte bound: page on with `before`. */
  truncated: boolean;
}

export interface Gap {
  /** 'gateway': its broker link was down; 'reconnect': this client's own
   * connection dropped. */
  reason: 'gateway' | 'reconnect';
  /** The groups that may have missed messages (history groups that were
   * resumed are not listed). */
  groups: string[];
  /** A send_to_all, or a message to this user, may be missing (always so
   * for 'reconnect': they have no history). */
  all?: boolean;
  user?: boolean;
  message: string;
}

export class ChannelError extends Error {
  constructor(code: string, message: string);
  /** The gateway's error code, or "disconnected", "timeout", "queue_full",
   * "closed". */
  code: string;
}

export class Backoff {
  constructor(initialMs: number, maxMs: number, random?: () => number);
  next(): number;
  reset(): void;
  attempt: number;
}

export function tokenExpiry(token: string): number | undefined;

export class Client {
  constructor(url: string | string[], options: ConnectOptions);
  readonly state: State;
  /** The URL in use (or tried next). */
  readonly url: string;
  on(event: 'state', handler: (state: State, info: { code?: number; reason?: string }) => void): () => void;
  on(event: 'message', handler: (message: Message) => void): () => void;
  on(event: 'error', handler: (error: ChannelError) => void): () => void;
  /** Messages may have been missed: the gateway's broker link was down
   * ('gateway'), or this client reconnected ('reconnect') and these groups
   * could not be resumed. */
  on(event: 'gap', handler: (gap: Gap) => void): () => void;
  /** A join that resumed a history group (every reconnect does): false
   * means messages may be missing, reload the group's state. */
  on(event: 'recovered', handler: (e: { group: string; recovered: boolean }) => void): () => void;
  /** Presence groups: a member arrived or left (told once; after a
   * reconnect, what changed meanwhile). */
  on(event: 'member_added' | 'member_removed',
     handler: (e: { group: string; user: string; info: Record<string, unknown> }) => void): () => void;
  onGroup(group: string | number, handler: (message: Message) => void): () => void;
  join(group: string | number, options?: { token?: string; since?: Position }): Promise<JoinResult>;
  /** Where this client stands in a history group, if known. */
  position(group: string | number): Position | undefined;
  /** The last `limit` (default 50) kept messages before offset `before`. */
  history(group: string | number, options?: { limit?: number; before?: number }): Promise<HistoryPage>;
  /** Messages of a history group dropped as already received. */
  readonly duplicatesDropped: number;
  leave(group: string | number): Promise<void>;
  send(group: string | number, message: unknown, options?: { excludeSelf?: boolean }): Promise<void>;
  sendToAll(message: unknown, options?: { excludeSelf?: boolean }): Promise<void>;
  presence(group: string | number): Promise<{ connections: number; users: number }>;
  /** A presence group's members as last told; undefined for other groups. */
  members(group: string | number): Member[] | undefined;
  close(): void;
}

/** One URL, or several: the client moves to the next when its gateway
 * drains (close 1012: reconnect at once, within backoffInitialMs) or a
 * connect fails. */
export function connect(url: string | string[], options?: ConnectOptions): Client;
