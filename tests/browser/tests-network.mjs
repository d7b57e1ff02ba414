// Browser tests of the page on a bad network (issue 10): WebSockets blocked from the first load,
// messages written while the server is down or the network is gone (the outbox), a refused
// message retried or discarded by hand, token refreshes that race requests in flight, and a
// visitor who signs up keeping their support conversation. Appended to the suite by
// run-tests.mjs; the same test shape ({name, timeout, fn(t)}). Each test runs on a server of its
// own (lib/net.mjs): n2 stops and starts it, n5 needs --token-ttl 60, n6 a staff user of its own.
// HEARTH_STATIC_DIR=<dir> runs them against another version of the page's scripts (see net.mjs).

import { assert, assertEqual } from './lib/runner.mjs';
import { PASSWORD, netPage, pageToken, serverCount, signUpNet, sleep, trySend, twoPeople, withServer } from './lib/net.mjs';
import { T, countMessages, createRoom, openRoom, roomItem, signIn, uniq, waitConnState, waitForMessage } from './lib/page.mjs';

/** Takes a page's WebSockets away at its proxy (cut now, refuse new ones); HTTP keeps working. */
async function blockSockets(p) {
  p.proxy.refuseUpgrades(true);
  p.proxy.cutWebSockets();
  await p.page.waitForFunction(() => window.hearth.chat.state !== 'open', null, { timeout: T.short });
}

/** Fails the page's message sends (POST .../messages) as a network error would, until unblocked. */
async function blockSends(page) {
  const handler = (route) => (route.request().method() === 'POST' ? route.abort('internetdisconnected') : route.fallback());
  await page.route('**/api/rooms/*/messages', handler);
  return () => page.unroute('**/api/rooms/*/messages', handler);
}

/** Waits for the page's unsent items of the open room to match `want` ([{content, status}] with status a RegExp). */
async function waitPending(page, want, timeout = T.short) {
  await page.waitForFunction((w) => {
    const items = [...document.querySelectorAll('#messages > li[data-testid="pending-message"]')];
    return items.length === w.length && w.every((x, i) => items[i].querySelector('.content').textContent === x.content
      && new RegExp(x.status).test(items[i].dataset.status));
  }, want.map((x) => ({ content: x.content, status: x.status.source })), { timeout });
}

export const networkTests = [
  {
    name: 'n1. WebSockets blocked from the first load: the other person\'s messages still arrive live, once each',
    timeout: 180000,
    fn: (t) => withServer(t, [], async (srv) => {
      const { id, alice, a, b } = await twoPeople(t, srv, { aliceOpen: false, beforeAlice: (p) => p.proxy.refuseUpgrades(true) });
      // Alice's page never had a socket: every handshake was refused at her proxy.
      await a.proxy.waitForStat('refused', 1, T.short);
      assert(a.proxy.stats.upgrades === a.proxy.stats.refused, 'a WebSocket of Alice\'s got through');
      // The fallback starts by itself (after the client's longPollDelay); say so in the log if not.
      const polling = await a.page.waitForFunction(() => window.hearth.polling === true, null, { timeout: 10000 }).then(() => true, () => false);
      t.log(`alice long-polling: ${polling}; pill: ${JSON.stringify(await a.page.textContent('#conn-state'))}`);

      // Bob makes a room with Alice and writes in it: the room and the message reach Alice's
      // page over HTTP (a message for a room she does not know yet makes the list reload).
      const room = `Blocked ${id}`;
      await createRoom(b.page, { name: room, members: [alice.username] });
      const first = `first, to someone without WebSockets (${id})`;
      assertEqual(await trySend(b.page, first), 'websocket', 'Bob\'s transport');
      await roomItem(a.page, room).waitFor({ timeout: T.short });
      await openRoom(a.page, room);
      assertEqual(await waitForMessage(a.page, '#messages', first), 1, 'copies of the first message');

      // Live: each of Bob's messages shows in Alice's page within about two seconds.
      const lags = [];
      const all = [first];
      for (let i = 1; i <= 3; i++) {
        const text = `live over HTTP ${i} (${id})`;
        all.push(text);
        const t0 = Date.now();
        assertEqual(await trySend(b.page, text), 'websocket', 'Bob\'s transport');
        await waitForMessage(a.page, '#messages', text, 5000);
        lags.push(Date.now() - t0);
      }
      t.log(`delays until shown in Alice's page: ${lags.join(', ')} ms`);
      assert(Math.max(...lags) < 3000, `a message took ${Math.max(...lags)} ms to show`);
      // Alice can answer (over REST) and Bob sees it.
      const answer = `answer from Alice (${id})`;
      assertEqual(await trySend(a.page, answer), 'rest', 'Alice\'s transport');
      await waitForMessage(b.page, '#messages', answer);
      assertEqual((await a.page.evaluate(() => window.hearth.stats)).handshakes > 0, true, 'Alice\'s page tried WebSockets');

      // WebSockets come back: the socket takes over, the long-poll stops, nothing is lost or doubled.
      const atSwitch = `sent as the sockets come back (${id})`;
      a.proxy.refuseUpgrades(false);
      assertEqual(await trySend(b.page, atSwitch), 'websocket', 'Bob\'s transport');
      await a.page.evaluate(() => window.hearth.chat.kick());
      await waitConnState(a.page, 'open', T.long);
      await a.page.waitForFunction(() => window.hearth.polling === false, null, { timeout: T.short });
      const after = `after the switch (${id})`;
      await trySend(b.page, after);
      await waitForMessage(a.page, '#messages', after);
      await waitForMessage(a.page, '#messages', atSwitch);
      for (const text of [...all, answer, atSwitch, after]) {
        assertEqual(await countMessages(a.page, '#messages', text), 1, `copies of "${text}" in Alice's page`);
        assertEqual(await countMessages(b.page, '#messages', text), 1, `copies of "${text}" in Bob's page`);
      }
    }),
  },
  {
    name: 'n2. server down: a message written meanwhile waits as unsent, then is sent once when the server is back',
    timeout: 180000,
    fn: (t) => withServer(t, [], async (srv) => {
      const { id, bob, a, b } = await twoPeople(t, srv);
      const room = `Outage ${id}`;
      const roomId = await createRoom(a.page, { name: room, members: [bob.username] });
      await openRoom(b.page, room);
      const before = `before the outage (${id})`;
      assertEqual(await trySend(a.page, before), 'websocket', 'transport before the outage');
      await waitForMessage(b.page, '#messages', before);

      await srv.stop();
      await a.page.waitForFunction(() => window.hearth.chat.state !== 'open', null, { timeout: T.short });
      const during = `written while the server is down (${id})`;
      const method = await trySend(a.page, during);
      t.log(`send status while down: ${JSON.stringify(await a.page.textContent('#send-status'))}`);
      assertEqual(method, 'queued', 'outcome of a send while the server is down');
      await waitPending(a.page, [{ content: during, status: /pending|sending/ }]);
      assertEqual(await countMessages(a.page, '#messages', during), 0, 'shown as sent while the server is down');

      await srv.start();
      // Sent by itself once the connection is back, exactly once, for both people.
      assertEqual(await waitForMessage(a.page, '#messages', during, T.long), 1, 'copies in Alice\'s page');
      await waitPending(a.page, []);
      assertEqual(await waitForMessage(b.page, '#messages', during, T.long), 1, 'copies in Bob\'s page');
      assertEqual(await serverCount(srv.origin, await pageToken(b.page), roomId, during), 1, 'copies stored by the server');
      await waitConnState(a.page, 'open', T.long);
      await sleep(1000); // a late second attempt would show up here
      assertEqual(await countMessages(a.page, '#messages', during), 1, 'copies in Alice\'s page at the end');
      assertEqual(await countMessages(b.page, '#messages', during), 1, 'copies in Bob\'s page at the end');
      assertEqual(await serverCount(srv.origin, await pageToken(b.page), roomId, during), 1, 'copies stored at the end');
      assertEqual(await a.page.evaluate(() => window.hearth.outbox.length), 0, 'entries left in the outbox');
    }),
  },
  {
    name: 'n3. an unsent message survives a reload, still unsent, and is sent once when the network is back',
    timeout: 180000,
    fn: (t) => withServer(t, [], async (srv) => {
      const { id, bob, a, b } = await twoPeople(t, srv);
      const room = `Reload ${id}`;
      const roomId = await createRoom(a.page, { name: room, members: [bob.username] });
      await openRoom(b.page, room);
      await blockSockets(a);
      const unblock = await blockSends(a.page);
      const text = `kept across a reload (${id})`;
      assertEqual(await trySend(a.page, text), 'queued', 'outcome of a send without a network');
      await waitPending(a.page, [{ content: text, status: /pending|sending/ }]);

      await a.page.reload({ waitUntil: 'load' });
      await a.page.waitForSelector('#app-view', { state: 'visible', timeout: T.short });
      await openRoom(a.page, { id: roomId });
      await waitPending(a.page, [{ content: text, status: /pending|sending/ }]);
      const stored = await a.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('hearth.outbox.')));
      t.log(`outbox in storage: ${JSON.stringify(stored)}`);
      await sleep(1500); // the client keeps trying meanwhile; still unsent
      await waitPending(a.page, [{ content: text, status: /pending|sending/ }]);
      assertEqual(await countMessages(b.page, '#messages', text), 0, 'copies in Bob\'s page while unsent');

      await unblock(); // sends work again (the sockets stay blocked: it goes over REST)
      assertEqual(await waitForMessage(a.page, '#messages', text, T.long), 1, 'copies in Alice\'s page');
      await waitPending(a.page, []);
      assertEqual(await waitForMessage(b.page, '#messages', text, T.long), 1, 'copies in Bob\'s page');
      a.proxy.refuseUpgrades(false);
      await waitConnState(a.page, 'open', T.long);
      await sleep(1000);
      assertEqual(await countMessages(a.page, '#messages', text), 1, 'copies in Alice\'s page at the end');
      assertEqual(await countMessages(b.page, '#messages', text), 1, 'copies in Bob\'s page at the end');
      assertEqual(await serverCount(srv.origin, await pageToken(b.page), roomId, text), 1, 'copies stored by the server');
    }),
  },
  {
    name: 'n4. a message the server refuses on a later attempt stays, with Retry and Discard',
    timeout: 180000,
    fn: (t) => withServer(t, [], async (srv) => {
      const { id, bob, a, b } = await twoPeople(t, srv);
      const room = `Refused ${id}`;
      const roomId = await createRoom(a.page, { name: room, members: [bob.username] });
      await openRoom(b.page, room);
      await blockSockets(a);
      const unblock = await blockSends(a.page);
      const tooLong = `${'x'.repeat(4001)}`;
      const retryMe = `retry me (${id})`;
      assertEqual(await trySend(a.page, tooLong), 'queued', 'outcome of the long message');
      assertEqual(await trySend(a.page, retryMe), 'queued', 'outcome of the second message');
      await waitPending(a.page, [{ content: tooLong, status: /pending|sending/ }, { content: retryMe, status: /pending|sending/ }]);

      // The network comes back, but the server refuses both: the long one for real (over 4000
      // characters), the other with a 403 made up here.
      const refuse = (route) => {
        const req = route.request();
        if (req.method() !== 'POST' || !(req.postData() || '').includes('retry me')) return route.fallback();
        return route.fulfill({ status: 403, contentType: 'application/json',
          body: JSON.stringify({ error: { code: 'forbidden', message: 'you may not write here' } }) });
      };
      await a.page.route('**/api/rooms/*/messages', refuse);
      await unblock();
      await waitPending(a.page, [{ content: tooLong, status: /failed/ }, { content: retryMe, status: /failed/ }], T.long);
      const notes = await a.page.locator('#messages li[data-testid="pending-message"] .pending-note').allTextContents();
      t.log(`notes: ${JSON.stringify(notes)}`);
      assert(/4000|content/.test(notes[0]), `the long message's note does not say why: ${notes[0]}`);
      assert(notes[1].includes('you may not write here'), `the second note does not say why: ${notes[1]}`);
      // Refused stays refused: no automatic retry sends them meanwhile.
      await sleep(2000);
      await waitPending(a.page, [{ content: tooLong, status: /failed/ }, { content: retryMe, status: /failed/ }]);

      // Discard the long one: gone, never stored.
      await a.page.locator('#messages li[data-testid="pending-message"]', { hasText: 'xxxx' }).locator('[data-testid="discard-message"]').click();
      await waitPending(a.page, [{ content: retryMe, status: /failed/ }]);
      // Retry the other once the server would take it: sent once.
      await a.page.unroute('**/api/rooms/*/messages', refuse);
      await a.page.locator('#messages li[data-testid="pending-message"]', { hasText: retryMe }).locator('[data-testid="retry-message"]').click();
      assertEqual(await waitForMessage(a.page, '#messages', retryMe, T.short), 1, 'copies in Alice\'s page');
      await waitPending(a.page, []);
      assertEqual(await waitForMessage(b.page, '#messages', retryMe, T.short), 1, 'copies in Bob\'s page');
      const token = await pageToken(b.page);
      assertEqual(await serverCount(srv.origin, token, roomId, retryMe), 1, 'copies of the retried message stored');
      assertEqual(await serverCount(srv.origin, token, roomId, tooLong), 0, 'copies of the discarded message stored');
      assertEqual(await a.page.evaluate(() => window.hearth.outbox.length), 0, 'entries left in the outbox');
    }),
  },
  {
    name: 'n5. --token-ttl 60: token refreshes racing requests in flight never sign the page out',
    timeout: 180000,
    fn: (t) => withServer(t, ['--token-ttl', '60'], async (srv) => {
      const id = uniq();
      const p = await netPage(t, 'refresher', { server: srv });
      // Each refresh answer reaches the page 1.5 s after the server made it (and revoked the
      // old token): requests the page makes meanwhile must not use the old one, nor give up.
      await p.page.route('**/api/auth/refresh', async (route) => {
        const response = await route.fetch();
        await sleep(1500);
        await route.fulfill({ response });
      });
      await signUpNet(p.page, { username: `refresh_${id}`, displayName: `Refresh ${id}` });
      await createRoom(p.page, { name: `Refresh ${id}`, members: [] });
      const token0 = await pageToken(p.page);
      await p.page.evaluate(() => {
        const h = window.hearth;
        window.__net = { ok: 0, failed: [], signedOut: 0 };
        h.on('signed_out', () => { window.__net.signedOut++; });
        // Requests always in flight: a few REST reads at a time, every 100 ms.
        window.__netTimer = setInterval(() => {
          if (!h.isSignedIn) return;
          for (const path of ['/api/auth/me', '/api/rooms', '/api/notifications']) {
            h.api('GET', path).then(() => { window.__net.ok++; }, (e) => { window.__net.failed.push(`${path}: ${e.status} ${e.code}`); });
          }
        }, 100);
      });
      // The client refreshes by itself well before each 60 s token expires: wait for two.
      await p.page.waitForFunction(() => window.hearth.stats.refreshes >= 2 || !window.hearth.isSignedIn, null, { timeout: 100000 });
      const out = await p.page.evaluate(() => { clearInterval(window.__netTimer); return { ...window.__net, stats: window.hearth.stats, state: window.hearth.state }; });
      t.log(`requests ok ${out.ok}, failed ${out.failed.length}, refreshes ${out.stats.refreshes}, retried after a 401 ${out.stats.authRetries}, state ${out.state}`);
      assertEqual(out.signedOut, 0, 'times signed out');
      assert(await p.page.isVisible('#app-view'), 'the app view is gone');
      assertEqual(out.failed.length, 0, `failed requests (${out.failed.slice(0, 5).join('; ')})`);
      assert(out.stats.refreshes >= 2, `refreshes: ${out.stats.refreshes}`);
      assert((await pageToken(p.page)) !== token0, 'the token was never replaced');
      // The sockets follow the new token: live again, and a message still goes over the socket.
      await waitConnState(p.page, 'open', T.long);
      assertEqual(await trySend(p.page, `still here (${id})`), 'websocket', 'transport after the refreshes');
      await waitForMessage(p.page, '#messages', `still here (${id})`);
    }),
  },
  {
    name: 'n6. a visitor who signs up keeps their support conversation: shown as theirs, one thread for staff named after them',
    timeout: 180000,
    fn: (t) => withServer(t, [], async (srv) => {
      const id = uniq();
      const staffUser = await srv.createUser(`staff_${id}`, PASSWORD, { staff: true });
      const staff = await netPage(t, 'staff', { server: srv });
      await signIn(staff.page, staffUser);
      await staff.page.waitForFunction(() => document.getElementById('staff-state').dataset.state === 'open', null, { timeout: T.long });

      const visitor = await netPage(t, 'visitor', { server: srv });
      const question = `Can I keep this conversation if I sign up? (${id})`;
      await visitor.page.fill('#support-input', question);
      await visitor.page.click('#support-send');
      assertEqual(await waitForMessage(visitor.page, '#support-messages', question), 1, 'copies of the question in the widget');
      const guest = await visitor.page.evaluate(() => window.hearth.support.guest);
      assert(guest && guest.name, 'no guest identity');
      const thread = staff.page.locator('#staff-rooms li[data-room-id]', { hasText: question.slice(0, 20) });
      await thread.waitFor({ timeout: T.short });
      const roomId = await thread.getAttribute('data-room-id');
      t.log(`thread before the sign-up: ${JSON.stringify(await thread.locator('.name').textContent())}`);

      // The server ends the guest token (closing the widget's socket with 4401) before it answers
      // the sign-up; hold the answer a moment so that the page surely sees the close first.
      await visitor.page.route('**/api/auth/register', async (route) => {
        const response = await route.fetch();
        await sleep(1000);
        await route.fulfill({ response });
      });
      const dana = { username: `dana_${id}`, displayName: `Dana ${id}` };
      await signUpNet(visitor.page, dana);
      // The widget still shows the question, now as the user's own, once.
      await visitor.page.waitForFunction(() => window.hearth.support.state === 'open' && window.hearth.support.guest === null, null, { timeout: T.long });
      assertEqual(await waitForMessage(visitor.page, '#support-messages', question), 1, 'copies of the question after the sign-up');
      const mine = visitor.page.locator('#support-messages li[data-message-id]', { hasText: question });
      await visitor.page.waitForFunction((q) => [...document.querySelectorAll('#support-messages li[data-message-id]')]
        .some((li) => li.textContent.includes(q) && li.classList.contains('own')), question, { timeout: T.short });
      assertEqual(await mine.locator('.sender').textContent(), 'You', 'sender of the question after the sign-up');
      assertEqual(await visitor.page.evaluate(() => localStorage.getItem('hearth.guest_token')), null, 'guest token kept after the sign-up');
      t.log(`support socket: ${JSON.stringify(await visitor.page.evaluate(() => ({ stats: window.hearth.support.stats, url: window.hearth.support._ws && window.hearth.support._ws.url.replace(/=.*/, '=…') })))}`);
      // A follow-up goes to the same conversation.
      const more = `Thanks, I have an account now (${id})`;
      await visitor.page.fill('#support-input', more);
      await visitor.page.click('#support-send');
      await waitForMessage(visitor.page, '#support-messages', more);

      // Staff: one thread, the same room, named after the user, with both messages.
      const name = `Support: ${dana.displayName}`;
      await staff.page.waitForFunction(([rid, n]) => {
        const li = document.querySelector(`#staff-rooms li[data-room-id="${rid}"]`);
        return li && li.querySelector('.name').textContent === n;
      }, [roomId, name], { timeout: T.short });
      await staff.page.click('#staff-refresh');
      await sleep(500);
      const threads = await staff.page.locator('#staff-rooms li[data-room-id]').evaluateAll((els) => els.map((li) => ({ id: li.dataset.roomId, name: li.querySelector('.name').textContent })));
      t.log(`staff threads: ${JSON.stringify(threads)}`);
      assertEqual(threads.length, 1, 'threads in the staff console');
      assertEqual(threads[0].id, roomId, 'the thread is the visitor\'s room');
      assertEqual(threads[0].name, name, 'the thread\'s name');
      await staff.page.locator(`#staff-rooms li[data-room-id="${roomId}"]`).click();
      assertEqual(await waitForMessage(staff.page, '#staff-messages', question), 1, 'copies of the question for staff');
      assertEqual(await waitForMessage(staff.page, '#staff-messages', more), 1, 'copies of the follow-up for staff');
    }),
  },
];

export default networkTests;
