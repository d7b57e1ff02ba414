// Browser tests of the Hearth page against the real server, in headless Chromium.
//
//   node run-tests.mjs [name-filter-regexp]
//
// Environment:
//   HEARTH_BIN        the hearth binary (default: $CARGO_TARGET_DIR/debug/hearth, else
//                     <repo>/target/debug/hearth); this script builds nothing
//   CHROMIUM_PATH     the browser (default /usr/bin/chromium)
//   SCREENSHOTS_DIR   where the screenshots go (default <repo>/docs/screenshots)
//   BROWSER_TESTS_FILTER  like the first argument
//   KEEP_SERVER_LOG   set to keep the server's log (and database) after the run
//
// One server (fresh database file, a staff user made with `hearth user create --staff`) serves
// the whole run; each test has its own browser contexts, users and rooms, and each page talks to
// the server through its own TCP proxy (lib/proxy.mjs) so that a test can take that page's
// WebSockets away while its HTTP keeps working. The last line is `N passed, M failed`; the exit
// code is non-zero on any failure, including a browser or server that cannot start.

import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProxy } from './lib/proxy.mjs';
import { assert, assertEqual, indent, run } from './lib/runner.mjs';
import { startServer } from './lib/server.mjs';
import {
  T, clientStats, countMessages, createRoom, currentRoomId, openHome, openRoom, roomItem, sendMessage, signIn, signUp, uniq,
  waitClient, waitConnState, waitForMessage,
} from './lib/page.mjs';
import { tests as peopleTests } from './tests-people.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const HEARTH_BIN = process.env.HEARTH_BIN
  || join(process.env.CARGO_TARGET_DIR ? resolve(repo, process.env.CARGO_TARGET_DIR) : join(repo, 'target'), 'debug', 'hearth');
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOTS = resolve(repo, process.env.SCREENSHOTS_DIR || 'docs/screenshots');
const FILTER = process.argv[2] || process.env.BROWSER_TESTS_FILTER || null;

const PASSWORD = 'correct-horse-battery';
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 375, height: 740 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Saves a screenshot under docs/screenshots/ (a page, or one element of it). */
async function screenshot(target, file, opts = {}) {
  const path = join(SCREENSHOTS, file);
  await target.screenshot({ path, animations: 'disabled', ...opts });
  return path;
}

/** Two users who signed up through the page, each in their own browser context. */
async function twoUsers(t, { phoneB = false } = {}) {
  const id = uniq();
  const alice = { username: `alice_${id}`, password: PASSWORD, displayName: `Alice ${id}` };
  const bob = { username: `bob_${id}`, password: PASSWORD, displayName: `Bob ${id}` };
  const a = await t.newPage('alice');
  const b = await t.newPage('bob', { viewport: phoneB ? PHONE : DESKTOP, isMobile: phoneB, hasTouch: phoneB });
  await Promise.all([signUp(a.page, alice), signUp(b.page, bob)]);
  return { id, alice, bob, a, b };
}

/** Cuts a page's WebSockets at its proxy and refuses new ones; waits for the page to notice. */
async function dropSockets(p) {
  p.proxy.refuseUpgrades(true);
  const cut = p.proxy.cutWebSockets();
  assert(cut >= 3, `expected the page's chat, tasks and notifications sockets to be cut, cut ${cut}`);
  await p.page.waitForFunction(() => window.hearth.chat.state !== 'open', null, { timeout: T.short });
  await waitConnState(p.page, 'reconnecting', T.short);
}

const tests = [
  {
    name: 'a. two users chat live: a room with the other as member, messages appear without reload',
    async fn(t) {
      const { id, bob, a, b } = await twoUsers(t, { phoneB: true });
      await b.page.evaluate(() => { window.__sameDocument = true; });
      const room = `Team ${id}`;
      await createRoom(a.page, { name: room, members: [bob.username] });
      // Bob's list gets the room pushed (room_updated), no refresh.
      await openRoom(b.page, room);

      const hello = `Hello Bob, this is Alice (${id})`;
      assertEqual(await sendMessage(a.page, hello), 'websocket', 'transport of a send while connected');
      assertEqual(await waitForMessage(b.page, '#messages', hello), 1, 'copies of the message in Bob\'s page');
      assertEqual(await countMessages(a.page, '#messages', hello), 1, 'copies of the message in Alice\'s page');

      const reply = `Hi Alice! Got it (${id})`;
      assertEqual(await sendMessage(b.page, reply), 'websocket', 'transport of Bob\'s reply');
      assertEqual(await waitForMessage(a.page, '#messages', reply), 1, 'copies of the reply in Alice\'s page');
      const more = `Let's plan the release on Thursday — I'll bring the checklist. (${id})`;
      await sendMessage(a.page, more);
      await waitForMessage(b.page, '#messages', more);

      // Rendered by the right person, and Bob's page never reloaded.
      const own = await a.page.locator('#messages li.own .content', { hasText: hello }).count();
      assertEqual(own, 1, 'Alice\'s message shown as her own');
      const senders = await b.page.locator('#messages li[data-message-id]', { hasText: hello }).locator('.sender').allTextContents();
      assertEqual(senders.join(), `Alice ${id}`, 'sender shown to Bob');
      assert(await b.page.evaluate(() => window.__sameDocument === true), 'Bob\'s page was reloaded');
      // The room list preview follows the last message.
      await roomItem(a.page, room).locator('.preview', { hasText: more.slice(0, 30) }).waitFor({ timeout: T.short });

      await screenshot(a.page, 'chat.png');
      await b.page.evaluate(() => { document.getElementById('chat-panel').scrollIntoView({ block: 'start' }); });
      await screenshot(b.page, 'phone.png');
    },
  },
  {
    name: 'b. a task\'s progress bar moves and the task completes',
    async fn(t) {
      const id = uniq();
      const { page } = await t.newPage('tasks');
      await signUp(page, { username: `tasker_${id}`, password: PASSWORD, displayName: `Tasker ${id}` });
      await page.selectOption('#task-kind', 'generate_numbers');
      await page.fill('#task-area-code', '415');
      await page.fill('#task-quantity', '100000');
      // Record every value the bar takes (the page sets progress.value as task_progress frames
      // arrive; the attribute reflects it, so a MutationObserver sees each change).
      await page.evaluate(() => {
        window.__progress = [];
        const record = () => {
          const li = document.querySelector('#tasks li[data-task-id]');
          if (!li) return;
          const v = Number(li.querySelector('progress').value);
          const last = window.__progress[window.__progress.length - 1];
          if (!last || last.v !== v || last.status !== li.dataset.status) window.__progress.push({ v, status: li.dataset.status });
        };
        new MutationObserver(record).observe(document.getElementById('tasks'), { subtree: true, childList: true, attributes: true });
      });
      await page.click('#start-task-btn');
      const task = page.locator('#tasks li[data-testid="task"]').first();
      await task.waitFor({ timeout: T.short });
      await page.waitForFunction(() => document.querySelector('#tasks li[data-task-id]').dataset.status === 'completed', null, { timeout: T.long });
      const samples = await page.evaluate(() => window.__progress);
      const values = samples.map((s) => s.v);
      t.log(`progress values seen: ${values.join(' ')}`);
      for (let i = 1; i < values.length; i++) assert(values[i] >= values[i - 1], `the bar went backwards: ${values.join(' ')}`);
      assert(values.some((v) => v > 0 && v < 100), `the bar never showed progress between 0 and 100: ${values.join(' ')}`);
      assert(samples.some((s) => s.status === 'running'), `never shown as running: ${JSON.stringify(samples)}`);
      assertEqual(values[values.length - 1], 100, 'final value of the bar');
      assertEqual(await task.locator('.status').textContent(), 'completed', 'status shown');
      assertEqual(await task.locator('.progress-text').textContent(), '100% (100000 / 100000)', 'progress text');
      await task.locator('.result-summary', { hasText: 'count: 100000' }).waitFor({ timeout: T.short });
      await task.locator('[data-testid="download-csv"]').waitFor({ timeout: T.short });

      // A second, small task so the panel shows more than one.
      await page.fill('#task-quantity', '250');
      await page.fill('#task-area-code', '212');
      await page.click('#start-task-btn');
      await page.waitForFunction(() => {
        const items = document.querySelectorAll('#tasks li[data-task-id]');
        return items.length === 2 && [...items].every((li) => li.dataset.status === 'completed');
      }, null, { timeout: T.long });
      // Each finished task is notified (/ws/notifications/): two unread. "Mark all read" in the
      // inbox marks them read and takes their toasts away, so none covers the panel in the screenshot.
      await page.waitForFunction(() => document.getElementById('notif-count').textContent === '2', null, { timeout: T.long });
      await page.click('#notif-btn');
      await page.click('#notif-read-all');
      await page.keyboard.press('Escape');
      await page.waitForFunction(() => document.getElementById('notif-count').hidden
        && !document.querySelector('#toasts .toast'), null, { timeout: T.short });
      await screenshot(page.locator('#tasks-panel'), 'tasks.png');
    },
  },
  {
    name: 'b2. validated numbers show their type and region; filter and download by type',
    async fn(t) {
      const id = uniq();
      const { page } = await t.newPage('numbers', { acceptDownloads: true });
      await signUp(page, { username: `checker_${id}`, password: PASSWORD, displayName: `Checker ${id}` });
      await page.selectOption('#task-kind', 'validate_numbers');
      await page.fill('#task-numbers', ['415-555-2671', '(800) 234-5678', '876-210-1234', '373-234-5678', '212-555-0123'].join('\n'));
      await page.click('#start-task-btn');
      const task = page.locator('#tasks li[data-testid="task"]').first();
      await task.waitFor({ timeout: T.short });
      await page.waitForFunction(() => document.querySelector('#tasks li[data-task-id]').dataset.status === 'completed', null, { timeout: T.long });
      await task.locator('.result-summary', { hasText: 'Toll-free 1' }).waitFor();
      const options = await task.locator('[data-testid="type-filter"] option').evaluateAll((os) => os.map((o) => o.value));
      assertEqual(options.join(','), ',fixed_line_or_mobile,mobile,toll_free', 'type filter options');
      await task.locator('[data-testid="show-results"]').click();
      const rows = task.locator('[data-testid="task-results"] tbody tr');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="task-results"] tbody tr').length === 5);
      const jm = rows.filter({ hasText: '876-210-1234' });
      assertEqual(await jm.locator('td.type').textContent(), 'Mobile', 'type shown');
      assertEqual(await jm.locator('td.region').textContent(), 'JM', 'region shown');
      assertEqual(await rows.filter({ hasText: '373-234-5678' }).locator('td.reason').textContent(), 'area code 373 is not in service', 'reason shown');
      // Filtering by type: the shown rows and the download follow it.
      await task.locator('[data-testid="type-filter"]').selectOption('toll_free');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="task-results"] tbody tr').length === 1);
      assertEqual(await rows.first().locator('td.e164').textContent(), '+18002345678', 'the toll-free row');
      const [download] = await Promise.all([page.waitForEvent('download'), task.locator('[data-testid="download-csv"]').click()]);
      const chunks = [];
      for await (const c of await download.createReadStream()) chunks.push(c);
      const csv = Buffer.concat(chunks).toString('utf8');
      assertEqual(csv, 'input,valid,e164,reason,type,region\n(800) 234-5678,true,+18002345678,,toll_free,US\n', 'CSV of one type');
      assert(download.suggestedFilename().endsWith('-toll_free.csv'), download.suggestedFilename());
      await screenshot(page.locator('#tasks-panel'), 'number-types.png');
    },
  },
  {
    name: 'c. socket cut and upgrades refused: a message goes through REST and appears once in both pages',
    timeout: 180000,
    async fn(t) {
      const { id, bob, a, b } = await twoUsers(t);
      await a.page.fill('#direct-username', bob.username);
      await a.page.click('#open-direct-btn');
      await a.page.waitForFunction(() => !document.getElementById('message-input').disabled, null, { timeout: T.short });
      const roomId = await currentRoomId(a.page);
      // A direct room is named after the other person, so each side sees another name.
      await openRoom(b.page, { id: roomId });
      assertEqual(await b.page.getAttribute('#room-list li.active', 'data-kind'), 'direct', 'kind of the room');
      const before = `before the cut (${id})`;
      assertEqual(await sendMessage(a.page, before), 'websocket', 'transport before the cut');
      await waitForMessage(b.page, '#messages', before);

      const resumes0 = (await clientStats(a.page)).resumes;
      await dropSockets(a);
      const during = `sent while the socket is down (${id})`;
      assertEqual(await sendMessage(a.page, during), 'rest', 'transport while the socket is down');
      assertEqual(await a.page.getAttribute('#send-status', 'data-method'), 'rest', '#send-status data-method');
      assertEqual(await waitForMessage(a.page, '#messages', during), 1, 'copies in the sender\'s page');
      assertEqual(await waitForMessage(b.page, '#messages', during), 1, 'copies in the other page');
      // The page did try to reconnect and was refused meanwhile.
      await a.proxy.waitForStat('refused', 1, T.long);
      assert((await clientStats(a.page)).restFallbacks >= 1, 'the client counted no REST fallback');
      // Still down: what the other user sends reaches this page through the client's long-poll
      // of GET /api/sync (plain HTTP), before any WebSocket is back.
      const meanwhile = `written while you are offline (${id})`;
      assertEqual(await sendMessage(b.page, meanwhile), 'websocket', 'transport of the other user');
      assertEqual(await waitForMessage(a.page, '#messages', meanwhile, T.long), 1, 'copies of the long-polled message');
      assert(a.proxy.refusing && (await a.page.evaluate(() => window.hearth.chat.state)) !== 'open', 'the socket came back too early');
      assert((await clientStats(a.page)).polls >= 1, 'no long-poll answered');

      a.proxy.refuseUpgrades(false);
      await waitConnState(a.page, 'open', T.long);
      await waitClient(a.page, (h, n) => h.stats.resumes > n, resumes0);
      // Live again both ways, and still exactly one copy everywhere.
      const after = `after the reconnect (${id})`;
      assertEqual(await sendMessage(b.page, after), 'websocket', 'transport of the other user');
      assertEqual(await waitForMessage(a.page, '#messages', after), 1, 'copies of a live message after the reconnect');
      assertEqual(await sendMessage(a.page, `${after}, back`), 'websocket', 'transport after the reconnect');
      await waitForMessage(b.page, '#messages', `${after}, back`);
      for (const [who, p] of [['sender', a.page], ['other', b.page]]) {
        assertEqual(await countMessages(p, '#messages', during), 1, `copies of the REST message in the ${who}'s page at the end`);
        assertEqual(await countMessages(p, '#messages', before), 1, `copies of the first message in the ${who}'s page at the end`);
        assertEqual(await countMessages(p, '#messages', meanwhile), 1, `copies of the long-polled message in the ${who}'s page at the end`);
      }
      t.log(`proxy: ${JSON.stringify(a.proxy.stats)}`);
    },
  },
  {
    name: 'd. after the reconnect, messages sent meanwhile by the other user appear once each (resume via sync)',
    timeout: 180000,
    async fn(t) {
      const { id, alice, a, b } = await twoUsers(t);
      const room = `Resume ${id}`;
      await createRoom(b.page, { name: room, members: [alice.username] });
      await openRoom(a.page, room);
      const first = `first, both online (${id})`;
      await sendMessage(b.page, first);
      await waitForMessage(a.page, '#messages', first);
      // Without the long-poll fallback, what was sent meanwhile can only reach this page through
      // the resume after the reconnect.
      await a.page.evaluate(() => { window.hearth.opts.longPollFallback = false; });
      const s0 = await clientStats(a.page);

      await dropSockets(a);
      const missed = [1, 2, 3].map((n) => `missed message ${n} (${id})`);
      for (const m of missed) {
        assertEqual(await sendMessage(b.page, m), 'websocket', 'transport of the other user');
        assertEqual(await countMessages(b.page, '#messages', m), 1, 'copies in the sender\'s page');
      }
      await a.proxy.waitForStat('refused', 1, T.long);
      for (const m of missed) assertEqual(await countMessages(a.page, '#messages', m), 0, 'copies shown while disconnected');

      a.proxy.refuseUpgrades(false);
      await waitConnState(a.page, 'open', T.long);
      await waitClient(a.page, (h, n) => h.stats.resumes > n, s0.resumes);
      for (const m of missed) assertEqual(await waitForMessage(a.page, '#messages', m), 1, `copies of "${m}" after the reconnect`);
      const s1 = await clientStats(a.page);
      assert(s1.resumedMessages - s0.resumedMessages >= missed.length,
        `the resume delivered ${s1.resumedMessages - s0.resumedMessages} messages, expected ${missed.length}`);
      // Order kept: the missed messages follow the first one, oldest first.
      const shown = await a.page.locator('#messages li[data-message-id] .content').allTextContents();
      const idx = [first, ...missed].map((m) => shown.indexOf(m));
      assert(idx.every((v, i) => v >= 0 && (i === 0 || v > idx[i - 1])), `messages out of order: ${JSON.stringify(shown)}`);
      // Live again; still one copy of each.
      const live = `live again (${id})`;
      await sendMessage(b.page, live);
      assertEqual(await waitForMessage(a.page, '#messages', live), 1, 'copies of a live message after the resume');
      for (const m of missed) assertEqual(await countMessages(a.page, '#messages', m), 1, `copies of "${m}" at the end`);
      t.log(`resumed ${s1.resumedMessages - s0.resumedMessages} message(s); proxy: ${JSON.stringify(a.proxy.stats)}`);
    },
  },
  {
    name: 'e. a revoked token shows signed_out without a reconnect storm',
    async fn(t) {
      const id = uniq();
      const p = await t.newPage('revoked');
      await signUp(p.page, { username: `revoked_${id}`, password: PASSWORD });
      const token = await p.page.evaluate(() => localStorage.getItem('hearth.token'));
      assert(token && token.length >= 40, 'no token in the page\'s storage');
      const h0 = (await clientStats(p.page)).handshakes;
      const u0 = p.proxy.stats.upgrades;

      const res = await fetch(`${t.server.origin}/api/auth/logout`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
      assertEqual(res.status, 204, 'logout status');
      await waitConnState(p.page, 'signed_out', T.short);
      assertEqual(await p.page.textContent('#conn-state'), 'Signed out', '#conn-state text');
      await p.page.waitForSelector('#auth-view', { state: 'visible', timeout: T.short });
      // A bounded observation window: nothing may keep knocking.
      await sleep(5000);
      const s = await clientStats(p.page);
      const handshakes = s.handshakes - h0;
      const upgrades = p.proxy.stats.upgrades - u0;
      t.log(`after the revocation: ${handshakes} handshake(s) by the client, ${upgrades} upgrade request(s) at the proxy, sockets ${JSON.stringify(s.sockets)}`);
      assert(handshakes <= 3, `reconnect storm: ${handshakes} handshakes after the revocation`);
      assert(upgrades <= 3, `reconnect storm: ${upgrades} upgrade requests after the revocation`);
      assertEqual(await p.page.getAttribute('#conn-state', 'data-state'), 'signed_out', 'state after the window');
      assert(await p.page.evaluate(() => localStorage.getItem('hearth.token') === null), 'the revoked token is still stored');
      assert((await p.page.textContent('#auth-error')).includes('session ended'), 'no "session ended" notice');
    },
  },
  {
    name: 'e2. a validation error is shown once, not twice',
    async fn(t) {
      const p = await t.newPage('short-password');
      await p.page.fill('#username', `shorty_${uniq()}`);
      await p.page.fill('#password', 'short');
      await p.page.click('#register-btn');
      await p.page.waitForFunction(() => document.querySelector('#auth-error').textContent.length > 0, null, { timeout: T.short });
      const text = await p.page.textContent('#auth-error');
      t.log(`shown: ${JSON.stringify(text)}`);
      assert(text.includes('password'), `the error does not name the field: ${text}`);
      const times = text.split('must be').length - 1;
      assertEqual(times, 1, `times the reason is shown in ${JSON.stringify(text)}`);
    },
  },
  {
    name: 'f. support widget (anonymous visitor) and staff console: question and reply, live',
    async fn(t) {
      const id = uniq();
      const staff = await t.newPage('staff');
      await signIn(staff.page, t.server.staff);
      await staff.page.waitForSelector('#staff-console', { state: 'visible', timeout: T.short });
      await staff.page.waitForFunction(() => document.getElementById('staff-state').dataset.state === 'open', null, { timeout: T.long });

      const visitor = await t.newPage('visitor');
      await visitor.page.waitForSelector('#auth-view', { state: 'visible' });
      assert(await visitor.page.evaluate(() => document.getElementById('support-widget').open), 'the widget is not open');
      const question = `Hello, how do I reset my password? (${id})`;
      await visitor.page.fill('#support-input', question);
      await visitor.page.click('#support-send');
      assertEqual(await waitForMessage(visitor.page, '#support-messages', question), 1, 'copies of the question in the widget');
      await visitor.page.waitForFunction(() => /^Connected · Visitor /.test(document.getElementById('support-state').textContent), null, { timeout: T.short });
      const guest = await visitor.page.evaluate(() => window.hearth.support.guest);
      assert(guest && guest.name, 'no guest identity in the connected frame');
      // The visitor's own message is shown as theirs.
      const mine = visitor.page.locator('#support-messages li[data-message-id]', { hasText: question });
      assertEqual(await mine.getAttribute('class'), 'msg own', 'class of the visitor\'s own message');
      assertEqual(await mine.locator('.sender').textContent(), 'You', 'sender of the visitor\'s own message');

      // The staff console lists the conversation without a refresh (the question is pushed).
      const convo = staff.page.locator('#staff-rooms li[data-room-id]', { hasText: question.slice(0, 20) });
      await convo.waitFor({ timeout: T.short });
      await convo.click();
      assertEqual(await waitForMessage(staff.page, '#staff-messages', question), 1, 'copies of the question in the console');
      const answer = `Use "Forgot password" on the sign-in page; I've sent you a link. (${id})`;
      await staff.page.fill('#staff-input', answer);
      await staff.page.click('#staff-send');
      assertEqual(await waitForMessage(staff.page, '#staff-messages', answer), 1, 'copies of the reply in the console');
      assertEqual(await waitForMessage(visitor.page, '#support-messages', answer), 1, 'copies of the reply in the widget');
      const reply = visitor.page.locator('#support-messages li[data-message-id]', { hasText: answer });
      assertEqual(await reply.getAttribute('class'), 'msg', 'class of the staff reply in the widget');
      assertEqual(await reply.locator('.sender').textContent(), t.server.staff.username, 'sender of the reply in the widget');
      assertEqual(await countMessages(visitor.page, '#support-messages', question), 1, 'copies of the question in the widget at the end');
      const thanks = `Thanks, that worked! (${id})`;
      await visitor.page.fill('#support-input', thanks);
      await visitor.page.click('#support-send');
      assertEqual(await waitForMessage(staff.page, '#staff-messages', thanks), 1, 'copies of the follow-up in the console');

      await screenshot(visitor.page.locator('#support-widget'), 'support-widget.png');
      await screenshot(staff.page.locator('#staff-console'), 'staff-console.png');
    },
  },
  ...peopleTests,
];
tests.push(...(await import('./tests-ui.mjs')).uiTests); // the page's own defects (issue 10)

tests.push(...(await import('./tests-network.mjs')).networkTests); // WebSockets blocked, the outbox, token refresh races

async function main() {
  // Interrupted: exit through process.exit so the server child is killed on the way out.
  for (const [sig, n] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) process.once(sig, () => process.exit(128 + n));
  process.stdout.on('error', () => process.exit(1)); // e.g. `| head` closed the pipe
  await mkdir(SCREENSHOTS, { recursive: true });
  const log = (line) => console.log(line);
  log(`# hearth: ${HEARTH_BIN}`);
  log(`# chromium: ${CHROMIUM_PATH}`);
  const { failed } = await run(tests, {
    filter: FILTER ? new RegExp(FILTER) : null,
    log,
    async setup() {
      // A short presence grace, so the people tests see "offline" quickly; registrations are not
      // throttled (every test signs up its own users from 127.0.0.1).
      const server = await startServer({ bin: HEARTH_BIN, env: { HEARTH_PRESENCE_GRACE_MS: '300', HEARTH_REGISTER_MAX_PER_WINDOW: '1000' } });
      log(`# server on ${server.origin}, database ${server.dbPath}`);
      let browser;
      try {
        // Imported here so that a missing `npm ci` is reported as a failed setup, with the
        // closing count line, like a browser that cannot start.
        const { chromium } = await import('playwright-core');
        browser = await chromium.launch({
          executablePath: CHROMIUM_PATH,
          headless: true,
          chromiumSandbox: false, // --no-sandbox: CI runs as root
          timeout: 60000,
          args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
        });
      } catch (err) {
        await server.stop();
        throw new Error(`the browser cannot start (${CHROMIUM_PATH}): ${err.message}`);
      }
      log(`# browser ${browser.version()}`);
      return { server, browser };
    },
    async teardown(fx) {
      if (!fx) return;
      await fx.browser.close().catch(() => {});
      const keep = !!process.env.KEEP_SERVER_LOG;
      const exit = await fx.server.stop({ keep });
      if (keep) log(`# server log kept: ${fx.server.logPath}`);
      if (exit && exit.code !== 0 && exit.signal == null) throw new Error(`the server exited with ${JSON.stringify(exit)} on SIGTERM`);
    },
    async each({ server, browser }, name) {
      const pages = [];
      const lines = [];
      const t = {
        server,
        log: (line) => { lines.push(line); log(`    # ${line}`); },
        /** A page in a fresh browser context, behind a proxy of its own. */
        async newPage(label, { viewport = DESKTOP, ...contextOpts } = {}) {
          const proxy = await startProxy({ targetPort: server.port });
          const context = await browser.newContext({ viewport, reducedMotion: 'reduce', colorScheme: 'light', ...contextOpts });
          context.setDefaultTimeout(T.short);
          const page = await context.newPage();
          const entry = { label, context, page, proxy, origin: proxy.origin, errors: [], console: [] };
          page.on('pageerror', (err) => entry.errors.push(String(err && err.stack ? err.stack : err)));
          page.on('console', (msg) => {
            entry.console.push(`[${msg.type()}] ${msg.text()}`);
            if (entry.console.length > 60) entry.console.shift();
          });
          pages.push(entry);
          await openHome(page, proxy.origin);
          return entry;
        },
        async onFailure() {
          const dir = join(repo, 'target', 'browser-failures');
          await mkdir(dir, { recursive: true }).catch(() => {});
          for (const p of pages) {
            const file = join(dir, `${name.slice(0, 1)}-${p.label}.png`);
            await p.page.screenshot({ path: file, fullPage: true }).then(() => log(indent(`screenshot of ${p.label}: ${file}`))).catch(() => {});
            const state = await p.page.evaluate(() => ({ state: window.hearth.state, sockets: window.hearth.socketStates(), stats: window.hearth.stats }))
              .catch((e) => `unavailable: ${e.message}`);
            log(indent(`${p.label} client: ${JSON.stringify(state)}`));
            log(indent(`${p.label} proxy: ${JSON.stringify(p.proxy.stats)}`));
            if (p.errors.length) log(indent(`${p.label} page errors:\n${p.errors.join('\n')}`));
            if (p.console.length) log(indent(`${p.label} console (last lines):\n${p.console.slice(-25).join('\n')}`));
          }
          log(indent(`server log (tail):\n${await server.logTail(3000)}`));
        },
        async close({ failed }) {
          const errors = pages.flatMap((p) => p.errors.map((e) => `${p.label}: ${e}`));
          for (const p of pages) {
            await p.context.close().catch(() => {});
            await p.proxy.close().catch(() => {});
          }
          if (!failed && errors.length) throw new Error(`uncaught errors in the page:\n${errors.join('\n')}`);
        },
      };
      return t;
    },
  });
  process.exitCode = failed ? 1 : 0;
}

main().catch((err) => {
  console.log(`fatal: ${err && err.stack ? err.stack : err}`);
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
});
