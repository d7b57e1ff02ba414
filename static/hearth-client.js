/**
 * hearth-client.js: the reusable browser client for the Hearth wire contract v1
 * (shared/PROTOCOL.md). Plain ES module, no dependencies, no build step.
 *
 * Quick start:
 *
 *   import { HearthClient } from './hearth-client.js';
 *   const client = new HearthClient();               // baseUrl = location.origin, storage = localStorage
 *   await client.login('alice', 'correct horse');    // token kept in storage: a reload stays signed in
 *   client.connect({ chat: true, tasks: true, notifications: true });
 *   client.onState((s) => console.log('connection', s));
 *   client.on('message', ({ message }) => console.log(message.content));
 *   const { method, message } = await client.sendMessage(roomId, 'hi');   // method: 'websocket' | 'rest'
 *
 * Public API (details in the JSDoc below):
 *   HearthClient
 *     constructor({baseUrl, storage, WebSocket, fetch, random, ...options})
 *     accounts:      register(username, password, display_name?), login(username, password), logout(), me(),
 *                    refresh(), wsTicket(), isSignedIn, user, token, tokenExpiresAt
 *     REST:          api(method, path, {body, query, headers, auth, guest, raw, timeout, signal})
 *     sockets:       connect({chat, tasks, notifications, admin}), disconnect(), socket(name),
 *                    chat / tasks / notifications / support / admin (lazy Socket getters), wsUrl(path, query)
 *     state/events:  state, onState(cb) → unsubscribe, on(type, cb) → unsubscribe, once, off, stats
 *     chat (WS first, REST fallback): getRoomList, getRoom, createRoom, openDirect, getPublicRooms, joinRoom,
 *                    leaveRoom, addMember, getMessages, sendMessage, editMessage, deleteMessage, markRead,
 *                    typing, sync, lastMessageIdSeen, polling (receiving over REST while /ws/chat/ is down)
 *     outbox:        sendMessage(room, content, {queue: true}), outbox, retryOutbox, discardOutbox, flushOutbox
 *     tasks:         startTask, getTasks, getTask, cancelTask, taskResultUrl, fetchTaskResult, downloadTaskResult
 *     notifications: listNotifications, markNotificationRead, readAllNotifications
 *     support:       guestToken, supportGetMessages, supportSend
 *     staff:         adminGetRooms, adminGetMessages, adminSend, adminMarkRead
 *     destroy()
 *   Socket          one reconnecting WebSocket per endpoint: start(), stop(), restart(), request(type, fields),
 *                   send(frame), waitOpen(), probe(), kick(), state, onState(cb), on(type, cb), stats, connected
 *   HearthError     Error with .code, .status, .retryAfter (s), .retryAfterMs, .fields, .transport, .sent
 *   helpers         backoffDelay, closeAction, isTransportError, uuid, MemoryStorage, SOCKET_PATHS, STATES
 *
 * Connection states (socket and overall): 'idle' (not started), 'connecting', 'open', 'reconnecting',
 * 'offline' (navigator.onLine is false), 'signed_out', and for a socket 'closed' (stopped on purpose, by a
 * 1000 close or a 4403 close: no reconnect).
 */

/** Default tunables; any of them can be overridden through the constructor options. */
export const DEFAULTS = Object.freeze({
  backoffBase: 500, // ms, first reconnect waits up to this (full jitter)
  backoffCap: 30000, // ms, never wait longer than this between ordinary reconnects
  rateLimitDefault: 5000, // ms, wait after a 4429 whose frame had no retry_after_ms
  requestTimeout: 10000, // ms, a socket request without a reply by then is rejected (code 'timeout')
  restTimeout: 20000, // ms, a REST call without an answer by then is aborted (code 'timeout')
  stableAfter: 10000, // ms, a connection that lived this long resets the backoff
  idleProbe: 45000, // ms of silence on an open socket before a `ping` checks it is still alive
  probeTimeout: 8000, // ms, a ping without any answer by then means the socket is dead: reconnect
  connectTimeout: 15000, // ms from creating the WebSocket to the server's `connected` frame
  refreshAhead: 45000, // ms before the token expires to refresh it if no socket said token_expiring
  longPollFallback: true, // while /ws/chat/ is down, long-poll GET /api/sync so messages still arrive
  longPollDelay: 3000, // ms the chat socket must be down (or not yet open) before the long-poll starts
  roomListInterval: 15000, // ms between re-reads of the room list while long-polling (new rooms, rooms left)
  outboxRetryBase: 1000, // ms, first automatic retry of unsent messages after a network failure
  outboxRetryCap: 15000, // ms, never wait longer than this between automatic retries of unsent messages
  seenLimit: 5000, // message ids remembered per socket for de-duplication
});

/** Endpoint paths of the contract, by socket name. */
export const SOCKET_PATHS = Object.freeze({
  chat: '/ws/chat/',
  tasks: '/ws/tasks/',
  notifications: '/ws/notifications/',
  support: '/ws/support/',
  admin: '/ws/admin/chat/',
});

/** Every state a socket or the client can report. */
export const STATES = Object.freeze(['idle', 'connecting', 'open', 'reconnecting', 'offline', 'signed_out', 'closed']);

const USER_SOCKETS = ['chat', 'tasks', 'notifications', 'admin'];
const FORWARDED = new Set(['chat', 'tasks', 'notifications']);
const KEYS = Object.freeze({
  token: 'hearth.token',
  expires: 'hearth.token_expires_at',
  user: 'hearth.user',
  guest: 'hearth.guest_token',
  outbox: 'hearth.outbox.', // + user id: that user's unsent messages
});

/**
 * An error from the server (REST error body or WebSocket `error` frame) or from the transport.
 * @property {string} code contract code (`validation_failed`, `forbidden`, `rate_limited`, ...), or for transport
 *   failures `network`, `timeout`, `closed`, `not_connected`, `aborted`, or `signed_out`.
 * @property {number} status HTTP status (0 for WebSocket and transport errors).
 * @property {number|null} retryAfter seconds to wait (REST `Retry-After`, or `retry_after_ms` / 1000).
 * @property {number|null} retryAfterMs the same in milliseconds.
 * @property {Object|null} fields per-field reasons of a `validation_failed`.
 * @property {boolean} transport true when the failure says nothing about the operation itself (the request may
 *   be retried elsewhere): network down, timeout, socket closed or not open.
 * @property {boolean} sent for a socket request: whether the frame had left before it failed.
 */
export class HearthError extends Error {
  constructor(message, { code = 'internal', status = 0, retryAfter = null, retryAfterMs = null, fields = null,
    transport = false, sent = false, requestId = null, frame = null, cause } = {}) {
    super(message || code, cause === undefined ? undefined : { cause });
    this.name = 'HearthError';
    this.code = code;
    this.status = status;
    if (retryAfterMs == null && retryAfter != null) retryAfterMs = retryAfter * 1000;
    if (retryAfter == null && retryAfterMs != null) retryAfter = retryAfterMs / 1000;
    this.retryAfter = retryAfter;
    this.retryAfterMs = retryAfterMs;
    this.fields = fields;
    this.transport = transport;
    this.sent = sent;
    this.requestId = requestId;
    this.frame = frame;
  }
}

/** @returns {boolean} whether `err` is a transport failure (retrying over another transport is safe). */
export function isTransportError(err) {
  return !!(err && err.transport);
}

/**
 * Exponential backoff with full jitter: a uniformly random delay in [0, min(cap, base * 2^attempt)).
 * @param {number} attempt 0 for the first retry.
 * @param {{backoffBase?: number, backoffCap?: number, random?: () => number}} [opts]
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, { backoffBase = DEFAULTS.backoffBase, backoffCap = DEFAULTS.backoffCap,
  random = Math.random } = {}) {
  const ceiling = Math.min(backoffCap, backoffBase * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.floor(random() * ceiling);
}

/**
 * What to do after a close, from its code and the server's final `error` frame (which wins: the close reason
 * may be lost on the way).
 * @param {number} code the close code seen by the browser
 * @param {Object|null} final the last `error` frame carrying `close_code` / `retry`, if any
 * @returns {'stop'|'forbidden'|'reauthenticate'|'rate_limited'|'backoff'}
 */
export function closeAction(code, final = null) {
  const retry = final && final.retry;
  const fc = (final && final.close_code) || code;
  if (retry === 'never' || fc === 4403) return 'forbidden';
  if (retry === 'reauthenticate' || fc === 4401) return 'reauthenticate';
  if (fc === 4429 || (final && final.code === 'rate_limited')) return 'rate_limited';
  if (code === 1000 && !final) return 'stop';
  return 'backoff'; // 1001, 1005, 1006, 1009, 1011, 4008, 4408, ...
}

/** @returns {string} a random UUID (crypto.randomUUID, or a v4 UUID built from getRandomValues / Math.random). */
export function uuid() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') {
    try { return c.randomUUID(); } catch { /* insecure context: fall through */ }
  }
  const b = new Uint8Array(16);
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A Storage-like object kept in memory (used when localStorage is unavailable, and in tests). */
export class MemoryStorage {
  constructor() { this._m = new Map(); }
  getItem(k) { return this._m.has(k) ? this._m.get(k) : null; }
  setItem(k, v) { this._m.set(k, String(v)); }
  removeItem(k) { this._m.delete(k); }
  clear() { this._m.clear(); }
}

/** A tiny event emitter: `on(type, cb)` returns an unsubscribe function; type '*' receives (type, ...args). */
export class Emitter {
  constructor() { this._listeners = new Map(); }
  /** @returns {() => void} unsubscribe */
  on(type, cb) {
    let set = this._listeners.get(type);
    if (!set) this._listeners.set(type, (set = new Set()));
    set.add(cb);
    return () => set.delete(cb);
  }
  /** Like on(), for one event only. @returns {() => void} unsubscribe */
  once(type, cb) {
    const off = this.on(type, (...args) => { off(); cb(...args); });
    return off;
  }
  off(type, cb) { const set = this._listeners.get(type); if (set) set.delete(cb); }
  emit(type, ...args) {
    for (const key of [type, '*']) {
      const set = this._listeners.get(key);
      if (!set) continue;
      for (const cb of [...set]) {
        try { if (key === '*') cb(type, ...args); else cb(...args); } catch (err) { console.error('hearth listener failed', err); }
      }
    }
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); if (signal) signal.removeEventListener('abort', done); resolve(); }
    if (signal) signal.addEventListener('abort', done, { once: true });
  });
}

function stripFrame(frame) {
  const out = {};
  for (const [k, v] of Object.entries(frame)) if (k !== 'type' && k !== 'request_id' && k !== 'timestamp') out[k] = v;
  return out;
}

function compact(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj || {})) if (v !== undefined && v !== null && v !== '') out[k] = v;
  return out;
}

function codeForStatus(status) {
  return ({ 400: 'validation_failed', 401: 'unauthenticated', 403: 'forbidden', 404: 'not_found', 409: 'conflict',
    413: 'payload_too_large', 429: 'rate_limited' })[status] || (status >= 500 ? 'internal' : 'http_error');
}

async function errorFromResponse(res) {
  let body = null;
  try { body = JSON.parse(await res.text()); } catch { /* not JSON */ }
  const e = (body && body.error) || {};
  let retryAfter = null;
  const ra = res.headers && typeof res.headers.get === 'function' ? res.headers.get('Retry-After') : null;
  if (ra) {
    const n = Number(ra);
    if (Number.isFinite(n)) retryAfter = n;
    else if (!Number.isNaN(Date.parse(ra))) retryAfter = Math.max(0, (Date.parse(ra) - Date.now()) / 1000);
  }
  return new HearthError(e.message || `HTTP ${res.status}`, {
    code: e.code || codeForStatus(res.status), status: res.status, retryAfter, fields: e.fields || null,
  });
}

function defaultStorage() {
  try {
    const s = globalThis.localStorage;
    if (s) return s;
  } catch { /* blocked by privacy settings */ }
  return new MemoryStorage();
}

const enc = encodeURIComponent;

/**
 * One WebSocket endpoint that keeps itself connected: a fresh single-use ticket before every handshake,
 * exponential backoff with full jitter, close codes honoured, request/reply by `request_id`.
 * Get one from `client.socket(name)` (or `client.chat`, `client.tasks`, ...), not with `new`.
 *
 * Events (`on(type, cb)`, cb(frame, socket)): every server frame by its `type` (`connected`, `message`,
 * `task_progress`, `notification`, `error`, ...) except replies that resolved a request(); plus `state`
 * (state, previous), `close` ({code, reason, final}) and `forbidden` (HearthError).
 * On the chat socket each `message` is delivered once per message id (pushes and resume sync de-duplicated).
 */
export class Socket extends Emitter {
  /** @private */
  constructor(client, name, path, { auth = 'user', forward = false } = {}) {
    super();
    /** @type {HearthClient} */
    this.client = client;
    /** socket name: chat, tasks, notifications, support or admin */
    this.name = name;
    this.path = path;
    this.auth = auth; // 'user': ticket required; 'support': ticket when signed in, else ?guest= or nothing
    this.forward = forward;
    /** current state, one of STATES */
    this.state = 'idle';
    /** the last `connected` frame */
    this.connected = null;
    /** for /ws/support/: the `guest` object of the last `connected` frame, if anonymous */
    this.guest = null;
    /** the last close: {code, reason, final, at} */
    this.lastClose = null;
    /** the last error that stopped or delayed this socket */
    this.lastError = null;
    /** when the next reconnect attempt is due (ms since epoch), or null */
    this.nextRetryAt = null;
    /** counters: handshakes (WebSocket objects made), reconnects (handshakes after the first), opens, closes,
     * requests, duplicatesDropped */
    this.stats = { handshakes: 0, reconnects: 0, opens: 0, closes: 0, requests: 0, duplicatesDropped: 0 };
    this._wanted = false;
    this._ws = null;
    this._gen = 0;
    this._attempt = 0;
    this._timer = null;
    this._notBefore = 0;
    this._pending = new Map();
    this._authRetried = false;
    this._credKind = null; // 'ticket' | 'guest' | 'anonymous'
    this._credToken = null; // the user token behind this socket's current credential
    this._reauthToken = null;
    this._final = null;
    this._openedAt = 0;
    this._lastHeard = 0;
    this._probeTimer = null;
    this._connectTimer = null;
    this._probing = false;
    this._parked = false; // a guest socket closed by the sign-in that adopts its conversation
    this._seen = new Set();
    this._stateListeners = new Set();
  }

  /** Whether start() was called and the socket has not been stopped since. */
  get started() { return this._wanted; }

  /** Whether the socket is open and the server's `connected` frame has arrived. */
  get isOpen() { return this.state === 'open' && !!this._ws && this._ws.readyState === 1; }

  /**
   * Observe this socket's state; cb(state, socket, previous) is called at once with the current state.
   * @returns {() => void} unsubscribe
   */
  onState(cb) {
    this._stateListeners.add(cb);
    try { cb(this.state, this, null); } catch (err) { console.error(err); }
    return () => this._stateListeners.delete(cb);
  }

  /** Start connecting (no-op when already started). @returns {Socket} */
  start() {
    if (this._wanted) return this;
    this._wanted = true;
    this._authRetried = false;
    this._attempt = 0;
    this._notBefore = 0;
    this._connect(false);
    return this;
  }

  /**
   * Close for good (no reconnect) and reject pending requests.
   * @param {{code?: number, reason?: string, state?: string}} [opts] state defaults to 'closed'
   */
  stop({ code = 1000, reason = 'client closing', state = 'closed' } = {}) {
    this._wanted = false;
    this._parked = false;
    this._gen++;
    this._clearTimer();
    this._teardown(code, reason);
    this._rejectAll();
    this._setState(state);
  }

  /** Stop and start again (new credentials, e.g. after sign-in). @returns {Socket} */
  restart() {
    this.stop({ state: 'idle' });
    this._seen.clear();
    return this.start();
  }

  /** Reconnect now if waiting for a backoff timer (not before a server-given retry_after). @returns {boolean} */
  kick() {
    if (!this._wanted || !this._timer || Date.now() < this._notBefore) return false;
    this._clearTimer();
    this._connect(true);
    return true;
  }

  /**
   * Resolve once the socket is open, reject after `timeout` ms or when it is stopped.
   * @returns {Promise<Socket>}
   */
  waitOpen(timeout = this.client.opts.requestTimeout) {
    if (this.isOpen) return Promise.resolve(this);
    return new Promise((resolve, reject) => {
      let off = () => {};
      const t = setTimeout(() => { off(); reject(new HearthError('timed out waiting for the connection', { code: 'timeout', transport: true })); }, timeout);
      off = this.on('state', (s) => {
        if (s === 'open') { clearTimeout(t); off(); resolve(this); }
        else if (s === 'closed' || s === 'signed_out' || s === 'idle') {
          clearTimeout(t); off(); reject(new HearthError(`socket ${s}`, { code: 'closed', transport: true }));
        }
      });
    });
  }

  /**
   * Send a frame without waiting for a reply. @param {Object} frame @returns {boolean} whether it was sent
   */
  send(frame) {
    if (!this.isOpen) return false;
    try { this._ws.send(JSON.stringify(frame)); return true; } catch { return false; }
  }

  /**
   * Send `{type, request_id, ...fields}` and wait for the frame that echoes the request_id.
   * Resolves with the reply frame; rejects with a HearthError: the contract error of an `error` frame
   * (transport false), or `not_connected` / `timeout` / `closed` (transport true).
   * @param {string} type
   * @param {Object} [fields]
   * @param {{timeout?: number}} [opts] default client.opts.requestTimeout (10 s)
   * @returns {Promise<Object>}
   */
  request(type, fields = {}, { timeout = this.client.opts.requestTimeout } = {}) {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject(new HearthError(`${this.name} socket is not open`, { code: 'not_connected', transport: true, sent: false }));
        return;
      }
      const id = `${this.name}-${++this.client._seq}`;
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new HearthError(`${type} timed out`, { code: 'timeout', transport: true, sent: true, requestId: id }));
      }, timeout);
      this._pending.set(id, { resolve, reject, timer, type });
      try {
        this._ws.send(JSON.stringify({ ...fields, type, request_id: id }));
        this.stats.requests++;
        this.client.stats.wsRequests++;
      } catch (err) {
        clearTimeout(timer);
        this._pending.delete(id);
        reject(new HearthError('send failed', { code: 'closed', transport: true, sent: false, cause: err }));
      }
    });
  }

  /**
   * Check that an open socket is alive with a `ping`; any answer (even an `error`) counts. A socket that does
   * not answer within opts.probeTimeout is dropped and reconnected. @returns {Promise<boolean>} alive
   */
  async probe() {
    if (!this.isOpen || this._probing) return true;
    this._probing = true;
    try {
      await this.request('ping', {}, { timeout: this.client.opts.probeTimeout });
      return true;
    } catch (err) {
      if (!isTransportError(err)) return true;
      if (err.code === 'timeout' && this._ws) this._dropAndReconnect('probe timed out');
      return false;
    } finally {
      this._probing = false;
    }
  }

  /** Switch an open ticket socket to another token with a `reauthenticate` frame. @returns {Promise<boolean>} */
  async reauthenticate(token) {
    if (!this.isOpen || this._credKind !== 'ticket' || !token) return false;
    if (this._credToken === token) return true;
    this._reauthToken = token;
    try {
      await this.request('reauthenticate', { token });
      this._credToken = token;
      this.client.stats.reauths++;
      return true;
    } catch {
      this._reauthToken = null;
      return false;
    }
  }

  // ---- internals ----

  _setState(s) {
    if (s === this.state) return;
    const prev = this.state;
    this.state = s;
    for (const cb of [...this._stateListeners]) {
      try { cb(s, this, prev); } catch (err) { console.error(err); }
    }
    this.emit('state', s, prev);
    this.client._socketStateChanged(this);
  }

  _clearTimer() {
    if (this._timer) clearTimeout(this._timer);
    this._timer = null;
    this.nextRetryAt = null;
  }

  _teardown(code, reason) {
    const ws = this._ws;
    this._ws = null;
    this._stopProbe();
    this._clearConnectTimer();
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try { if (ws.readyState <= 1) ws.close(code, reason); } catch { /* already closing */ }
  }

  _rejectAll() {
    for (const [id, p] of this._pending) {
      clearTimeout(p.timer);
      p.reject(new HearthError(`${this.name} socket closed`, { code: 'closed', transport: true, sent: true, requestId: id }));
    }
    this._pending.clear();
  }

  async _credentials() {
    const c = this.client;
    if (this.auth === 'user' || c.token) {
      // A refresh in flight is about to revoke the token: mint the ticket with its successor.
      await c._refreshSettled();
      const token = c.token;
      if (!token) throw new HearthError('not signed in', { code: 'signed_out' });
      this._credKind = 'ticket';
      this._credToken = token;
      const { ticket } = await c.wsTicket({ token });
      return { ticket };
    }
    this._credToken = null;
    const guest = c.guestToken;
    this._credKind = guest ? 'guest' : 'anonymous';
    return guest ? { guest } : {};
  }

  async _connect(isReconnect) {
    const gen = ++this._gen;
    this._clearTimer();
    this._setState(isReconnect ? (this.client.online ? 'reconnecting' : 'offline') : 'connecting');
    let query;
    try {
      query = await this._credentials();
    } catch (err) {
      if (gen === this._gen && this._wanted) this._connectFailed(err);
      return;
    }
    if (gen !== this._gen || !this._wanted) return;
    const c = this.client;
    let ws;
    try {
      ws = new c._WebSocket(c.wsUrl(this.path, query));
    } catch (err) {
      this._connectFailed(new HearthError('WebSocket failed', { code: 'network', transport: true, cause: err }));
      return;
    }
    this.stats.handshakes++;
    c.stats.handshakes++;
    if (isReconnect) { this.stats.reconnects++; c.stats.reconnects++; }
    this._ws = ws;
    this._final = null;
    this._openedAt = 0;
    ws.onmessage = (ev) => { if (this._ws === ws) this._onFrame(ev.data); };
    ws.onclose = (ev) => { if (this._ws === ws) this._onClose(ev); };
    ws.onerror = () => { /* a close event follows */ };
    this._connectTimer = setTimeout(() => {
      this._connectTimer = null;
      if (this._ws === ws && this.state !== 'open') this._dropAndReconnect('no connected frame');
    }, c.opts.connectTimeout);
  }

  _connectFailed(err) {
    this.lastError = err;
    if (err.code === 'signed_out') { this._wanted = false; this._setState('signed_out'); return; }
    if (err.status === 401) { this._authFailure(); return; }
    if (err.code === 'rate_limited') { this._scheduleReconnect(this._rateLimitDelay(err.retryAfterMs)); return; }
    this._scheduleReconnect();
  }

  _rateLimitDelay(ms) {
    const o = this.client.opts;
    const wait = typeof ms === 'number' && ms >= 0 ? ms : o.rateLimitDefault;
    this._notBefore = Date.now() + wait;
    return wait + backoffDelay(this._attempt, o);
  }

  _scheduleReconnect(delay) {
    if (!this._wanted) return;
    const c = this.client;
    if (delay == null) delay = backoffDelay(this._attempt, c.opts);
    this._attempt++;
    this._clearTimer();
    this._setState(c.online ? 'reconnecting' : 'offline');
    this.nextRetryAt = Date.now() + delay;
    this._timer = setTimeout(() => { this._timer = null; this.nextRetryAt = null; this._connect(true); }, delay);
  }

  _onFrame(data) {
    if (typeof data !== 'string') return;
    let f;
    try { f = JSON.parse(data); } catch { return; }
    if (!f || typeof f !== 'object' || typeof f.type !== 'string') return;
    this._lastHeard = Date.now();
    const c = this.client;
    switch (f.type) {
      case 'connected':
        this._onConnected(f);
        return;
      case 'error':
        if (f.close_code != null || f.retry) this._final = f;
        break;
      case 'reauthenticated':
        if (this._reauthToken) { this._credToken = this._reauthToken; this._reauthToken = null; }
        break;
      case 'token_expiring':
        c._onTokenExpiring(this, f);
        break;
      default:
    }
    if (f.request_id != null && this._pending.has(f.request_id)) {
      const p = this._pending.get(f.request_id);
      this._pending.delete(f.request_id);
      clearTimeout(p.timer);
      if (f.type === 'error') {
        p.reject(new HearthError(f.message || f.code, { code: f.code || 'internal', retryAfterMs: f.retry_after_ms ?? null,
          fields: f.fields || null, requestId: f.request_id, frame: f, sent: true }));
      } else {
        p.resolve(f);
      }
      return;
    }
    if (f.type === 'message' && f.message) { this._deliverMessage(f); return; }
    this._emitFrame(f);
  }

  _onConnected(f) {
    const c = this.client;
    this._clearConnectTimer();
    this.connected = f;
    this._openedAt = Date.now();
    this._authRetried = false;
    this._notBefore = 0;
    if (this.auth === 'support') {
      this.guest = f.guest || null;
      if (f.guest_token) c._setGuestToken(f.guest_token);
      // An anonymous connection is the new guest's from now on (what a 4401 on it means follows that).
      if (this._credKind === 'anonymous' && f.guest) this._credKind = 'guest';
    }
    this.stats.opens++;
    this._setState('open');
    this._startProbe();
    this._emitFrame(f);
    c._onSocketConnected(this, f);
  }

  /** Deliver a `message` frame unless its message id was delivered already. @returns {boolean} delivered */
  _deliverMessage(frame) {
    const m = frame.message;
    if (m && m.id != null) {
      if (this._seen.has(m.id)) {
        this.stats.duplicatesDropped++;
        this.client.stats.duplicatesDropped++;
        return false;
      }
      this._seen.add(m.id);
      const limit = this.client.opts.seenLimit;
      if (this._seen.size > limit) {
        let drop = this._seen.size - limit;
        for (const id of this._seen) { if (drop-- <= 0) break; this._seen.delete(id); }
      }
      if (this.name === 'chat') this.client._advanceCursor(m.id);
    }
    this._emitFrame(frame);
    return true;
  }

  _emitFrame(f) {
    this.emit(f.type, f, this);
    if (this.forward) this.client.emit(f.type, f, this);
  }

  _onClose(ev) {
    const ws = this._ws;
    this._ws = null;
    if (ws) ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    this._stopProbe();
    this._clearConnectTimer();
    const final = this._final;
    this._final = null;
    const code = (ev && ev.code) || 1006;
    this.lastClose = { code, reason: (ev && ev.reason) || '', final, at: Date.now() };
    this.stats.closes++;
    if (this._openedAt && Date.now() - this._openedAt >= this.client.opts.stableAfter) this._attempt = 0;
    this._openedAt = 0;
    this._rejectAll();
    this.emit('close', this.lastClose, this);
    if (!this._wanted) return;
    switch (closeAction(code, final)) {
      case 'stop':
        this._wanted = false;
        this._setState('closed');
        return;
      case 'forbidden': {
        this._wanted = false;
        const err = new HearthError((final && final.message) || 'forbidden', { code: 'forbidden', status: 403, frame: final });
        this.lastError = err;
        this._setState('closed');
        this.emit('forbidden', err, this);
        if (this.forward) this.client.emit('forbidden', err, this);
        return;
      }
      case 'reauthenticate':
        this._authFailure();
        return;
      case 'rate_limited':
        this._scheduleReconnect(this._rateLimitDelay(final ? final.retry_after_ms : null));
        return;
      default: {
        const after = final && typeof final.retry_after_ms === 'number' ? final.retry_after_ms : null;
        this._scheduleReconnect(after != null ? after + backoffDelay(this._attempt, this.client.opts) : undefined);
      }
    }
  }

  /** 4401 (or a ticket refused with 401): recover once, then give up as signed_out. */
  async _authFailure() {
    const c = this.client;
    if (this._credKind === 'guest' && c._guestSignIns > 0) {
      // The visitor is signing up or in with this guest token, and the server ended it on purpose: the
      // sign-in restarts this socket as the user (and reconnects it as before if the sign-in fails).
      this._parked = true;
      this._setState(c.online ? 'reconnecting' : 'offline');
      return;
    }
    if (this._credKind === 'guest' || this._credKind === 'anonymous') {
      // A stale guest token: forget it and start a fresh anonymous conversation, once.
      if (this._credKind === 'guest' && !this._authRetried) {
        this._authRetried = true;
        c._setGuestToken(null);
        this._connect(true);
      } else {
        this._wanted = false;
        this._setState('closed');
      }
      return;
    }
    const gen = this._gen;
    this._setState(c.online ? 'reconnecting' : 'offline');
    // Our own refresh may be what revoked this socket's token: let it finish, and if the token was
    // replaced meanwhile, this is no failure: reconnect with the new one (it does not count as the retry).
    await c._refreshSettled();
    if (gen !== this._gen || !this._wanted) return;
    if (c.token && this._credToken && this._credToken !== c.token) { this._connect(true); return; }
    if (this._authRetried) { c._signOut('unauthenticated'); return; }
    this._authRetried = true;
    try {
      await c._recoverAuth(this._credToken);
    } catch {
      if (gen === this._gen && this._wanted) c._signOut('unauthenticated');
      return;
    }
    if (gen === this._gen && this._wanted) this._connect(true);
  }

  _dropAndReconnect(reason) {
    const ws = this._ws;
    if (!ws) return;
    this._onClose({ code: 1006, reason });
    try { ws.close(4000, reason); } catch { /* ignore */ }
  }

  _startProbe() {
    this._stopProbe();
    const idle = this.client.opts.idleProbe;
    if (!(idle > 0)) return;
    this._probeTimer = setInterval(() => {
      if (Date.now() - this._lastHeard >= idle) this.probe();
    }, Math.max(1000, Math.min(idle, 15000)));
  }

  _clearConnectTimer() {
    if (this._connectTimer) clearTimeout(this._connectTimer);
    this._connectTimer = null;
  }

  _stopProbe() {
    if (this._probeTimer) clearInterval(this._probeTimer);
    this._probeTimer = null;
  }
}

/**
 * The Hearth client: accounts and token, REST with error mapping, one reconnecting Socket per endpoint, and every
 * operation of the contract, WebSocket first with a REST fallback.
 *
 * Client events (`on(type, cb)`, cb(frame, socket)): every frame of the chat, tasks and notifications sockets by
 * its type (`message`, `message_updated`, `message_deleted`, `room_updated`, `member_joined`, `member_left`,
 * `typing`, `read_receipt`, `task_list`, `task_created`, `task_progress`, `task_completed`, `task_failed`,
 * `task_cancelled`, `notification`, `connected`, `error`, `forbidden`); `message` frames from a resume carry
 * `resumed: true` (and `polled: true` when the long-poll fallback brought them). While long-polling, changes of
 * the room list are emitted as `room_updated` / `member_left` frames with `polled: true`. Also `signed_in` (user),
 * `signed_out` ({reason}), `token` ({token, expires_at}), `state` (state), `resumed` ({count}),
 * `resume_failed` (error), `polling` (boolean), `outbox` (entries), `outbox_sent` ({entry, message, method}),
 * `outbox_failed` ({entry, error}).
 *
 * Tokens: one refresh at a time; REST requests and ticket requests made while it runs wait for it and use the
 * new token, and a 401 for a request made with a token that has since been replaced is retried once with the
 * current token instead of signing out.
 */
export class HearthClient extends Emitter {
  /**
   * @param {Object} [options]
   * @param {string} [options.baseUrl=location.origin] origin of the API and of the WebSocket endpoints
   * @param {Storage} [options.storage=localStorage] where the token, user and guest token are kept
   * @param {Function} [options.WebSocket] WebSocket constructor (tests)
   * @param {Function} [options.fetch] fetch implementation (tests)
   * @param {() => number} [options.random=Math.random] jitter source (tests)
   * @param {boolean} [options.listen=true] listen to window online/offline/visibilitychange/storage events
   * Any key of DEFAULTS may be given too.
   */
  constructor({ baseUrl, storage, WebSocket, fetch, random, listen = true, ...options } = {}) {
    super();
    const origin = baseUrl ?? (globalThis.location ? globalThis.location.origin : 'http://localhost');
    /** origin of the API, without a trailing slash */
    this.baseUrl = String(origin).replace(/\/+$/, '');
    /** @type {Storage} */
    this.storage = storage ?? defaultStorage();
    /** effective options (DEFAULTS plus constructor overrides) */
    this.opts = { ...DEFAULTS, ...options, random: random || Math.random };
    this._WebSocket = WebSocket || globalThis.WebSocket;
    this._fetch = fetch || ((...args) => globalThis.fetch(...args));
    /** counters for tests and diagnostics */
    this.stats = { handshakes: 0, reconnects: 0, tickets: 0, wsRequests: 0, restRequests: 0, restFallbacks: 0,
      refreshes: 0, reauths: 0, resumes: 0, resumedMessages: 0, duplicatesDropped: 0, polls: 0,
      authRetries: 0, outboxSent: 0, outboxFailed: 0 };
    /** @type {string|null} */
    this.token = this._read(KEYS.token);
    /** @type {string|null} */
    this.tokenExpiresAt = this._read(KEYS.expires);
    /** @type {Object|null} the signed-in user `{id, username, display_name, is_staff, created_at}` */
    this.user = this._readJson(KEYS.user);
    /** the resume cursor of /ws/chat/: highest message id delivered live (null until known) */
    this.lastMessageIdSeen = null;
    /** @type {Object<string, Socket>} sockets made so far, by name */
    this.sockets = {};
    /** overall state, see STATES */
    this.state = this.token ? 'idle' : 'signed_out';
    this._seq = 0;
    this._guestSignIns = 0; // sign-ups/sign-ins in flight that carry the guest token
    this._refreshing = null;
    this._refreshTimer = null;
    this._tokenIssuedAt = 0;
    this._resumeSeq = 0;
    this._poll = null;
    this._pollStartTimer = null;
    this._roomSnapshot = null; // Map room id → what a room_updated would change, from the last room list
    this._outboxSending = new Set(); // client_ids being sent now
    this._outboxFresh = new Set(); // client_ids just written by sendMessage({queue}), not yet attempted
    this._outboxWaiters = new Map(); // client_id → [{resolve, reject}] of sendMessage({queue}) / retryOutbox
    this._outboxFlushing = null;
    this._outboxAgain = false;
    this._outboxTimer = null;
    this._outboxFailures = 0;
    this._stateListeners = new Set();
    this._unlisten = listen ? this._listen() : () => {};
    this._scheduleProactiveRefresh();
  }

  // ---------------------------------------------------------------- state

  /** Whether a token is held. */
  get isSignedIn() { return !!this.token; }

  /** Whether the browser says it is online. */
  get online() { return !(globalThis.navigator && globalThis.navigator.onLine === false); }

  /**
   * Observe the overall state; cb(state, client) is called at once with the current state, then on each change.
   * @returns {() => void} unsubscribe
   */
  onState(cb) {
    this._stateListeners.add(cb);
    try { cb(this.state, this); } catch (err) { console.error(err); }
    return () => this._stateListeners.delete(cb);
  }

  /** The states of every socket made so far, e.g. {chat: 'open', tasks: 'reconnecting'}. */
  socketStates() {
    const out = {};
    for (const [n, s] of Object.entries(this.sockets)) out[n] = s.state;
    return out;
  }

  _computeState() {
    if (!this.token) return 'signed_out';
    if (!this.online) return 'offline';
    const active = USER_SOCKETS.map((n) => this.sockets[n]).filter((s) => s && s.started);
    if (!active.length) {
      return USER_SOCKETS.some((n) => this.sockets[n] && this.sockets[n].state === 'signed_out') ? 'signed_out' : 'idle';
    }
    const states = active.map((s) => s.state);
    if (states.every((s) => s === 'open')) return 'open';
    if (states.includes('reconnecting') || states.includes('offline')) return 'reconnecting';
    return 'connecting';
  }

  _recomputeState() {
    const s = this._computeState();
    if (s === this.state) return;
    this.state = s;
    for (const cb of [...this._stateListeners]) {
      try { cb(s, this); } catch (err) { console.error(err); }
    }
    this.emit('state', s);
  }

  _socketStateChanged(sock) {
    this._recomputeState();
    if (sock.name === 'chat') this._updatePoll();
  }

  // ---------------------------------------------------------------- storage

  _read(key) { try { return this.storage.getItem(key); } catch { return null; } }
  _readJson(key) { try { return JSON.parse(this._read(key) || 'null'); } catch { return null; } }
  _write(key, value) {
    try { if (value == null) this.storage.removeItem(key); else this.storage.setItem(key, value); } catch { /* full or blocked */ }
  }

  /** The guest token of the anonymous support conversation, if one was issued. */
  get guestToken() { return this._read(KEYS.guest); }

  _setGuestToken(t) { this._write(KEYS.guest, t || null); }

  _setUser(user) {
    if (!user) return;
    this.user = user;
    this._write(KEYS.user, JSON.stringify(user));
  }

  _storeToken(token, expiresAt) {
    this.token = token;
    this.tokenExpiresAt = expiresAt || null;
    this._tokenIssuedAt = Date.now();
    this._write(KEYS.token, token);
    this._write(KEYS.expires, expiresAt || null);
    this._scheduleProactiveRefresh();
  }

  // ---------------------------------------------------------------- REST

  /**
   * Call the REST API. Sends `Authorization: Bearer <token>` when signed in (and `auth` is not false).
   * Resolves with the parsed JSON body ({} for 204 or an empty body), or the Response when `raw`.
   * Rejects with a HearthError: the contract error (`.code`, `.status`, `.retryAfter`, `.fields`), or
   * `network` / `timeout` / `aborted` with `transport: true`. A 401 for the current token signs the client out.
   * @param {string} method
   * @param {string} path e.g. '/api/rooms'
   * @param {{body?: any, query?: Object, headers?: Object, auth?: boolean, guest?: string, raw?: boolean,
   *   timeout?: number, signal?: AbortSignal, noSignOut?: boolean, token?: string}} [opts] `token`: send this
   *   token instead of the current one, without waiting for a refresh in flight and without the 401 handling.
   * While a refresh runs, a request waits for it; a 401 for a token that has been replaced since is retried once.
   * @returns {Promise<any>}
   */
  async api(method, path, opts = {}) {
    const { body, query, headers = {}, auth = true, guest = null, raw = false, timeout = this.opts.restTimeout,
      signal, noSignOut = false, token = null, _retried = false } = opts;
    // A request made while the token is being refreshed waits for the refresh and uses the new token
    // (the refresh revokes the old one on the server before its answer arrives here).
    if (auth && !token) await this._refreshSettled();
    const url = new URL(path, `${this.baseUrl}/`);
    for (const [k, v] of Object.entries(compact(query))) url.searchParams.set(k, String(v));
    const h = { Accept: 'application/json', ...headers };
    let payload;
    if (body !== undefined) { h['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
    const usedToken = auth ? (token || this.token) : null;
    if (usedToken) h.Authorization = `Bearer ${usedToken}`;
    if (guest) h['X-Guest-Token'] = guest;
    const ctl = new AbortController();
    let timedOut = false;
    const timer = timeout > 0 ? setTimeout(() => { timedOut = true; ctl.abort(); }, timeout) : null;
    const onAbort = () => ctl.abort();
    if (signal) { if (signal.aborted) ctl.abort(); else signal.addEventListener('abort', onAbort, { once: true }); }
    let res;
    try {
      res = await this._fetch(url.toString(), { method, headers: h, body: payload, signal: ctl.signal });
    } catch (err) {
      const aborted = !!(signal && signal.aborted);
      throw new HearthError(aborted ? 'request aborted' : timedOut ? `${method} ${path} timed out` : 'network error', {
        code: aborted ? 'aborted' : timedOut ? 'timeout' : 'network', transport: true, cause: err });
    } finally {
      if (timer) clearTimeout(timer);
      if (signal) signal.removeEventListener('abort', onAbort);
    }
    this.stats.restRequests++;
    if (!res.ok) {
      const err = await errorFromResponse(res);
      if (res.status === 401 && usedToken && !noSignOut && !token) {
        // Made with a token that has since been replaced (our own refresh, or another tab's): not a
        // sign-out, retry once with the current token. Only a 401 for the current token signs out.
        await this._refreshSettled();
        this._adoptStoredToken();
        if (!_retried && this.token && this.token !== usedToken) {
          this.stats.authRetries++;
          return this.api(method, path, { ...opts, _retried: true });
        }
        if (this.token === usedToken) this._signOut('unauthenticated');
      }
      throw err;
    }
    if (raw) return res;
    if (res.status === 204) return {};
    const text = await res.text();
    if (!text) return {};
    try { return JSON.parse(text); } catch {
      throw new HearthError('the server answered something that is not JSON', { code: 'invalid_response', status: res.status });
    }
  }

  // ---------------------------------------------------------------- accounts

  /**
   * Create an account and sign in. @returns {Promise<{token, expires_at, user}>}
   * @param {string} username @param {string} password @param {string} [display_name]
   * A visitor's guest token (an anonymous support conversation) is sent as `X-Guest-Token`: the
   * conversation becomes the new user's. The guest token is forgotten once signed in.
   */
  async register(username, password, display_name) {
    const body = { username, password };
    if (display_name) body.display_name = display_name;
    return this._signInWith('/api/auth/register', body);
  }

  /**
   * Sign in. @returns {Promise<{token, expires_at, user}>}
   * Like register(), a visitor's guest token goes along as `X-Guest-Token`, so that their support
   * conversation becomes the user's own (contract v1.1, section 6); it is forgotten once signed in.
   */
  async login(username, password) {
    return this._signInWith('/api/auth/login', { username, password });
  }

  async _signInWith(path, body) {
    const guest = this.guestToken;
    if (guest) this._guestSignIns++;
    let r = null;
    try {
      r = await this.api('POST', path, { body, auth: false, guest });
    } finally {
      if (guest) this._guestSignIns--;
      const sup = this.sockets.support;
      if (!r && sup && sup._parked && this._guestSignIns === 0) {
        // The sign-in failed: the guest conversation goes on.
        sup._parked = false;
        if (sup._wanted) sup._connect(true);
      }
    }
    this._signedIn(r);
    return r;
  }

  /** Close the sockets, revoke the token on the server (best effort) and forget it. */
  async logout() {
    const token = this.token;
    for (const n of USER_SOCKETS) if (this.sockets[n]) this.sockets[n].stop({ state: 'signed_out' });
    if (token) {
      try { await this.api('POST', '/api/auth/logout', { noSignOut: true }); } catch { /* revoked or offline anyway */ }
    }
    this._signOut('logout');
  }

  /** Fetch the signed-in user (and keep it). @returns {Promise<Object>} user */
  async me() {
    const r = await this.api('GET', '/api/auth/me');
    this._setUser(r.user);
    return r.user;
  }

  /**
   * Exchange the token for a new one (POST /api/auth/refresh); the new token is stored and sent as
   * `reauthenticate` on every open socket. Single-flight, and serialized across tabs with Web Locks where
   * available: a token already refreshed by another tab is adopted instead. @returns {Promise<string>} token
   */
  refresh() {
    if (this._refreshing) return this._refreshing;
    const old = this.token;
    const run = async () => {
      const stored = this._read(KEYS.token);
      if (stored && stored !== old) { this._adoptStoredToken(); return this.token; }
      if (!old) throw new HearthError('not signed in', { code: 'signed_out' });
      const r = await this.api('POST', '/api/auth/refresh', { noSignOut: true, token: old });
      this.stats.refreshes++;
      this._storeToken(r.token, r.expires_at);
      this.emit('token', { token: r.token, expires_at: r.expires_at });
      this._reauthAll();
      return r.token;
    };
    const locks = globalThis.navigator && globalThis.navigator.locks;
    const p = locks && typeof locks.request === 'function' ? locks.request('hearth-token-refresh', run) : run();
    this._refreshing = p.finally(() => { this._refreshing = null; });
    return this._refreshing;
  }

  /**
   * Get a single-use WebSocket ticket (POST /api/auth/ws-ticket), minted by `token` (default: the current
   * token, once a refresh in flight has finished). @returns {Promise<{ticket, expires_at}>}
   */
  async wsTicket({ token } = {}) {
    this.stats.tickets++;
    return this.api('POST', '/api/auth/ws-ticket', { noSignOut: true, token: token || undefined });
  }

  /** Resolves once no token refresh is in flight (whatever its outcome). */
  async _refreshSettled() {
    while (this._refreshing) {
      const p = this._refreshing;
      try { await p; } catch { /* the caller goes on with whatever token there is */ }
      if (this._refreshing === p) break;
    }
  }

  _signedIn(r) {
    const prevUser = this.user;
    this._storeToken(r.token, r.expires_at);
    this._setUser(r.user);
    this.lastMessageIdSeen = null;
    this._roomSnapshot = null;
    for (const s of Object.values(this.sockets)) s._seen.clear();
    // The guest token went along with the sign-in (X-Guest-Token): its conversation is the user's now,
    // and the token no longer works. An open support socket switches to the user's conversation.
    this._setGuestToken(null);
    if (this.sockets.support && this.sockets.support.started) this.sockets.support.restart();
    this._recomputeState();
    this.emit('signed_in', r.user, prevUser);
    this.emit('outbox', this.outbox);
  }

  _signOut(reason) {
    const old = this.token;
    this.token = null;
    this.tokenExpiresAt = null;
    this.user = null;
    this.lastMessageIdSeen = null;
    this._roomSnapshot = null;
    this._outboxStopTimer();
    if (this._refreshTimer) clearTimeout(this._refreshTimer);
    this._refreshTimer = null;
    // Leave a token another tab just stored alone.
    const stored = this._read(KEYS.token);
    if (!stored || stored === old) {
      this._write(KEYS.token, null);
      this._write(KEYS.expires, null);
      this._write(KEYS.user, null);
    }
    for (const n of USER_SOCKETS) {
      const s = this.sockets[n];
      if (s && (s.started || s.state !== 'idle')) s.stop({ state: 'signed_out' });
    }
    this._stopPoll();
    const sup = this.sockets.support;
    if (sup && sup.started && sup._credKind === 'ticket') sup.restart();
    this._recomputeState();
    if (old) this.emit('signed_out', { reason });
  }

  /** Take the token from storage if another tab changed it. @returns {boolean} changed */
  _adoptStoredToken() {
    const t = this._read(KEYS.token);
    if (t === this.token) return false;
    if (!t) return false; // handled by the storage listener / _recoverAuth
    const prevUser = this.user;
    this.token = t;
    this.tokenExpiresAt = this._read(KEYS.expires);
    this.user = this._readJson(KEYS.user) || this.user;
    this._scheduleProactiveRefresh();
    if (prevUser && this.user && prevUser.id !== this.user.id) {
      // Another account was signed in in another tab: follow it.
      this.lastMessageIdSeen = null;
      for (const n of USER_SOCKETS) if (this.sockets[n] && this.sockets[n].started) this.sockets[n].restart();
      this.emit('signed_in', this.user, prevUser);
    } else {
      this._reauthAll();
    }
    return true;
  }

  /** After a 4401: use a token another tab stored, else refresh once if the token may still be refreshable. */
  async _recoverAuth(failedToken) {
    const stored = this._read(KEYS.token);
    if (!stored) throw new HearthError('signed out', { code: 'signed_out' });
    if (stored !== this.token) this._adoptStoredToken();
    if (this.token !== failedToken) return this.token;
    if (this.tokenExpiresAt && Date.parse(this.tokenExpiresAt) <= Date.now()) {
      throw new HearthError('token expired', { code: 'unauthenticated', status: 401 });
    }
    // A token refreshed moments ago is not refreshed again (a socket closed as the old token was revoked
    // would otherwise revoke the new one): reconnect with it once; a second 4401 signs out.
    if (this._tokenIssuedAt && Date.now() - this._tokenIssuedAt < 10000 && this.stats.refreshes > 0) return this.token;
    return this.refresh();
  }

  _reauthAll() {
    for (const s of Object.values(this.sockets)) {
      if (s.isOpen && s._credKind === 'ticket' && s._credToken !== this.token) s.reauthenticate(this.token);
    }
  }

  async _onTokenExpiring(sock, frame, tries = 0) {
    if (!this.token) return;
    // The socket is merely behind (its credential is older than ours): move it over.
    if (sock._credToken && sock._credToken !== this.token) { sock.reauthenticate(this.token); return; }
    if (frame.expires_at && this.tokenExpiresAt && Date.parse(this.tokenExpiresAt) > Date.parse(frame.expires_at)) {
      sock.reauthenticate(this.token);
      return;
    }
    try {
      await this.refresh();
    } catch (err) {
      const left = this.tokenExpiresAt ? Date.parse(this.tokenExpiresAt) - Date.now() : 0;
      if (isTransportError(err) && tries < 5 && left > 5000) {
        setTimeout(() => this._onTokenExpiring(sock, frame, tries + 1), 5000);
      }
    }
  }

  _scheduleProactiveRefresh() {
    if (this._refreshTimer) clearTimeout(this._refreshTimer);
    this._refreshTimer = null;
    if (!this.token || !this.tokenExpiresAt) return;
    const ms = Date.parse(this.tokenExpiresAt) - Date.now() - this.opts.refreshAhead;
    if (!(ms > 0) || ms > 2 ** 31 - 1) return;
    const token = this.token;
    this._refreshTimer = setTimeout(() => {
      this._refreshTimer = null;
      if (this.token === token) this.refresh().catch(() => {});
    }, ms);
    if (this._refreshTimer && typeof this._refreshTimer.unref === 'function') this._refreshTimer.unref();
  }

  // ---------------------------------------------------------------- sockets

  /**
   * The Socket of an endpoint (made on first use, not started).
   * @param {'chat'|'tasks'|'notifications'|'support'|'admin'} name
   * @returns {Socket}
   */
  socket(name) {
    if (!this.sockets[name]) {
      const path = SOCKET_PATHS[name];
      if (!path) throw new Error(`unknown socket ${name}`);
      this.sockets[name] = new Socket(this, name, path, { auth: name === 'support' ? 'support' : 'user', forward: FORWARDED.has(name) });
    }
    return this.sockets[name];
  }

  /** @type {Socket} /ws/chat/ */ get chat() { return this.socket('chat'); }
  /** @type {Socket} /ws/tasks/ */ get tasks() { return this.socket('tasks'); }
  /** @type {Socket} /ws/notifications/ */ get notifications() { return this.socket('notifications'); }
  /** @type {Socket} /ws/support/ (works signed out) */ get support() { return this.socket('support'); }
  /** @type {Socket} /ws/admin/chat/ (staff) */ get admin() { return this.socket('admin'); }

  /**
   * Start the signed-in user's sockets.
   * @param {{chat?: boolean, tasks?: boolean, notifications?: boolean, admin?: boolean}} [which]
   * @returns {HearthClient}
   */
  connect({ chat = true, tasks = true, notifications = true, admin = false } = {}) {
    if (!this.token) throw new HearthError('not signed in', { code: 'signed_out' });
    const want = { chat, tasks, notifications, admin };
    for (const n of USER_SOCKETS) if (want[n]) this.socket(n).start();
    this._recomputeState();
    // Messages left unsent (e.g. before a reload) go now, over REST if the socket is not open yet.
    setTimeout(() => this._outboxKick(), 0);
    return this;
  }

  /** Close the user's sockets (1000, no reconnect). The support socket is left alone. */
  disconnect() {
    for (const n of USER_SOCKETS) if (this.sockets[n]) this.sockets[n].stop();
    this._stopPoll();
    this._recomputeState();
  }

  /** ws:// or wss:// URL of an endpoint, following the page's (baseUrl's) protocol. */
  wsUrl(path, query = {}) {
    const u = new URL(path, `${this.baseUrl}/`);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    for (const [k, v] of Object.entries(compact(query))) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /** Stop every socket and timer and remove the window listeners. */
  destroy() {
    for (const s of Object.values(this.sockets)) s.stop();
    this._stopPoll();
    this._outboxStopTimer();
    if (this._refreshTimer) clearTimeout(this._refreshTimer);
    this._unlisten();
  }

  _listen() {
    const w = typeof window !== 'undefined' ? window : null;
    const d = typeof document !== 'undefined' ? document : null;
    if (!w || typeof w.addEventListener !== 'function') return () => {};
    const onOnline = () => {
      this._recomputeState();
      for (const s of Object.values(this.sockets)) { if (s.isOpen) s.probe(); else s.kick(); }
      this._outboxKick();
    };
    const onOffline = () => {
      for (const s of Object.values(this.sockets)) if (s.state === 'reconnecting' && s._timer) s._setState('offline');
      this._recomputeState();
    };
    const onVisible = () => {
      if (d && d.visibilityState !== 'visible') return;
      for (const s of Object.values(this.sockets)) {
        if (s.isOpen) { if (Date.now() - s._lastHeard > 20000) s.probe(); } else s.kick();
      }
    };
    const onStorage = (ev) => {
      if (ev.storageArea && ev.storageArea !== this.storage) return;
      if (ev.key !== null && ev.key === this._outboxKey()) { this.emit('outbox', this.outbox); return; }
      if (ev.key !== null && ev.key !== KEYS.token) return;
      const t = this._read(KEYS.token);
      if (t === this.token) return;
      if (!t) { this._signOut('signed_out_elsewhere'); return; }
      if (!this.token) {
        this.token = t;
        this.tokenExpiresAt = this._read(KEYS.expires);
        this.user = this._readJson(KEYS.user);
        this._scheduleProactiveRefresh();
        this._recomputeState();
        this.emit('signed_in', this.user, null);
        return;
      }
      this._adoptStoredToken();
    };
    w.addEventListener('online', onOnline);
    w.addEventListener('offline', onOffline);
    w.addEventListener('storage', onStorage);
    if (d) d.addEventListener('visibilitychange', onVisible);
    return () => {
      w.removeEventListener('online', onOnline);
      w.removeEventListener('offline', onOffline);
      w.removeEventListener('storage', onStorage);
      if (d) d.removeEventListener('visibilitychange', onVisible);
    };
  }

  _onSocketConnected(sock, frame) {
    if (frame.user && sock._credKind === 'ticket') this._setUser(frame.user);
    this._recomputeState();
    if (sock.name === 'chat') this._afterChatConnected();
  }

  _advanceCursor(id) {
    if (typeof id === 'number' && (this.lastMessageIdSeen == null || id > this.lastMessageIdSeen)) this.lastMessageIdSeen = id;
  }

  async _afterChatConnected() {
    this._outboxKick();
    if (this.lastMessageIdSeen == null) {
      // First connection, and no room list read yet: the newest message of the user's rooms is where a
      // later resume starts (getRoomList learns it).
      try { await this.getRoomList(); } catch { /* next connect tries again */ }
      return;
    }
    await this._resume();
  }

  /**
   * Remember what a room list says: the rooms (to tell new and vanished ones apart later) and, while no
   * cursor is known yet, the newest message id as the cursor (message ids grow across the whole server, so
   * whatever arrives later has a higher id). With `emit`, a room that is new or changed since the last list
   * is announced as `room_updated` and a room no longer listed as `member_left` (of the user), each with
   * `polled: true`: what the chat socket would have pushed meanwhile.
   */
  _noteRooms(rooms, { emit = false } = {}) {
    const prev = this._roomSnapshot;
    const next = new Map();
    let max = 0;
    for (const room of rooms) {
      if (!room || room.id == null) continue;
      next.set(room.id, [room.name, room.kind, room.is_public, room.member_count, room.updated_at].join('\u0000'));
      if (room.last_message && room.last_message.id > max) max = room.last_message.id;
    }
    this._roomSnapshot = next;
    if (this.lastMessageIdSeen == null) this._advanceCursor(max);
    if (!emit) return;
    for (const room of rooms) {
      if (room && room.id != null && (!prev || prev.get(room.id) !== next.get(room.id))) {
        this.emit('room_updated', { type: 'room_updated', room, polled: true }, null);
      }
    }
    if (prev) {
      for (const id of prev.keys()) {
        if (!next.has(id)) this.emit('member_left', { type: 'member_left', room_id: id, user: this.user, polled: true }, null);
      }
    }
  }

  /** Fetch everything after the cursor (paging while has_more) and deliver each message once. */
  async _resume() {
    const seq = ++this._resumeSeq;
    const chat = this.chat;
    let after = this.lastMessageIdSeen;
    let count = 0;
    try {
      for (let page = 0; page < 1000; page++) {
        const r = await this.sync(after, { limit: 100 });
        if (seq !== this._resumeSeq) return;
        const msgs = r.messages || [];
        for (const m of msgs) if (chat._deliverMessage({ type: 'message', message: m, resumed: true })) count++;
        if (!r.has_more || !msgs.length) break;
        after = msgs[msgs.length - 1].id;
      }
      this.stats.resumes++;
      this.stats.resumedMessages += count;
      this.emit('resumed', { count });
    } catch (err) {
      this.emit('resume_failed', err);
    }
  }

  /** Whether the long-poll fallback is running (the chat socket is down, messages come over REST). */
  get polling() { return !!this._poll; }

  /** Whether the chat socket should be open but is not (never opened yet, reconnecting, offline). */
  _chatDown() {
    const chat = this.sockets.chat;
    return !!(chat && chat.started && chat.state !== 'open');
  }

  _updatePoll() {
    if (!(this.opts.longPollFallback && this.token && this._chatDown())) { this._stopPoll(); return; }
    if (this._poll || this._pollStartTimer) return;
    this._pollStartTimer = setTimeout(() => {
      this._pollStartTimer = null;
      if (this.opts.longPollFallback && this.token && this._chatDown() && !this._poll) this._runPoll();
    }, this.opts.longPollDelay);
  }

  _stopPoll() {
    if (this._pollStartTimer) clearTimeout(this._pollStartTimer);
    this._pollStartTimer = null;
    const poll = this._poll;
    this._poll = null;
    if (poll) { poll.abort(); this.emit('polling', false); }
  }

  /**
   * The REST fallback for receiving, while /ws/chat/ is not open (also when it never opened: WebSockets
   * blocked from the start): long-poll GET /api/sync from the cursor, delivering each message once through
   * the chat socket's de-duplication. Without a cursor yet, the room list gives one. The room list is read
   * again every opts.roomListInterval and when a message arrives for a room not in it (room_updated /
   * member_left are emitted for what changed). Stops when the socket opens; its resume takes over from the
   * same cursor, so nothing is lost or delivered twice.
   */
  async _runPoll() {
    const ctl = new AbortController();
    this._poll = ctl;
    this.emit('polling', true);
    let failures = 0;
    let roomsAt = 0;
    while (!ctl.signal.aborted && this.token) {
      try {
        if (this.lastMessageIdSeen == null || Date.now() - roomsAt >= this.opts.roomListInterval) {
          roomsAt = Date.now();
          const userId = this.user && this.user.id;
          try {
            const r = await this.api('GET', '/api/rooms', { signal: ctl.signal });
            if ((this.user && this.user.id) === userId && !ctl.signal.aborted) this._noteRooms(r.rooms || [], { emit: true });
          } catch (err) {
            // Without a cursor there is nothing to poll from yet; with one, the room list waits for next time.
            if (this.lastMessageIdSeen == null || ctl.signal.aborted) throw err;
          }
          if (ctl.signal.aborted) break;
          if (this.lastMessageIdSeen == null) this._advanceCursor(0);
        }
        const r = await this.api('GET', '/api/sync', {
          query: { after: this.lastMessageIdSeen, limit: 100, wait: 25 }, timeout: 40000, signal: ctl.signal });
        if (ctl.signal.aborted) break;
        this.stats.polls++;
        failures = 0;
        let unknownRoom = false;
        for (const m of r.messages || []) {
          this.chat._deliverMessage({ type: 'message', message: m, resumed: true, polled: true });
          if (this._roomSnapshot && m.room_id != null && !this._roomSnapshot.has(m.room_id)) unknownRoom = true;
        }
        if (unknownRoom) roomsAt = 0;
        this._outboxKick(); // REST answers: unsent messages can go now
      } catch (err) {
        if (ctl.signal.aborted || err.status === 401 || err.status === 403) break;
        await sleep(err.retryAfterMs ?? backoffDelay(failures++, { ...this.opts, backoffBase: 1000 }), ctl.signal);
      }
    }
    if (this._poll === ctl) { this._poll = null; this.emit('polling', false); }
  }

  /**
   * Run an operation over a socket when it is open, else (or on a transport failure) over REST.
   * `unsafe` operations (not idempotent) fall back only when the frame never left.
   */
  async _op(sockName, type, fields, rest, { unsafe = false } = {}) {
    const sock = this.sockets[sockName];
    if (sock && sock.isOpen) {
      try {
        return { method: 'websocket', ...stripFrame(await sock.request(type, fields)) };
      } catch (err) {
        if (!isTransportError(err) || (unsafe && err.sent)) throw err;
      }
    }
    this.stats.restFallbacks++;
    const { method, path, ...restOpts } = rest;
    const r = await this.api(method, path, restOpts);
    return { method: 'rest', ...(r && typeof r === 'object' && !Array.isArray(r) ? r : { data: r }) };
  }

  // ---------------------------------------------------------------- chat (section 4)
  // Every call resolves to the reply's fields plus `method: 'websocket' | 'rest'`.

  /** @returns {Promise<{method, rooms}>} the caller's rooms, most recent activity first */
  async getRoomList() {
    const userId = this.user && this.user.id;
    const r = await this._op('chat', 'get_room_list', {}, { method: 'GET', path: '/api/rooms' });
    if ((this.user && this.user.id) === userId && Array.isArray(r.rooms)) this._noteRooms(r.rooms);
    return r;
  }

  /** @returns {Promise<{method, room}>} */
  getRoom(roomId) {
    return this._op('chat', 'get_room', { room_id: roomId }, { method: 'GET', path: `/api/rooms/${enc(roomId)}` });
  }

  /**
   * Create a group room. Not idempotent: after a socket timeout it is NOT retried over REST.
   * @param {{name: string, is_public?: boolean, members?: string[]}} room
   * @returns {Promise<{method, room}>}
   */
  createRoom({ name, is_public, members } = {}) {
    const body = compact({ name, is_public, members: members && members.length ? members : undefined });
    return this._op('chat', 'create_room', body, { method: 'POST', path: '/api/rooms', body }, { unsafe: true });
  }

  /** The direct room with `username` (the same room every time). @returns {Promise<{method, room}>} */
  openDirect(username) {
    return this._op('chat', 'open_direct', { username }, { method: 'POST', path: '/api/rooms/direct', body: { username } });
  }

  /** Public group rooms by name match, most active first. @returns {Promise<{method, rooms}>} */
  getPublicRooms({ query, limit } = {}) {
    const q = compact({ query, limit });
    return this._op('chat', 'get_public_rooms', q, { method: 'GET', path: '/api/rooms/public', query: q });
  }

  /** @returns {Promise<{method, room}>} */
  joinRoom(roomId) {
    return this._op('chat', 'join_room', { room_id: roomId }, { method: 'POST', path: `/api/rooms/${enc(roomId)}/join` });
  }

  /** @returns {Promise<{method, room_id}>} */
  async leaveRoom(roomId) {
    const r = await this._op('chat', 'leave_room', { room_id: roomId }, { method: 'POST', path: `/api/rooms/${enc(roomId)}/leave` });
    return { room_id: roomId, ...r };
  }

  /** @returns {Promise<{method, room_id, user}>} */
  async addMember(roomId, username) {
    const r = await this._op('chat', 'add_member', { room_id: roomId, username },
      { method: 'POST', path: `/api/rooms/${enc(roomId)}/members`, body: { username } });
    return { room_id: roomId, ...r };
  }

  /**
   * A page of a room's messages, oldest first.
   * @param {number} roomId
   * @param {{before?: number, after?: number, limit?: number}} [page]
   * @returns {Promise<{method, room_id, messages, has_more}>}
   */
  async getMessages(roomId, { before, after, limit } = {}) {
    const q = compact({ before, after, limit });
    const r = await this._op('chat', 'get_messages', { room_id: roomId, ...q },
      { method: 'GET', path: `/api/rooms/${enc(roomId)}/messages`, query: q });
    return { room_id: roomId, messages: [], has_more: false, ...r };
  }

  /**
   * Send a message. Always carries a `client_id`; when the socket is not open, or the request fails for a
   * transport reason (timeout, socket closed), it is sent again over REST with the same client_id, so the
   * server stores it once. Contract errors (validation_failed, forbidden, ...) are thrown as they are.
   * @param {number} roomId
   * @param {string} content
   * With `queue: true` the message goes through the outbox (below): kept in storage until sent, and sent
   * again by itself after a network failure; the promise then resolves with `{method: 'queued', queued: true,
   * client_id, error}` when it could not go now.
   * @param {{clientId?: string, queue?: boolean}} [opts]
   * @returns {Promise<{method: 'websocket'|'rest', message: Object, client_id: string}>}
   */
  async sendMessage(roomId, content, { clientId, queue = false } = {}) {
    if (queue && this._outboxKey()) return this._queueMessage(roomId, content, clientId);
    const client_id = clientId || uuid();
    const r = await this._op('chat', 'send_message', { room_id: roomId, content, client_id },
      { method: 'POST', path: `/api/rooms/${enc(roomId)}/messages`, body: { content, client_id } });
    return { method: r.method, message: r.message, client_id };
  }

  // ---------------------------------------------------------------- outbox (unsent messages)
  //
  // sendMessage(room, content, {queue: true}) first writes the message to the signed-in user's outbox
  // (storage key `hearth.outbox.<user id>`, so it survives a reload), then sends it. Messages leave the
  // outbox in the order they were written, each always with its own client_id, so a repeat is answered
  // with the original message by the server and nothing is stored twice. What fails for a network reason
  // (no connection, timeout, a 5xx, a 429, a token being replaced) stays `pending` and is sent again by
  // itself: when the chat socket opens, when a REST call (the long-poll) answers, when the browser says
  // it is online, and on a timer (opts.outboxRetryBase, doubling up to opts.outboxRetryCap). What the
  // server refuses (validation_failed, forbidden, not_found, ...) on a later attempt becomes `failed` and
  // waits for retryOutbox(client_id) or discardOutbox(client_id); refused on the first attempt, it is not
  // kept: the error is thrown, as without the outbox.
  // Events: `outbox` (entries) on every change, `outbox_sent` ({entry, message, method}) for a message
  // sent by a later attempt, `outbox_failed` ({entry, error}) for one refused on a later attempt.

  _outboxKey() { return this.user && this.user.id != null ? `${KEYS.outbox}${this.user.id}` : null; }

  _outboxRead() {
    const key = this._outboxKey();
    if (!key) return [];
    try {
      const list = JSON.parse(this._read(key) || '[]');
      return Array.isArray(list) ? list.filter((e) => e && e.client_id && e.room_id != null && typeof e.content === 'string') : [];
    } catch { return []; }
  }

  _outboxWrite(list) {
    const key = this._outboxKey();
    if (!key) return;
    this._write(key, list.length ? JSON.stringify(list) : null);
    this.emit('outbox', this.outbox);
  }

  /** Change one entry in storage (fn returns the new entry, or null to remove it). @returns {Object|null} */
  _outboxUpdate(clientId, fn) {
    const list = this._outboxRead();
    const i = list.findIndex((e) => e.client_id === clientId);
    if (i < 0) return null;
    const next = fn({ ...list[i] });
    if (next) list[i] = next; else list.splice(i, 1);
    this._outboxWrite(list);
    return next;
  }

  /**
   * The signed-in user's unsent messages, oldest first: `{client_id, room_id, content, created_at, status,
   * error, attempts}` with `status` 'pending' (waiting for the connection), 'sending' or 'failed' (refused by
   * the server: `error` is `{code, message, status, fields}`).
   * @type {Object[]}
   */
  get outbox() {
    return this._outboxRead().map((e) => ({
      ...e, status: e.status === 'failed' ? 'failed' : this._outboxSending.has(e.client_id) ? 'sending' : 'pending',
    }));
  }

  _queueMessage(roomId, content, clientId) {
    const entry = { client_id: clientId || uuid(), room_id: roomId, content, created_at: new Date().toISOString(),
      status: 'pending', error: null, attempts: 0 };
    this._outboxFresh.add(entry.client_id);
    const list = this._outboxRead().filter((e) => e.client_id !== entry.client_id);
    list.push(entry);
    this._outboxWrite(list);
    const p = this._outboxWait(entry.client_id);
    this._outboxFlush();
    return p;
  }

  _outboxWait(clientId) {
    return new Promise((resolve, reject) => {
      const list = this._outboxWaiters.get(clientId) || [];
      list.push({ resolve, reject });
      this._outboxWaiters.set(clientId, list);
    });
  }

  _outboxSettle(clientId, ok, value) {
    const list = this._outboxWaiters.get(clientId);
    if (!list) return;
    this._outboxWaiters.delete(clientId);
    for (const w of list) (ok ? w.resolve : w.reject)(value);
  }

  /**
   * Send a failed (or pending) message of the outbox again now, with its client_id.
   * @returns {Promise<{method, message, client_id}|{method: 'queued', queued: true, client_id, error}>} rejects
   *   with the server's error when it is refused again (the entry stays `failed`).
   */
  retryOutbox(clientId) {
    const e = this._outboxUpdate(clientId, (x) => ({ ...x, status: 'pending', error: null }));
    if (!e) return Promise.reject(new HearthError('no such unsent message', { code: 'not_found' }));
    const p = this._outboxWait(clientId);
    this._outboxFailures = 0;
    this._outboxFlush();
    return p;
  }

  /** Forget an unsent message (it will not be sent). @returns {boolean} whether it was there */
  discardOutbox(clientId) {
    const found = this._outboxRead().some((e) => e.client_id === clientId);
    if (found) this._outboxUpdate(clientId, () => null);
    this._outboxSettle(clientId, false, new HearthError('discarded', { code: 'aborted' }));
    return found;
  }

  /** Try the pending messages now (e.g. after the connection came back). */
  flushOutbox() {
    this._outboxFailures = 0;
    return this._outboxFlush();
  }

  /** Flush if anything is waiting to be sent (a sign that the connection may be back). */
  _outboxKick() {
    if (this.token && this._outboxRead().some((e) => e.status !== 'failed')) this.flushOutbox();
  }

  _outboxStopTimer() {
    if (this._outboxTimer) clearTimeout(this._outboxTimer);
    this._outboxTimer = null;
  }

  /** Whether an error says nothing about the message itself: try again later. */
  static _retryLater(err) {
    return !!(err && (err.transport || err.code === 'rate_limited' || err.code === 'internal' || err.status >= 500
      || err.status === 401 || err.code === 'unauthenticated' || err.code === 'signed_out'));
  }

  /** Send pending entries one at a time, oldest first (single flight; a call meanwhile runs it again). */
  _outboxFlush() {
    if (this._outboxFlushing) { this._outboxAgain = true; return this._outboxFlushing; }
    this._outboxStopTimer();
    const run = async () => {
      do {
        this._outboxAgain = false;
        await this._outboxRun();
      } while (this._outboxAgain && this.token);
    };
    this._outboxFlushing = run().finally(() => { this._outboxFlushing = null; });
    return this._outboxFlushing;
  }

  async _outboxRun() {
    const tried = new Set();
    for (;;) {
      if (!this.token) return;
      // Read storage each time: another tab may have sent or discarded an entry meanwhile.
      const e = this._outboxRead().find((x) => x.status !== 'failed' && !tried.has(x.client_id));
      if (!e) { this._outboxFailures = 0; return; }
      tried.add(e.client_id);
      this._outboxSending.add(e.client_id);
      this.emit('outbox', this.outbox);
      let r;
      try {
        r = await this._op('chat', 'send_message', { room_id: e.room_id, content: e.content, client_id: e.client_id },
          { method: 'POST', path: `/api/rooms/${enc(e.room_id)}/messages`, body: { content: e.content, client_id: e.client_id } });
      } catch (err) {
        this._outboxSending.delete(e.client_id);
        if (HearthClient._retryLater(err)) {
          this._outboxFresh.delete(e.client_id);
          this._outboxUpdate(e.client_id, (x) => ({ ...x, status: 'pending', attempts: (x.attempts || 0) + 1 }))
            || this.emit('outbox', this.outbox);
          // The connection is down: everything else waits too; whoever is waiting hears "queued".
          // They are kept from now on, whatever a later attempt says.
          for (const x of this._outboxRead()) {
            if (x.status === 'failed') continue;
            this._outboxFresh.delete(x.client_id);
            this._outboxSettle(x.client_id, true, { method: 'queued', queued: true, message: null, client_id: x.client_id, error: err });
          }
          this._outboxScheduleRetry(err.retryAfterMs);
          return;
        }
        const error = { code: err.code, message: err.message, status: err.status, fields: err.fields || null };
        const fresh = this._outboxFresh.delete(e.client_id);
        if (fresh) {
          // Refused on its first attempt, while the sender is looking: not kept, the error goes to them.
          this._outboxUpdate(e.client_id, () => null) || this.emit('outbox', this.outbox);
        } else {
          const kept = this._outboxUpdate(e.client_id, (x) => ({ ...x, status: 'failed', error, attempts: (x.attempts || 0) + 1 }));
          this.stats.outboxFailed++;
          if (kept) this.emit('outbox_failed', { entry: { ...kept }, error: err });
        }
        this._outboxSettle(e.client_id, false, err);
        continue;
      }
      this._outboxSending.delete(e.client_id);
      const fresh = this._outboxFresh.delete(e.client_id);
      this._outboxUpdate(e.client_id, () => null) || this.emit('outbox', this.outbox);
      this.stats.outboxSent++;
      const result = { method: r.method, message: r.message, client_id: e.client_id };
      if (!fresh) this.emit('outbox_sent', { entry: e, ...result });
      this._outboxSettle(e.client_id, true, result);
    }
  }

  _outboxScheduleRetry(afterMs) {
    this._outboxStopTimer();
    if (!this.token) return;
    const o = this.opts;
    const n = this._outboxFailures++;
    const ceiling = Math.min(o.outboxRetryCap, o.outboxRetryBase * 2 ** Math.min(n, 20));
    const delay = typeof afterMs === 'number' && afterMs >= 0 ? afterMs : Math.floor(ceiling / 2 + o.random() * ceiling / 2);
    this._outboxTimer = setTimeout(() => { this._outboxTimer = null; this._outboxFlush(); }, delay);
  }

  /** Edit one's own message. @returns {Promise<{method, message}>} */
  editMessage(messageId, content) {
    return this._op('chat', 'edit_message', { message_id: messageId, content },
      { method: 'PATCH', path: `/api/messages/${enc(messageId)}`, body: { content } });
  }

  /** Delete one's own message. @returns {Promise<{method, message_id, room_id?}>} */
  async deleteMessage(messageId) {
    const r = await this._op('chat', 'delete_message', { message_id: messageId },
      { method: 'DELETE', path: `/api/messages/${enc(messageId)}` });
    return { message_id: messageId, ...r };
  }

  /**
   * Mark a room read up to `messageId` (or entirely).
   * @returns {Promise<{method, room_id, last_read_message_id, unread_count}>}
   */
  async markRead(roomId, messageId) {
    const body = compact({ message_id: messageId });
    const r = await this._op('chat', 'mark_read', { room_id: roomId, ...body },
      { method: 'POST', path: `/api/rooms/${enc(roomId)}/read`, body });
    return { room_id: roomId, ...r };
  }

  /** Tell the room one is (not) typing. No reply over the socket. @returns {Promise<{method}>} */
  async typing(roomId, isTyping = true) {
    const frame = { type: 'typing', room_id: roomId, is_typing: !!isTyping };
    const s = this.sockets.chat;
    if (s && s.send(frame)) return { method: 'websocket' };
    this.stats.restFallbacks++;
    await this.api('POST', `/api/rooms/${enc(roomId)}/typing`, { body: { is_typing: !!isTyping } });
    return { method: 'rest' };
  }

  /**
   * Every message of the caller's rooms with id > after, oldest first. With `wait` (s, up to 30) it long-polls
   * over REST. Does not deliver to listeners (the automatic resume does).
   * @returns {Promise<{method, messages, has_more}>}
   */
  async sync(after, { limit, wait } = {}) {
    const q = compact({ after: after ?? 0, limit });
    if (wait) {
      this.stats.restFallbacks++;
      const r = await this.api('GET', '/api/sync', { query: { ...q, wait }, timeout: (wait + 15) * 1000 });
      return { method: 'rest', messages: [], has_more: false, ...r };
    }
    const r = await this._op('chat', 'sync', q, { method: 'GET', path: '/api/sync', query: q });
    return { messages: [], has_more: false, ...r };
  }

  // ---------------------------------------------------------------- tasks (section 5)

  /**
   * Start a background task. Not idempotent: after a socket timeout it is NOT retried over REST.
   * @param {'generate_numbers'|'validate_numbers'|'bulk_message'} kind
   * @param {Object} params e.g. {area_code: '415', quantity: 100}
   * @returns {Promise<{method, task}>}
   */
  startTask(kind, params) {
    return this._op('tasks', 'start_task', { kind, params }, { method: 'POST', path: '/api/tasks', body: { kind, params } }, { unsafe: true });
  }

  /** @returns {Promise<{method, tasks}>} */
  getTasks({ status, limit } = {}) {
    const q = compact({ status, limit });
    return this._op('tasks', 'get_tasks', q, { method: 'GET', path: '/api/tasks', query: q });
  }

  /** @returns {Promise<{method, task}>} */
  getTask(taskId) {
    return this._op('tasks', 'get_task', { task_id: taskId }, { method: 'GET', path: `/api/tasks/${enc(taskId)}` });
  }

  /** @returns {Promise<{method, task_id}>} */
  async cancelTask(taskId) {
    const r = await this._op('tasks', 'cancel_task', { task_id: taskId }, { method: 'POST', path: `/api/tasks/${enc(taskId)}/cancel` });
    return { task_id: taskId, ...r };
  }

  /**
   * URL of a task's full result ('json' or 'csv'); `type` keeps only the rows of one number type
   * (validate_numbers). It needs the Authorization header: see fetchTaskResult.
   */
  taskResultUrl(taskId, { format = 'json', type } = {}) {
    const u = new URL(`/api/tasks/${enc(taskId)}/result`, `${this.baseUrl}/`);
    if (format === 'csv') u.searchParams.set('format', 'csv');
    if (type) u.searchParams.set('type', type);
    return u.toString();
  }

  /** A task's full result: parsed JSON, or the CSV text; `type` as in taskResultUrl. @returns {Promise<Object|string>} */
  async fetchTaskResult(taskId, { format = 'json', type } = {}) {
    const res = await this._resultResponse(taskId, format, type);
    return format === 'csv' ? res.text() : res.json();
  }

  /**
   * Download a task's result as a file (fetch with the Authorization header, then a blob: link).
   * @param {number} taskId
   * @param {{format?: 'json'|'csv', type?: string, filename?: string}} [opts] `type`: only that number type
   * @returns {Promise<Blob>}
   */
  async downloadTaskResult(taskId, { format = 'json', type, filename } = {}) {
    const res = await this._resultResponse(taskId, format, type);
    const blob = await res.blob();
    if (typeof document !== 'undefined' && typeof URL.createObjectURL === 'function') {
      const href = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = href;
      a.download = filename || `task-${taskId}-result${type ? `-${type}` : ''}.${format === 'csv' ? 'csv' : 'json'}`;
      a.style.display = 'none';
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(href), 60000);
    }
    return blob;
  }

  _resultResponse(taskId, format, type) {
    const query = {};
    if (format === 'csv') query.format = 'csv';
    if (type) query.type = type;
    return this.api('GET', `/api/tasks/${enc(taskId)}/result`, {
      raw: true, timeout: 120000, query: Object.keys(query).length ? query : undefined,
      headers: { Accept: format === 'csv' ? 'text/csv' : 'application/json' },
    });
  }

  // ---------------------------------------------------------------- notifications (section 7, REST)

  /** @returns {Promise<{notifications: Object[]}>} */
  async listNotifications({ unread = false } = {}) {
    const r = await this.api('GET', '/api/notifications', { query: unread ? { unread: 'true' } : undefined });
    return Array.isArray(r) ? { notifications: r } : { notifications: [], ...r };
  }

  /** @returns {Promise<Object>} */
  markNotificationRead(id) { return this.api('POST', `/api/notifications/${enc(id)}/read`); }

  /** @returns {Promise<Object>} */
  readAllNotifications() { return this.api('POST', '/api/notifications/read-all'); }

  // ---------------------------------------------------------------- support (section 6)

  /** An anonymous visitor without a guest token gets one from the support socket's `connected` frame. */
  async _ensureSupportIdentity() {
    if (this.token || this.guestToken || this.support.isOpen) return;
    await this.support.start().waitOpen();
  }

  _supportAuth() { return this.token ? {} : { auth: false, guest: this.guestToken }; }

  /**
   * The visitor's (or user's) support conversation, oldest first.
   * @returns {Promise<{method, messages, has_more}>}
   */
  async supportGetMessages({ before, after, limit } = {}) {
    const q = compact({ before, after, limit });
    await this._ensureSupportIdentity();
    const r = await this._op('support', 'get_messages', q,
      { method: 'GET', path: '/api/support/messages', query: q, ...this._supportAuth() });
    return { messages: [], has_more: false, ...r };
  }

  /**
   * Write to support (works signed out). Carries a client_id, reused by the REST fallback.
   * @returns {Promise<{method, message, client_id}>}
   */
  async supportSend(content, { clientId } = {}) {
    const client_id = clientId || uuid();
    await this._ensureSupportIdentity();
    const r = await this._op('support', 'send_message', { content, client_id },
      { method: 'POST', path: '/api/support/messages', body: { content, client_id }, ...this._supportAuth() });
    return { method: r.method, message: r.message, client_id };
  }

  // ---------------------------------------------------------------- staff console (/ws/admin/chat/)
  // REST paths under /api/admin/support/ are not spelled out by the contract; these follow the user-side mirror.

  /** Every support room with its unread count for staff. @returns {Promise<{method, rooms}>} */
  adminGetRooms() {
    return this._op('admin', 'get_room_list', {}, { method: 'GET', path: '/api/admin/support/rooms' });
  }

  /** @returns {Promise<{method, room_id, messages, has_more}>} */
  async adminGetMessages(roomId, { before, after, limit } = {}) {
    const q = compact({ before, after, limit });
    const r = await this._op('admin', 'get_messages', { room_id: roomId, ...q },
      { method: 'GET', path: `/api/admin/support/rooms/${enc(roomId)}/messages`, query: q });
    return { room_id: roomId, messages: [], has_more: false, ...r };
  }

  /** Reply in a support room. @returns {Promise<{method, message, client_id}>} */
  async adminSend(roomId, content, { clientId } = {}) {
    const client_id = clientId || uuid();
    const r = await this._op('admin', 'send_message', { room_id: roomId, content, client_id },
      { method: 'POST', path: `/api/admin/support/rooms/${enc(roomId)}/messages`, body: { content, client_id } });
    return { method: r.method, message: r.message, client_id };
  }

  /** @returns {Promise<{method, room_id, last_read_message_id, unread_count}>} */
  async adminMarkRead(roomId, messageId) {
    const body = compact({ message_id: messageId });
    const r = await this._op('admin', 'mark_read', { room_id: roomId, ...body },
      { method: 'POST', path: `/api/admin/support/rooms/${enc(roomId)}/read`, body });
    return { room_id: roomId, ...r };
  }
}

export default HearthClient;
