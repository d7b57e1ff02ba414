// Helpers of the network tests (tests-network.mjs): a server of a test's own (its own flags,
// a fixed port so that it can be stopped and started again on the same database), pages signed
// up on it, and sends that report how they went.

import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { T, openHome, uniq, waitConnState } from './page.mjs';
import { startProxy } from './proxy.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..');
const ANSI = /\x1b\[[0-9;]*m/g;

export const PASSWORD = 'correct-horse-battery';

/** The hearth binary, found as run-tests.mjs finds it. */
export const HEARTH_BIN = process.env.HEARTH_BIN
  || join(process.env.CARGO_TARGET_DIR ? resolve(repo, process.env.CARGO_TARGET_DIR) : join(repo, 'target'), 'debug', 'hearth');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

/**
 * A `hearth serve` of a test's own on a fixed port and a database file of its own, with extra
 * flags (e.g. ['--token-ttl', '60']). stop() ends it with SIGTERM (sockets close with 1001),
 * start() runs it again on the same port and database: users and tokens survive.
 * Call dispose() at the end (it stops the server and removes the directory).
 */
export async function ownServer(args = []) {
  const dir = await mkdtemp(join(tmpdir(), 'hearth-net-'));
  const dbPath = join(dir, 'hearth.db');
  const logPath = join(dir, 'server.log');
  const log = createWriteStream(logPath);
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HEARTH_')));
  env.RUST_LOG = process.env.RUST_LOG || 'info';
  let child = null;
  let exited = null;
  const killOnExit = () => { if (child && !exited) child.kill('SIGKILL'); };
  process.once('exit', killOnExit);

  const srv = {
    proxies: [],
    port,
    origin: `http://127.0.0.1:${port}`,
    dbPath,
    get running() { return !!child && !exited; },
    async start() {
      exited = null;
      const c = spawn(HEARTH_BIN, ['serve', '--bind', `127.0.0.1:${port}`, '--db', dbPath, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      child = c;
      const exit = new Promise((r) => c.on('exit', (code, signal) => { exited = { code, signal }; r(exited); }));
      c.exitPromise = exit;
      await new Promise((res, rej) => {
        let buf = '';
        const timer = setTimeout(() => rej(new Error('the own server did not start within 60 s')), 60000);
        c.stderr.on('data', (d) => {
          log.write(d);
          if (buf === null) return;
          buf += d.toString('utf8').replace(ANSI, '');
          if (/hearth listening/.test(buf)) { clearTimeout(timer); buf = null; res(); }
        });
        exit.then((e) => { clearTimeout(timer); rej(new Error(`the own server exited: ${JSON.stringify(e)}`)); });
      });
    },
    async stop() {
      if (!child || exited) return exited;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
      const e = await child.exitPromise;
      clearTimeout(killer);
      return e;
    },
    /** `hearth user create <username> [--staff]` on this server's database (it may be running). */
    async createUser(username, password, { staff = false } = {}) {
      const made = await new Promise((res, rej) => {
        const c = spawn(HEARTH_BIN, ['user', 'create', username, ...(staff ? ['--staff'] : []), '--db', dbPath], { env, stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        c.stdout.on('data', (d) => { out += d; });
        c.stderr.on('data', (d) => { out += d; });
        c.on('error', rej);
        c.on('close', (code) => res({ code, out }));
        c.stdin.end(`${password}\n`);
      });
      if (made.code !== 0) throw new Error(`hearth user create ${username} failed (${made.code}): ${made.out}`);
      return { username, password };
    },
    async logTail(chars = 3000) {
      const text = await readFile(logPath, 'utf8').catch(() => '');
      return text.replace(ANSI, '').slice(-chars);
    },
    async dispose() {
      for (const proxy of srv.proxies) await proxy.close().catch(() => {});
      await srv.stop().catch(() => {});
      process.off('exit', killOnExit);
      await new Promise((r) => log.end(r));
      await rm(dir, { recursive: true, force: true });
    },
  };
  await srv.start();
  return srv;
}

/**
 * With HEARTH_STATIC_DIR set, the page's scripts and style (app.js, hearth-client.js, style.css)
 * come from that directory instead of the binary: how these tests are run against another
 * version of the page (e.g. `git show main~1:static/app.js`) to see them fail without a rebuild.
 * (The document itself still comes from the server: Chromium treats a document made up by the
 * test as public and then refuses its WebSockets to 127.0.0.1, by its local network access checks.)
 */
export async function overrideStatic(page) {
  const dir = process.env.HEARTH_STATIC_DIR;
  if (!dir) return false;
  const types = { js: 'text/javascript', css: 'text/css' };
  await page.route(/\/(app\.js|hearth-client\.js|style\.css)(\?.*)?$/, async (route) => {
    const file = new URL(route.request().url()).pathname.slice(1);
    try {
      const body = await readFile(join(dir, file));
      return route.fulfill({ status: 200, body, contentType: types[file.split('.').pop()] });
    } catch {
      return route.fallback();
    }
  });
  return true;
}

/**
 * Runs `fn(srv)` with a server of the test's own (ownServer(args)); its log's tail is printed
 * when `fn` fails, and it is disposed of in any case.
 */
export async function withServer(t, args, fn) {
  const srv = await ownServer(args);
  try {
    return await fn(srv);
  } catch (err) {
    t.log(`own server log (tail):\n${await srv.logTail()}`);
    throw err;
  } finally {
    await srv.dispose();
  }
}

/**
 * A page from t.newPage, moved to a server of the test's own: behind a proxy of its own to that
 * server (p.proxy, as t.newPage's pages have one to the shared server, whose proxy is closed).
 * Each test of this file has its own server, so that its sign-ups do not count against the
 * shared server's registrations per address.
 */
export async function netPage(t, label, { server, ...opts } = {}) {
  const p = await t.newPage(label, opts);
  await p.proxy.close().catch(() => {});
  p.proxy = await startProxy({ targetPort: server.port });
  p.origin = p.proxy.origin;
  server.proxies.push(p.proxy);
  await overrideStatic(p.page);
  await openHome(p.page, p.origin);
  return p;
}

/** Signs up through the form; waits for the app view, and (unless `open` is false) for every socket open. */
export async function signUpNet(page, { username, password = PASSWORD, displayName }, { open = true } = {}) {
  await page.fill('#username', username);
  await page.fill('#password', password);
  if (displayName) await page.fill('#display-name', displayName);
  await page.click('#register-btn');
  await page.waitForSelector('#app-view', { state: 'visible', timeout: T.short });
  if (open) await waitConnState(page, 'open');
}

/** Two people, alice and bob, each signed up in a page of their own. */
export async function twoPeople(t, server, { aliceOpen = true, beforeAlice = null } = {}) {
  const id = uniq();
  const alice = { username: `alice_${id}`, displayName: `Alice ${id}` };
  const bob = { username: `bob_${id}`, displayName: `Bob ${id}` };
  const a = await netPage(t, 'alice', { server });
  const b = await netPage(t, 'bob', { server });
  if (beforeAlice) await beforeAlice(a);
  await Promise.all([signUpNet(a.page, alice, { open: aliceOpen }), signUpNet(b.page, bob)]);
  return { id, alice, bob, a, b };
}

/**
 * Types a message in the open room and sends it; resolves with #send-status's data-method once
 * it says how it went: websocket, rest, queued (kept to send later) or error.
 */
export async function trySend(page, text) {
  await page.evaluate(() => { const s = document.getElementById('send-status'); s.dataset.method = ''; s.textContent = ''; });
  await page.fill('#message-input', text);
  await page.click('#send-btn');
  await page.waitForFunction(() => document.getElementById('send-status').dataset.method !== '', null, { timeout: T.long });
  return page.getAttribute('#send-status', 'data-method');
}

/** The unsent message items of the open room: [{content, status}] */
export function pendingItems(page) {
  return page.evaluate(() => [...document.querySelectorAll('#messages > li[data-testid="pending-message"]')]
    .map((li) => ({ content: li.querySelector('.content').textContent, status: li.dataset.status, clientId: li.dataset.clientId })));
}

/** How many messages of a room, as the server stores them, have exactly `content` (read with `token`). */
export async function serverCount(origin, token, roomId, content) {
  const res = await fetch(`${origin}/api/rooms/${roomId}/messages?limit=100`, { headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET messages: ${res.status} ${await res.text()}`);
  const { messages } = await res.json();
  return messages.filter((m) => m.content === content).length;
}

/** The page's stored token. */
export function pageToken(page) {
  return page.evaluate(() => localStorage.getItem('hearth.token'));
}

