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

console.log(`client: ${passed} passed, ${failed} failed`);
process.exit(process.exitCode || 0);
