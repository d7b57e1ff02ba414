// Unit tests of static/hearth-client.js in Node, with a fake WebSocket and fetch: backoff and
// its cap, what each close code does, request/reply matching, the REST fallback with the same
// client_id, resume by sync, reauthentication, and the support socket. No browser is needed;
// run.sh runs this before the browser suite. `until()` polls the fakes' state (they have no
// events to await) with a deadline.
import assert from 'node:assert/strict';
import { HearthClient, MemoryStorage, backoffDelay, closeAction, isTransportError, uuid } from '../../static/hearth-client.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, ms = 2000, what = 'condition') {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (fn()) return; await sleep(5); }
  throw new Error('timed out waiting for ' + what);
}

// ---- fake WebSocket ----
class FakeWS {
  static all = [];
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; this.closedWith = null; FakeWS.all.push(this); }
  send(d) { if (this.readyState !== 1) throw new Error('not open'); const f = JSON.parse(d); this.sent.push(f); FakeWS.onSend && FakeWS.onSend(this, f); }
  close(code, reason) { this.closedWith = code; this.readyState = 3; }
  // server side helpers
  accept(extra = {}) { this.readyState = 1; this.push({ type: 'connected', user: { id: 1, username: 'alice' }, connection_id: 'c', heartbeat_s: 20, ...extra }); }
  push(f) { this.onmessage && this.onmessage({ data: JSON.stringify({ timestamp: 't', ...f }) }); }
  reply(req, f) { this.push({ ...f, request_id: req.request_id }); }
  serverClose(code, reason = '') { this.readyState = 3; this.onclose && this.onclose({ code, reason }); }
  get last() { return this.sent[this.sent.length - 1]; }
  static latest() { return FakeWS.all[FakeWS.all.length - 1]; }
}

// ---- fake fetch ----
const calls = [];
let routes = {};
let ticketN = 0, tokenN = 0;
function json(status, body, headers = {}) { return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } }); }
async function fakeFetch(url, init) {
  const u = new URL(url);
  const key = `${init.method} ${u.pathname}`;
  const body = init.body ? JSON.parse(init.body) : undefined;
  calls.push({ key, url: u, body, headers: init.headers });
  const h = routes[key];
  if (h) return h({ url: u, body, headers: init.headers });
  if (key === 'POST /api/auth/ws-ticket') return json(201, { ticket: `tk${++ticketN}`, expires_at: 'x' });
  if (key === 'POST /api/auth/login') return json(200, { token: 'T0', expires_at: new Date(Date.now() + 3600e3).toISOString(), user: { id: 1, username: 'alice', is_staff: false } });
  if (key === 'POST /api/auth/refresh') return json(200, { token: `R${++tokenN}`, expires_at: new Date(Date.now() + 3600e3).toISOString() });
  if (key === 'POST /api/auth/logout') return new Response(null, { status: 204 });
  return json(404, { error: { code: 'not_found', message: 'no route ' + key } });
}

function mk(extra = {}) {
  return new HearthClient({ baseUrl: 'http://h.test', storage: new MemoryStorage(), WebSocket: FakeWS, fetch: fakeFetch,
    random: () => 0.999, backoffBase: 20, backoffCap: 200, requestTimeout: 80, longPollFallback: false, idleProbe: 0, ...extra });
}
function reset() { ticketN = 0; tokenN = 0; FakeWS.all = []; FakeWS.onSend = null; calls.length = 0; routes = {}; }

let passed = 0;
let failed = 0;
async function test(name, fn) { reset(); try { await fn(); passed++; console.log('ok  ', name); } catch (e) { failed++; console.log('FAIL', name); console.log(e); process.exitCode = 1; } }

await test('backoff full jitter and cap', () => {
  assert.equal(backoffDelay(0, { random: () => 0.999 }), 499);
  assert.equal(backoffDelay(3, { random: () => 0.999 }), 3996);
  assert.equal(backoffDelay(20, { random: () => 0.999 }), 29970);
  assert.equal(backoffDelay(100, { random: () => 0 }), 0);
  for (let i = 0; i < 1000; i++) { const d = backoffDelay(i % 12); assert.ok(d >= 0 && d < 30000); }
  assert.match(uuid(), /^[0-9a-f-]{36}$/);
});

await test('closeAction', () => {
  assert.equal(closeAction(1000), 'stop');
  assert.equal(closeAction(1001), 'backoff');
  assert.equal(closeAction(1006), 'backoff');
  assert.equal(closeAction(4008), 'backoff');
  assert.equal(closeAction(4401), 'reauthenticate');
  assert.equal(closeAction(4403), 'forbidden');
  assert.equal(closeAction(4429), 'rate_limited');
  assert.equal(closeAction(1006, { close_code: 4401, retry: 'reauthenticate' }), 'reauthenticate');
  assert.equal(closeAction(1006, { close_code: 4403, retry: 'never' }), 'forbidden');
  assert.equal(closeAction(1006, { close_code: 4429, retry: 'backoff', code: 'rate_limited' }), 'rate_limited');
});

await test('REST errors map to HearthError', async () => {
  const c = mk();
  routes['GET /api/rooms'] = () => json(429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'Retry-After': '3' });
  await assert.rejects(c.api('GET', '/api/rooms'), (e) => e.code === 'rate_limited' && e.status === 429 && e.retryAfter === 3 && !e.transport);
  routes['POST /api/auth/login'] = () => json(401, { error: { code: 'unauthenticated', message: 'bad' } });
  await assert.rejects(c.login('a', 'b'), (e) => e.code === 'unauthenticated' && e.status === 401);
  c.destroy();
});

await test('login, ticket handshake, request/reply, errors, timeout', async () => {
  const c = mk();
  await c.login('alice', 'pw');
  assert.equal(c.token, 'T0');
  assert.equal(c.storage.getItem('hearth.token'), 'T0');
  const states = [];
  c.onState((s) => states.push(s));
  c.connect({ chat: true, tasks: false, notifications: false });
  await until(() => FakeWS.all.length === 1, 1000, 'handshake');
  const ws = FakeWS.latest();
  assert.equal(ws.url, 'ws://h.test/ws/chat/?ticket=tk1');
  assert.ok(!ws.url.includes('T0'));
  const ticketCall = calls.find((x) => x.key === 'POST /api/auth/ws-ticket');
  assert.equal(ticketCall.headers.Authorization, 'Bearer T0');
  FakeWS.onSend = (w, f) => { if (f.type === 'get_room_list') w.reply(f, { type: 'room_list', rooms: [{ id: 3, last_message: { id: 41 } }] }); };
  ws.accept();
  assert.equal(c.state, 'open');
  assert.deepEqual(states, ['idle', 'connecting', 'open']);
  await until(() => c.lastMessageIdSeen === 41, 1000, 'cursor from room list');
  // request ok
  FakeWS.onSend = (w, f) => {
    if (f.type === 'get_room') w.reply(f, { type: 'room', room: { id: f.room_id } });
    if (f.type === 'edit_message') w.reply(f, { type: 'error', code: 'forbidden', message: 'not yours' });
  };
  const r = await c.getRoom(3);
  assert.equal(r.method, 'websocket'); assert.equal(r.room.id, 3);
  await assert.rejects(c.editMessage(5, 'x'), (e) => e.code === 'forbidden' && !isTransportError(e));
  FakeWS.onSend = null;
  await assert.rejects(c.chat.request('get_room', { room_id: 1 }), (e) => e.code === 'timeout' && e.transport);
  assert.equal(c.stats.handshakes, 1);
  c.destroy();
});

async function openClient(extra) {
  const c = mk(extra);
  await c.login('alice', 'pw');
  c.connect({ chat: true, tasks: false, notifications: false });
  await until(() => FakeWS.all.length >= 1);
  FakeWS.onSend = (w, f) => { if (f.type === 'get_room_list') w.reply(f, { type: 'room_list', rooms: [] }); };
  FakeWS.latest().accept();
  await until(() => c.lastMessageIdSeen === 0);
  FakeWS.onSend = null;
  return c;
}

await test('sendMessage over websocket carries client_id', async () => {
  const c = await openClient();
  FakeWS.onSend = (w, f) => { if (f.type === 'send_message') w.reply(f, { type: 'message_sent', message: { id: 9, content: f.content, client_id: f.client_id } }); };
  const r = await c.sendMessage(3, 'hello');
  assert.equal(r.method, 'websocket');
  const sent = FakeWS.latest().sent.find((f) => f.type === 'send_message');
  assert.ok(sent.client_id && sent.request_id);
  assert.equal(r.message.client_id, sent.client_id);
  c.destroy();
});

await test('sendMessage falls back to REST on timeout with the same client_id; contract errors do not fall back', async () => {
  const c = await openClient();
  routes['POST /api/rooms/3/messages'] = ({ body }) => json(201, { message: { id: 10, content: body.content, client_id: body.client_id } });
  const r = await c.sendMessage(3, 'hello'); // no reply over ws → timeout → REST
  assert.equal(r.method, 'rest');
  const wsFrame = FakeWS.latest().sent.find((f) => f.type === 'send_message');
  const rest = calls.find((x) => x.key === 'POST /api/rooms/3/messages');
  assert.equal(rest.body.client_id, wsFrame.client_id);
  assert.equal(rest.headers.Authorization, 'Bearer T0');
  // validation error over ws → thrown, no REST
  calls.length = 0;
  FakeWS.onSend = (w, f) => { if (f.type === 'send_message') w.reply(f, { type: 'error', code: 'validation_failed', message: 'empty' }); };
  await assert.rejects(c.sendMessage(3, ' '), (e) => e.code === 'validation_failed');
  assert.equal(calls.filter((x) => x.key === 'POST /api/rooms/3/messages').length, 0);
  // createRoom timeout → not retried over REST
  FakeWS.onSend = null;
  await assert.rejects(c.createRoom({ name: 'x' }), (e) => e.code === 'timeout');
  assert.equal(calls.filter((x) => x.key === 'POST /api/rooms').length, 0);
  c.destroy();
});

await test('sendMessage with no socket goes straight to REST', async () => {
  const c = mk();
  await c.login('alice', 'pw');
  routes['POST /api/rooms/7/messages'] = ({ body }) => json(201, { message: { id: 11, client_id: body.client_id } });
  const r = await c.sendMessage(7, 'hey', { clientId: 'fixed-id' });
  assert.equal(r.method, 'rest');
  assert.equal(calls.find((x) => x.key === 'POST /api/rooms/7/messages').body.client_id, 'fixed-id');
  assert.equal(FakeWS.all.length, 0);
  c.destroy();
});

await test('abnormal close → backoff reconnect with a fresh ticket, sync resume, dedupe', async () => {
  const c = await openClient();
  const got = [];
  c.on('message', (f) => got.push(f.message.id));
  const ws1 = FakeWS.latest();
  ws1.push({ type: 'message', message: { id: 50, room_id: 3 } });
  ws1.push({ type: 'message', message: { id: 50, room_id: 3 } }); // duplicate push
  assert.deepEqual(got, [50]);
  assert.equal(c.lastMessageIdSeen, 50);
  ws1.serverClose(1006);
  assert.equal(c.chat.state, 'reconnecting');
  assert.equal(c.state, 'reconnecting');
  await until(() => FakeWS.all.length === 2, 1000, 'reconnect');
  const ws2 = FakeWS.latest();
  assert.ok(ws2.url.endsWith('ticket=tk2'));
  const syncs = [];
  FakeWS.onSend = (w, f) => {
    if (f.type !== 'sync') return;
    syncs.push(f.after);
    if (f.after === 50) w.reply(f, { type: 'sync', messages: [{ id: 50 }, { id: 51 }, { id: 52 }], has_more: true });
    else if (f.after === 52) w.reply(f, { type: 'sync', messages: [{ id: 53 }], has_more: false });
  };
  ws2.accept();
  ws2.push({ type: 'message', message: { id: 53 } }); // live push racing the resume
  await until(() => c.stats.resumes === 1, 1000, 'resume');
  assert.deepEqual(syncs, [50, 52]);
  assert.deepEqual(got.sort((a, b) => a - b), [50, 51, 52, 53]);
  assert.equal(c.lastMessageIdSeen, 53);
  assert.equal(c.stats.handshakes, 2);
  assert.equal(c.stats.reconnects, 1);
  assert.equal(c.state, 'open');
  c.destroy();
});

await test('1000 → no reconnect; 4403 with final frame → no reconnect', async () => {
  const c = await openClient();
  FakeWS.latest().serverClose(1000);
  await sleep(100);
  assert.equal(FakeWS.all.length, 1);
  assert.equal(c.chat.state, 'closed');
  c.chat.start();
  await until(() => FakeWS.all.length === 2);
  const ws = FakeWS.latest();
  ws.accept();
  let forbidden = null;
  c.chat.on('forbidden', (e) => { forbidden = e; });
  ws.push({ type: 'error', code: 'forbidden', close_code: 4403, retry: 'never', retry_after_ms: null, message: 'no' });
  ws.serverClose(1006); // reason lost; final frame decides
  await sleep(100);
  assert.equal(FakeWS.all.length, 2);
  assert.equal(forbidden.code, 'forbidden');
  c.destroy();
});

await test('4401 → refresh once and reconnect; second 4401 → signed_out, no more reconnects', async () => {
  const c = await openClient();
  let signedOut = null;
  c.on('signed_out', (x) => { signedOut = x; });
  const ws1 = FakeWS.latest();
  ws1.push({ type: 'error', code: 'unauthenticated', close_code: 4401, retry: 'reauthenticate', message: 'expired' });
  ws1.serverClose(4401);
  await until(() => FakeWS.all.length === 2, 1000, 'reconnect after refresh');
  assert.equal(calls.filter((x) => x.key === 'POST /api/auth/refresh').length, 1);
  assert.equal(calls.filter((x) => x.key === 'POST /api/auth/refresh')[0].headers.Authorization, 'Bearer T0');
  assert.equal(c.token, 'R1');
  assert.equal(calls.filter((x) => x.key === 'POST /api/auth/ws-ticket').at(-1).headers.Authorization, 'Bearer R1');
  FakeWS.latest().serverClose(4401);
  await sleep(150);
  assert.equal(FakeWS.all.length, 2);
  assert.equal(c.state, 'signed_out');
  assert.equal(c.chat.state, 'signed_out');
  assert.equal(c.token, null);
  assert.equal(c.storage.getItem('hearth.token'), null);
  assert.equal(signedOut.reason, 'unauthenticated');
  assert.equal(calls.filter((x) => x.key === 'POST /api/auth/refresh').length, 1);
  c.destroy();
});

await test('4401 with a revoked token (refresh fails) → signed_out', async () => {
  const c = await openClient();
  routes['POST /api/auth/refresh'] = () => json(401, { error: { code: 'unauthenticated', message: 'revoked token' } });
  FakeWS.latest().serverClose(4401);
  await until(() => c.state === 'signed_out', 1000, 'signed_out');
  await sleep(100);
  assert.equal(FakeWS.all.length, 1);
  c.destroy();
});

await test('4429 honours retry_after_ms', async () => {
  const c = await openClient();
  const ws = FakeWS.latest();
  ws.push({ type: 'error', code: 'rate_limited', close_code: 4429, retry: 'backoff', retry_after_ms: 300, message: 'too many' });
  const t0 = Date.now();
  ws.serverClose(4429);
  assert.ok(c.chat.nextRetryAt - t0 >= 300);
  assert.equal(c.chat.kick(), false, 'kick must not bypass retry_after');
  await sleep(200);
  assert.equal(FakeWS.all.length, 1);
  await until(() => FakeWS.all.length === 2, 1000, 'reconnect after retry_after');
  assert.ok(Date.now() - t0 >= 300);
  c.destroy();
});

await test('4008 → reconnect then resume', async () => {
  const c = await openClient();
  FakeWS.latest().push({ type: 'message', message: { id: 5 } });
  FakeWS.latest().push({ type: 'error', code: 'slow_consumer', close_code: 4008, retry: 'backoff', retry_after_ms: null });
  FakeWS.latest().serverClose(4008);
  await until(() => FakeWS.all.length === 2);
  let after = null;
  FakeWS.onSend = (w, f) => { if (f.type === 'sync') { after = f.after; w.reply(f, { type: 'sync', messages: [], has_more: false }); } };
  FakeWS.latest().accept();
  await until(() => after === 5, 1000, 'sync after 5');
  c.destroy();
});

await test('backoff grows while the server stays down', async () => {
  const c = await openClient({ backoffBase: 10, backoffCap: 1000 });
  const delays = [];
  for (let i = 0; i < 5; i++) {
    const before = FakeWS.all.length;
    FakeWS.latest().serverClose(1006);
    delays.push(c.chat.nextRetryAt - Date.now());
    await until(() => FakeWS.all.length === before + 1, 2000);
  }
  // random 0.999 → ~10, 20, 40, 80, 160
  for (let i = 1; i < delays.length; i++) assert.ok(delays[i] > delays[i - 1], `delays ${delays}`);
  assert.ok(delays[4] <= 160);
  c.destroy();
});

await test('token_expiring → refresh → reauthenticate on open sockets', async () => {
  const c = await openClient();
  const ws = FakeWS.latest();
  FakeWS.onSend = (w, f) => { if (f.type === 'reauthenticate') w.reply(f, { type: 'reauthenticated', expires_at: 'later' }); };
  ws.push({ type: 'token_expiring', expires_at: c.tokenExpiresAt });
  await until(() => ws.sent.some((f) => f.type === 'reauthenticate'), 1000, 'reauthenticate');
  const f = ws.sent.find((x) => x.type === 'reauthenticate');
  assert.equal(f.token, 'R1');
  assert.equal(c.token, 'R1');
  await until(() => c.chat._credToken === 'R1');
  // a later 4401 now just reconnects with the new token, no second refresh needed ... the credential is current, so it refreshes once
  assert.equal(c.stats.reauths, 1);
  c.destroy();
});

await test('support: anonymous, then ?guest=', async () => {
  const c = mk();
  c.support.start();
  await until(() => FakeWS.all.length === 1);
  assert.equal(FakeWS.latest().url, 'ws://h.test/ws/support/');
  assert.equal(calls.filter((x) => x.key === 'POST /api/auth/ws-ticket').length, 0);
  FakeWS.latest().accept({ user: null, guest: { id: 7, name: 'Visitor 7f3a' }, guest_token: 'G1' });
  assert.equal(c.guestToken, 'G1');
  assert.equal(c.support.guest.name, 'Visitor 7f3a');
  assert.equal(c.state, 'signed_out');
  FakeWS.latest().serverClose(1006);
  await until(() => FakeWS.all.length === 2);
  assert.equal(FakeWS.latest().url, 'ws://h.test/ws/support/?guest=G1');
  FakeWS.latest().accept({ user: null, guest_token: 'G1' });
  FakeWS.onSend = (w, f) => { if (f.type === 'send_message') w.reply(f, { type: 'message_sent', message: { id: 1, content: f.content } }); };
  const r = await c.supportSend('help');
  assert.equal(r.method, 'websocket');
  // REST fallback uses X-Guest-Token and no Authorization
  FakeWS.onSend = null;
  routes['POST /api/support/messages'] = () => json(201, { message: { id: 2 } });
  const r2 = await c.supportSend('help again');
  assert.equal(r2.method, 'rest');
  const call = calls.find((x) => x.key === 'POST /api/support/messages');
  assert.equal(call.headers['X-Guest-Token'], 'G1');
  assert.equal(call.headers.Authorization, undefined);
  // signing in switches the support socket to a ticket
  await c.login('alice', 'pw');
  await until(() => FakeWS.all.length === 3);
  assert.match(FakeWS.latest().url, /\/ws\/support\/\?ticket=/);
  c.destroy();
});

await test('logout closes sockets with 1000 and does not reconnect', async () => {
  const c = await openClient();
  const ws = FakeWS.latest();
  await c.logout();
  assert.equal(ws.closedWith, 1000);
  assert.ok(calls.some((x) => x.key === 'POST /api/auth/logout' && x.headers.Authorization === 'Bearer T0'));
  assert.equal(c.state, 'signed_out');
  assert.equal(c.storage.getItem('hearth.token'), null);
  await sleep(100);
  assert.equal(FakeWS.all.length, 1);
  c.destroy();
});

await test('REST 401 signs out', async () => {
  const c = mk();
  await c.login('alice', 'pw');
  routes['GET /api/rooms'] = () => json(401, { error: { code: 'unauthenticated', message: 'revoked token' } });
  let so = false; c.on('signed_out', () => { so = true; });
  await assert.rejects(c.getRoomList(), (e) => e.status === 401);
  assert.ok(so);
  assert.equal(c.state, 'signed_out');
  c.destroy();
});

await test('long-poll fallback delivers while the chat socket is down', async () => {
  const c = await openClient({ longPollFallback: true, longPollDelay: 20, backoffBase: 5000, backoffCap: 5000 });
  const got = [];
  c.on('message', (f) => got.push(f.message.id));
  let n = 0;
  routes['GET /api/sync'] = ({ url }) => { n++; return n === 1 ? json(200, { messages: [{ id: Number(url.searchParams.get('after')) + 1 }], has_more: false }) : new Promise(() => {}); };
  FakeWS.latest().serverClose(1006);
  await until(() => got.length === 1, 1000, 'poll');
  assert.deepEqual(got, [1]);
  assert.equal(calls.find((x) => x.key === 'GET /api/sync').url.searchParams.get('wait'), '25');
  c.destroy();
});

await test('no connected frame within connectTimeout → reconnect', async () => {
  const c = mk({ connectTimeout: 50 });
  await c.login('alice', 'pw');
  c.connect({ chat: true, tasks: false, notifications: false });
  await until(() => FakeWS.all.length === 1);
  FakeWS.latest().readyState = 1; // open, but the server never says connected
  await until(() => FakeWS.all.length === 2, 1000, 'second handshake');
  assert.equal(FakeWS.all[0].closedWith, 4000);
  c.destroy();
});

await test('refresh then 4401 on the reauthenticated socket: reconnect without a second refresh', async () => {
  const c = await openClient();
  const ws = FakeWS.latest();
  FakeWS.onSend = (w, f) => { if (f.type === 'reauthenticate') w.reply(f, { type: 'reauthenticated', expires_at: 'later' }); };
  ws.push({ type: 'token_expiring', expires_at: c.tokenExpiresAt });
  await until(() => c.chat._credToken === 'R1');
  ws.serverClose(4401); // the server closed it anyway, as opened with the old token
  await until(() => FakeWS.all.length === 2, 1000, 'reconnect');
  assert.equal(calls.filter((x) => x.key === 'POST /api/auth/refresh').length, 1);
  assert.equal(c.token, 'R1');
  FakeWS.latest().accept();
  assert.equal(c.state, 'open');
  c.destroy();
});

await test('probe timeout drops a silent socket and reconnects', async () => {
  const c = await openClient({ probeTimeout: 40 });
  const ok = await c.chat.probe();
  assert.equal(ok, false);
  await until(() => FakeWS.all.length === 2, 1000, 'reconnect after probe');
  c.destroy();
});

// ---- issue 10: receiving without WebSockets, the outbox, refresh races, guest adoption ----

await test('WebSockets never open: long-poll from the room list\'s newest id, rooms refreshed, stop when the socket opens', async () => {
  const c = mk({ longPollFallback: true, longPollDelay: 20, connectTimeout: 60000, roomListInterval: 60000 });
  await c.login('alice', 'pw');
  const got = [];
  const rooms = [];
  c.on('message', (f) => got.push(f.message.id));
  c.on('room_updated', (f) => rooms.push(f.room.id));
  let roomList = [{ id: 3, name: 'r3', last_message: { id: 40 } }];
  routes['GET /api/rooms'] = () => json(200, { rooms: roomList });
  const polls = [];
  const held = [];
  routes['GET /api/sync'] = ({ url }) => {
    const after = Number(url.searchParams.get('after'));
    polls.push(after);
    if (after === 40) {
      roomList = [{ id: 3, name: 'r3', last_message: { id: 40 } }, { id: 9, name: 'r9', last_message: { id: 42 } }];
      return json(200, { messages: [{ id: 41, room_id: 3 }, { id: 42, room_id: 9 }], has_more: false });
    }
    return new Promise((resolve) => held.push(resolve)); // a long-poll that waits
  };
  c.connect({ chat: true, tasks: false, notifications: false });
  await until(() => FakeWS.all.length === 1);
  // The handshake never completes (WebSockets blocked): after longPollDelay the client polls anyway.
  await until(() => got.length === 2, 1000, 'messages over the long-poll');
  assert.deepEqual(got, [41, 42]);
  assert.equal(polls[0], 40);
  assert.ok(c.polling);
  // A message for room 9, not in the list: the list is read again and room 9 announced.
  await until(() => rooms.includes(9), 1000, 'room 9 announced');
  await until(() => polls.length >= 2, 1000, 'next poll');
  assert.equal(polls[1], 42);
  // The socket opens: the poll stops, the resume starts from 42, and 42 is not delivered twice.
  const syncs = [];
  FakeWS.onSend = (w, f) => {
    if (f.type === 'sync') { syncs.push(f.after); w.reply(f, { type: 'sync', messages: [{ id: 42, room_id: 9 }, { id: 43, room_id: 9 }], has_more: false }); }
  };
  FakeWS.latest().accept();
  assert.equal(c.polling, false);
  await until(() => got.length === 3, 1000, 'resume');
  assert.deepEqual(syncs, [42]);
  assert.deepEqual(got, [41, 42, 43]);
  for (const r of held) r(json(200, { messages: [{ id: 44, room_id: 3 }], has_more: false })); // an aborted poll answering late
  await sleep(30);
  assert.deepEqual(got, [41, 42, 43]);
  c.destroy();
});

await test('outbox: a send that fails for the network waits, survives a new client, and goes once with its client_id', async () => {
  const storage = new MemoryStorage();
  const c = mk({ storage, outboxRetryBase: 10000, outboxRetryCap: 10000 });
  await c.login('alice', 'pw');
  routes['POST /api/rooms/3/messages'] = () => Promise.reject(new TypeError('Failed to fetch'));
  const events = [];
  c.on('outbox', (list) => events.push(list.map((e) => e.status).join()));
  const r = await c.sendMessage(3, 'while down', { queue: true });
  assert.equal(r.method, 'queued');
  assert.equal(r.queued, true);
  assert.equal(c.outbox.length, 1);
  assert.equal(c.outbox[0].status, 'pending');
  assert.equal(c.outbox[0].client_id, r.client_id);
  const stored = JSON.parse(storage.getItem('hearth.outbox.1'));
  assert.equal(stored[0].content, 'while down');
  assert.ok(events.includes('sending'));
  c.destroy();

  // "Reload": a new client over the same storage finds it and sends it when connected, once.
  const c2 = mk({ storage, outboxRetryBase: 10000, outboxRetryCap: 10000 });
  assert.equal(c2.outbox.length, 1);
  const sent = [];
  c2.on('outbox_sent', (x) => sent.push(x));
  const posted = [];
  routes['POST /api/rooms/3/messages'] = ({ body }) => { posted.push(body.client_id); return json(201, { message: { id: 70, room_id: 3, content: body.content, client_id: body.client_id } }); };
  const frames = [];
  FakeWS.onSend = (w, f) => {
    if (f.type === 'get_room_list') w.reply(f, { type: 'room_list', rooms: [] });
    if (f.type === 'send_message') { frames.push(f.client_id); w.reply(f, { type: 'message_sent', message: { id: 70, room_id: 3, content: f.content, client_id: f.client_id } }); }
  };
  c2.connect({ chat: true, tasks: false, notifications: false });
  await until(() => FakeWS.all.length === 1);
  FakeWS.latest().accept();
  await until(() => sent.length === 1, 1000, 'sent after reconnect');
  assert.equal(frames.length + posted.length, 1, `sent ${frames.length} over ws and ${posted.length} over rest`);
  assert.equal([...frames, ...posted][0], r.client_id);
  assert.equal(sent[0].message.id, 70);
  assert.equal(c2.outbox.length, 0);
  assert.equal(storage.getItem('hearth.outbox.1'), null);
  await sleep(50);
  assert.equal(frames.length + posted.length, 1);
  c2.destroy();
});

await test('outbox: retried by itself on a timer, in order; refused later → failed, kept for retry or discard', async () => {
  const c = mk({ outboxRetryBase: 30, outboxRetryCap: 30 });
  await c.login('alice', 'pw');
  let mode = 'down';
  const posted = [];
  routes['POST /api/rooms/3/messages'] = ({ body }) => {
    if (mode === 'down') return Promise.reject(new TypeError('Failed to fetch'));
    posted.push(body.content);
    if (body.content === 'bad' && mode !== 'fixed') return json(403, { error: { code: 'forbidden', message: 'not a member' } });
    return json(201, { message: { id: 80 + posted.length, room_id: 3, content: body.content, client_id: body.client_id } });
  };
  const a = await c.sendMessage(3, 'one', { queue: true });
  const b = await c.sendMessage(3, 'bad', { queue: true });
  const d = await c.sendMessage(3, 'three', { queue: true });
  assert.deepEqual([a.method, b.method, d.method], ['queued', 'queued', 'queued']);
  const failedEv = [];
  c.on('outbox_failed', (x) => failedEv.push(x));
  mode = 'up';
  await until(() => posted.length === 3, 1000, 'timer retry');
  assert.deepEqual(posted, ['one', 'bad', 'three']);
  assert.equal(failedEv.length, 1);
  assert.equal(failedEv[0].error.code, 'forbidden');
  assert.deepEqual(c.outbox.map((e) => [e.content, e.status, e.error && e.error.code]), [['bad', 'failed', 'forbidden']]);
  await sleep(100); // a failed one is not retried by itself
  assert.equal(posted.length, 3);
  // Retry by hand: refused again, stays failed; then accepted.
  await assert.rejects(c.retryOutbox(b.client_id), (e) => e.code === 'forbidden');
  assert.equal(c.outbox[0].status, 'failed');
  mode = 'fixed';
  const r = await c.retryOutbox(b.client_id);
  assert.equal(r.method, 'rest');
  assert.equal(r.message.content, 'bad');
  assert.equal(c.outbox.length, 0);
  // Discard.
  mode = 'down';
  const e = await c.sendMessage(3, 'gone', { queue: true });
  assert.equal(c.discardOutbox(e.client_id), true);
  assert.equal(c.outbox.length, 0);
  mode = 'up';
  await sleep(100);
  assert.ok(!posted.includes('gone'));
  // Refused on the first attempt: thrown, not kept.
  routes['POST /api/rooms/3/messages'] = () => json(400, { error: { code: 'validation_failed', message: 'too long' } });
  await assert.rejects(c.sendMessage(3, 'x'.repeat(5000), { queue: true }), (err) => err.code === 'validation_failed');
  assert.equal(c.outbox.length, 0);
  c.destroy();
});

await test('outbox is per user', async () => {
  const storage = new MemoryStorage();
  const c = mk({ storage, outboxRetryBase: 10000, outboxRetryCap: 10000 });
  await c.login('alice', 'pw');
  routes['POST /api/rooms/3/messages'] = () => Promise.reject(new TypeError('Failed to fetch'));
  await c.sendMessage(3, 'alice\'s', { queue: true });
  routes['POST /api/auth/login'] = () => json(200, { token: 'TB', expires_at: new Date(Date.now() + 3600e3).toISOString(), user: { id: 2, username: 'bob' } });
  await c.login('bob', 'pw');
  assert.equal(c.outbox.length, 0);
  assert.equal(JSON.parse(storage.getItem('hearth.outbox.1')).length, 1);
  c.destroy();
});

await test('refresh in flight: requests wait and use the new token; a 401 for a replaced token is retried, not a sign-out', async () => {
  const c = mk();
  await c.login('alice', 'pw');
  let release;
  routes['POST /api/auth/refresh'] = () => new Promise((resolve) => {
    // The server has revoked T0 the moment it made R1; the answer reaches the client later.
    revoked.add('T0');
    release = () => resolve(json(200, { token: 'R1', expires_at: new Date(Date.now() + 3600e3).toISOString() }));
  });
  const revoked = new Set();
  const seen = [];
  routes['GET /api/rooms'] = ({ headers }) => {
    const tok = headers.Authorization.slice(7);
    seen.push(tok);
    return revoked.has(tok) ? json(401, { error: { code: 'unauthenticated', message: 'revoked token' } }) : json(200, { rooms: [] });
  };
  let signedOut = 0;
  c.on('signed_out', () => { signedOut++; });
  // A request already on its way with T0 when the refresh starts, answered after the revocation.
  let lateAnswer;
  routes['GET /api/auth/me'] = ({ headers }) => {
    const answer = () => (revoked.has(headers.Authorization.slice(7))
      ? json(401, { error: { code: 'unauthenticated', message: 'revoked token' } })
      : json(200, { user: { id: 1, username: 'alice' } }));
    if (lateAnswer) return answer();
    return new Promise((resolve) => { lateAnswer = () => resolve(answer()); });
  };
  const inFlight = c.me();
  inFlight.catch(() => {}); // awaited below; a rejection meanwhile is not "unhandled"
  await until(() => typeof lateAnswer === 'function');
  const refreshing = c.refresh();
  await until(() => typeof release === 'function');
  const during = c.getRoomList(); // made during the refresh
  const ticket = c.wsTicket();
  during.catch(() => {});
  ticket.catch(() => {});
  await sleep(20);
  assert.equal(seen.length, 0, 'a request went out with the old token during the refresh');
  lateAnswer(); // 401: its token T0 was refreshed away meanwhile
  release();
  assert.equal(await refreshing, 'R1');
  await during;
  await ticket;
  assert.deepEqual(seen, ['R1']);
  assert.equal(calls.filter((x) => x.key === 'POST /api/auth/ws-ticket').at(-1).headers.Authorization, 'Bearer R1');
  const me = await inFlight;
  assert.equal(me.username, 'alice');
  const meCalls = calls.filter((x) => x.key === 'GET /api/auth/me').map((x) => x.headers.Authorization);
  assert.deepEqual(meCalls, ['Bearer T0', 'Bearer R1']);
  assert.equal(c.stats.authRetries, 1);
  assert.equal(signedOut, 0);
  assert.equal(c.token, 'R1');
  // A 401 for the current token still signs out.
  revoked.add('R1');
  await assert.rejects(c.getRoomList(), (e) => e.status === 401);
  assert.equal(signedOut, 1);
  c.destroy();
});

await test('4401 caused by our own refresh: the socket reconnects with the new token, no sign-out', async () => {
  const c = await openClient();
  let release;
  routes['POST /api/auth/refresh'] = () => new Promise((resolve) => { release = () => resolve(json(200, { token: 'R9', expires_at: new Date(Date.now() + 3600e3).toISOString() })); });
  c.chat._authRetried = true; // as after an earlier recovery: a real second failure would sign out
  const refreshing = c.refresh();
  await until(() => typeof release === 'function');
  FakeWS.latest().serverClose(4401); // "revoked token": the server revoked T0 before we heard of R9
  await sleep(20);
  release();
  await refreshing;
  await until(() => FakeWS.all.length === 2, 1000, 'reconnect');
  assert.equal(calls.filter((x) => x.key === 'POST /api/auth/ws-ticket').at(-1).headers.Authorization, 'Bearer R9');
  assert.equal(c.token, 'R9');
  assert.notEqual(c.state, 'signed_out');
  c.destroy();
});

await test('register and login send the guest token (X-Guest-Token), then forget it', async () => {
  const storage = new MemoryStorage();
  storage.setItem('hearth.guest_token', 'G7');
  const c = mk({ storage });
  routes['POST /api/auth/register'] = () => json(201, { token: 'T5', expires_at: new Date(Date.now() + 3600e3).toISOString(), user: { id: 5, username: 'neo' } });
  await c.register('neo', 'password1');
  assert.equal(calls.find((x) => x.key === 'POST /api/auth/register').headers['X-Guest-Token'], 'G7');
  assert.equal(calls.find((x) => x.key === 'POST /api/auth/register').headers.Authorization, undefined);
  assert.equal(c.guestToken, null);
  await c.logout();
  storage.setItem('hearth.guest_token', 'G8');
  await c.login('alice', 'pw');
  assert.equal(calls.find((x) => x.key === 'POST /api/auth/login').headers['X-Guest-Token'], 'G8');
  assert.equal(c.guestToken, null);
  // Without a guest token, no header.
  calls.length = 0;
  await c.login('alice', 'pw');
  assert.equal(calls.find((x) => x.key === 'POST /api/auth/login').headers['X-Guest-Token'], undefined);
  c.destroy();
});

await test('the guest socket closed by the sign-in that adopts it waits for the sign-in (no new anonymous guest)', async () => {
  const c = mk();
  c.support.start();
  await until(() => FakeWS.all.length === 1);
  FakeWS.latest().accept({ user: null, guest: { id: 7, name: 'Visitor 7f3a' }, guest_token: 'G1' });
  let answer;
  routes['POST /api/auth/register'] = () => new Promise((resolve) => { answer = resolve; });
  const reg = c.register('neo', 'password1');
  await until(() => typeof answer === 'function');
  // The server adopts the conversation and closes the guest's sockets before its answer arrives.
  FakeWS.latest().push({ type: 'error', code: 'unauthenticated', close_code: 4401, retry: 'reauthenticate', message: 'the visitor signed in' });
  FakeWS.latest().serverClose(4401);
  await sleep(50);
  assert.equal(FakeWS.all.length, 1, 'a new (anonymous) support socket was opened during the sign-up');
  assert.equal(c.guestToken, 'G1');
  answer(json(201, { token: 'T5', expires_at: new Date(Date.now() + 3600e3).toISOString(), user: { id: 5, username: 'neo' } }));
  await reg;
  await until(() => FakeWS.all.length === 2, 1000, 'support as the user');
  assert.match(FakeWS.latest().url, /\/ws\/support\/\?ticket=/);
  assert.equal(c.guestToken, null);
  c.destroy();

  // A sign-in that fails leaves the guest conversation going on.
  reset();
  const storage = new MemoryStorage();
  const d = mk({ storage });
  d.support.start();
  await until(() => FakeWS.all.length === 1);
  FakeWS.latest().accept({ user: null, guest: { id: 8, name: 'Visitor 8' }, guest_token: 'G2' });
  let refuse;
  routes['POST /api/auth/login'] = () => new Promise((resolve) => { refuse = resolve; });
  const login = d.login('neo', 'wrong');
  await until(() => typeof refuse === 'function');
  FakeWS.latest().serverClose(4401);
  await sleep(30);
  assert.equal(FakeWS.all.length, 1);
  refuse(json(401, { error: { code: 'unauthenticated', message: 'bad credentials' } }));
  await assert.rejects(login, (e) => e.status === 401);
  await until(() => FakeWS.all.length === 2, 1000, 'guest socket again');
  assert.equal(FakeWS.latest().url, 'ws://h.test/ws/support/?guest=G2');
  d.destroy();
});

console.log(`client: ${passed} passed, ${failed} failed`);
process.exit(process.exitCode || 0);
