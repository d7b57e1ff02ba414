// Browser tests of static/people.js (issue 10, contract v1.1 section 4.1): the members panel with
// live presence, people suggestions where a username is typed, and the unread divider. Appended
// to the suite by run-tests.mjs; the server runs with a 300 ms presence grace
// (HEARTH_PRESENCE_GRACE_MS), so "offline" comes quickly after a page goes away.

import { assert, assertEqual } from './lib/runner.mjs';
import { T, createRoom, openRoom, roomItem, sendMessage, signIn, uniq, waitConnState, waitForMessage } from './lib/page.mjs';
import {
  api, inMessagesView, memberRow, pageToken, registerUser, sendMany, suggestions, twoUsers, typeInto, waitMembers,
  waitOnline, waitReadUpTo, waitSuggestions,
} from './lib/people-helpers.mjs';

/** The content of the message right after the unread divider, and of the one right before it. */
function aroundDivider(page) {
  return page.evaluate(() => {
    const d = document.querySelector('#messages > .unread-divider');
    if (!d) return null;
    const text = (el) => (el && el.querySelector('.content') ? el.querySelector('.content').textContent : null);
    return { after: text(d.nextElementSibling), before: text(d.previousElementSibling), count: document.querySelectorAll('#messages .unread-divider').length };
  });
}

export const tests = [
  {
    name: 'p1. members panel: who is in the room, online dots kept live by presence, last seen, joins and leaves',
    async fn(t) {
      const { id, alice, bob, a, b } = await twoUsers(t);
      const carol = await registerUser(t.server.origin, { username: `carol_${id}`, displayName: `Carol ${id}` });
      const room = `Members ${id}`;
      const roomId = await createRoom(a.page, { name: room, members: [bob.username, carol.username] });

      // Everyone in the room, the online ones marked (Carol never opened a page).
      await waitMembers(a.page, [alice.username, bob.username, carol.username]);
      assert(await a.page.locator('#members-panel').isVisible(), 'the members panel is not shown');
      await waitOnline(a.page, bob.username, true);
      await waitOnline(a.page, alice.username, true);
      await waitOnline(a.page, carol.username, false);
      assertEqual(await memberRow(a.page, carol.username).locator('.member-status').textContent(), 'offline', 'Carol\'s status');
      assertEqual(await memberRow(a.page, bob.username).locator('.member-name').textContent(), bob.displayName, 'Bob\'s shown name');
      assertEqual(await memberRow(a.page, bob.username).locator('.member-username').textContent(), `@${bob.username}`, 'Bob\'s username');
      assertEqual(await a.page.textContent('#members-summary'), 'Members (3) · 2 online', 'summary');

      // Bob closes his page: after the grace, Alice's panel says so, with when he was last seen.
      await b.page.goto('about:blank');
      await waitOnline(a.page, bob.username, false);
      const status = await memberRow(a.page, bob.username).locator('.member-status').textContent();
      assert(/^last seen (just now|\d+ min ago)$/.test(status), `Bob's status after he left: ${JSON.stringify(status)}`);
      assertEqual(await a.page.textContent('#members-summary'), 'Members (3) · 1 online', 'summary with Bob away');

      // He comes back (still signed in): online again, without Alice reloading.
      await a.page.evaluate(() => { window.__sameDocument = true; });
      await b.page.goto(`${b.origin}/`);
      await waitConnState(b.page, 'open');
      await waitOnline(a.page, bob.username, true);
      assertEqual(await memberRow(a.page, bob.username).locator('.member-status').textContent(), 'online', 'Bob\'s status when back');

      // Carol leaves (member_left) and Bob adds her again (member_joined): the list follows.
      await api(t.server.origin, 'POST', `/api/rooms/${roomId}/leave`, { token: carol.token });
      await waitMembers(a.page, [alice.username, bob.username]);
      await api(t.server.origin, 'POST', `/api/rooms/${roomId}/members`, { token: await pageToken(b.page), body: { username: carol.username } });
      await waitMembers(a.page, [alice.username, bob.username, carol.username]);
      // Bob's page, open on the room, shows the same.
      await openRoom(b.page, room);
      await waitMembers(b.page, [alice.username, bob.username, carol.username]);
      await waitOnline(b.page, alice.username, true);
      assert(await a.page.evaluate(() => window.__sameDocument === true), 'Alice\'s page was reloaded');
    },
  },
  {
    name: 'p2. a direct room shows the other person\'s presence in its header',
    async fn(t) {
      const { alice, bob, a, b } = await twoUsers(t);
      await a.page.fill('#direct-username', bob.username);
      await a.page.click('#open-direct-btn');
      await a.page.waitForFunction((n) => document.getElementById('room-title').textContent === n, bob.displayName, { timeout: T.short });
      const header = a.page.locator('#room-presence');
      await a.page.waitForFunction(() => document.getElementById('room-presence').dataset.online === 'true', null, { timeout: T.short });
      assertEqual(await header.textContent(), `${bob.displayName} is online`, 'header of the direct room');
      // A direct room has no members panel: the header says it all.
      assert(!(await a.page.locator('#members-panel').isVisible()), 'members panel shown in a direct room');

      await b.page.goto('about:blank');
      await a.page.waitForFunction(() => document.getElementById('room-presence').dataset.online === 'false', null, { timeout: T.short });
      const text = await header.textContent();
      assert(text.startsWith(`${bob.displayName} is offline, last seen `), `header after Bob left: ${JSON.stringify(text)}`);

      await b.page.goto(`${b.origin}/`);
      await waitConnState(b.page, 'open');
      await a.page.waitForFunction(() => document.getElementById('room-presence').dataset.online === 'true', null, { timeout: T.short });
      // Bob sees Alice the same way.
      await openRoom(b.page, alice.displayName);
      await b.page.waitForFunction((n) => document.getElementById('room-presence').textContent === `${n} is online`, alice.displayName, { timeout: T.short });
      // A group room shows no such header.
      await createRoom(a.page, { name: `Group ${uniq()}` });
      assert(!(await header.isVisible()), 'the direct-room status is shown in a group room');
    },
  },
  {
    name: 'p3. finding people: suggestions as a username is typed, by keyboard and by mouse',
    async fn(t) {
      const id = uniq();
      const origin = t.server.origin;
      const zelda = await registerUser(origin, { username: `zelda_${id}`, displayName: `Zelda Quux ${id}` });
      const zeb = await registerUser(origin, { username: `zebulon_${id}`, displayName: `Zebulon ${id}` });
      const user = { username: `finder_${id}`, password: zelda.password, displayName: `Finder ${id}` };
      const { page } = await t.newPage('finder');
      await registerUser(origin, user);
      await signIn(page, user);

      // Direct message: both people, display name and username, best match (by username) first.
      const direct = '#direct-username';
      await typeInto(page, direct, id);
      await waitSuggestions(page, direct, [zeb.username, zelda.username]);
      // (`finder_<id>` is left out: one cannot open a direct room with oneself.)
      const shown = await suggestions(page, direct);
      assertEqual(shown[1].name, zelda.displayName, 'display name shown');
      assertEqual(shown[1].shown, `@${zelda.username}`, 'username shown');
      assertEqual(await page.getAttribute(direct, 'role'), 'combobox', 'role of the input');
      assertEqual(await page.getAttribute(direct, 'aria-expanded'), 'true', 'aria-expanded while open');
      assertEqual(await page.getAttribute(`#${await page.getAttribute(direct, 'aria-controls')}`, 'role'), 'listbox', 'role of the list');
      // Arrow keys move the highlight (aria-activedescendant follows), Enter picks it.
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown'); // wraps to the first
      let now = await suggestions(page, direct);
      assert(now[0].selected && !now[1].selected, `highlight after three ArrowDown: ${JSON.stringify(now)}`);
      await page.keyboard.press('ArrowUp'); // wraps to the last
      now = await suggestions(page, direct);
      assert(now[1].selected, `highlight after ArrowUp: ${JSON.stringify(now)}`);
      assertEqual(await page.getAttribute(direct, 'aria-activedescendant'), now[1].id, 'aria-activedescendant');
      await page.keyboard.press('Enter');
      assertEqual(await page.inputValue(direct), zelda.username, 'the input after Enter on a suggestion');
      assertEqual(await suggestions(page, direct), null, 'suggestions after picking one');
      assertEqual(await page.getAttribute(direct, 'aria-expanded'), 'false', 'aria-expanded after picking');
      // The next Enter submits the form as before: the direct room opens.
      await page.keyboard.press('Enter');
      await page.waitForFunction((n) => document.getElementById('room-title').textContent === n, zelda.displayName, { timeout: T.short });

      // New room members (a list): a mouse pick completes the name at the caret and starts the next.
      const members = '#new-room-members';
      await typeInto(page, members, `zelda_${id.slice(0, 3)}`);
      await waitSuggestions(page, members, [zelda.username]);
      await page.locator(`${members}-suggestions li[data-username="${zelda.username}"]`).click();
      assertEqual(await page.inputValue(members), `${zelda.username}, `, 'members after a mouse pick');
      await page.locator(members).pressSequentially(`zebu`, { delay: 20 });
      await waitSuggestions(page, members, [zeb.username]);
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      assertEqual(await page.inputValue(members), `${zelda.username}, ${zeb.username}, `, 'members after a keyboard pick');
      const room = `Found ${id}`;
      await page.fill('#new-room-name', room);
      await page.click('#create-room-btn');
      await page.waitForFunction((n) => document.getElementById('room-title').textContent === n, room, { timeout: T.short });
      await waitMembers(page, [user.username, zelda.username, zeb.username]);

      // Add a member: Escape closes the list and keeps what was typed; people already in the room are not offered.
      const other = await registerUser(origin, { username: `zora_${id}`, displayName: `Zora ${id}` });
      const add = '#add-member-username';
      await typeInto(page, add, `${id}`);
      await waitSuggestions(page, add, [other.username]);
      await page.keyboard.press('Escape');
      assertEqual(await suggestions(page, add), null, 'suggestions after Escape');
      assertEqual(await page.inputValue(add), id, 'the input after Escape');
      await page.keyboard.press('ArrowDown'); // reopens
      await waitSuggestions(page, add, [other.username]);
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      assertEqual(await page.inputValue(add), other.username, 'the input after picking');
      await page.click('#add-member-btn');
      await waitMembers(page, [user.username, zelda.username, zeb.username, other.username]);

      // Bulk message people (tasks panel): the same suggestions; the open list does not change the
      // name the input gets from its label.
      await page.selectOption('#task-kind', 'bulk_message');
      const bulk = '#task-people';
      await typeInto(page, bulk, `zora_${id.slice(0, 4)}`);
      await waitSuggestions(page, bulk, [other.username]);
      assertEqual(await page.getByRole('combobox', { name: 'People (usernames)', exact: true }).count(), 1, 'comboboxes named "People (usernames)"');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      assertEqual(await page.inputValue(bulk), other.username, 'the people box after picking');
      // The next Enter adds the person to the list (the page's own handler).
      await page.keyboard.press('Enter');
      await page.locator(`#task-people-list li[data-username="${other.username}"]`).waitFor();
    },
  },
  {
    name: 'p4. a "new messages" divider above the first unread message, and a jump to it while out of view',
    timeout: 180000,
    async fn(t) {
      const { id, bob, a, b } = await twoUsers(t);
      const origin = t.server.origin;
      const room = `Unread ${id}`;
      const roomId = await createRoom(a.page, { name: room, members: [bob.username] });
      await openRoom(b.page, room);
      const aliceToken = await pageToken(a.page);
      // Read by Bob: he has the room open (the page marks what it shows as read).
      const seen = await sendMany(origin, aliceToken, roomId, 'seen', 3);
      await waitForMessage(b.page, '#messages', 'seen 3');
      await waitReadUpTo(origin, aliceToken, roomId, bob.username, seen[2]);
      assertEqual(await aroundDivider(b.page), null, 'divider for messages that arrived while reading');
      // Bob goes to another room; Alice writes 30 more.
      await createRoom(b.page, { name: `Elsewhere ${id}` });
      await sendMany(origin, aliceToken, roomId, 'new', 30);
      await roomItem(b.page, room).locator('[data-testid="unread-badge"]', { hasText: '30' }).waitFor({ timeout: T.short });

      await openRoom(b.page, room);
      await b.page.waitForSelector('#messages > .unread-divider', { timeout: T.short });
      const around = await aroundDivider(b.page);
      assertEqual(JSON.stringify(around), JSON.stringify({ after: 'new 1', before: 'seen 3', count: 1 }), 'messages around the divider');
      assertEqual(await b.page.getAttribute('#messages > .unread-divider', 'role'), 'separator', 'role of the divider');
      // The page opens at the newest message: the divider is above the view, and the jump control says so.
      assert(!(await inMessagesView(b.page, '#messages > .unread-divider')), 'the divider should start out of view');
      await b.page.waitForSelector('#jump-unread', { state: 'visible', timeout: T.short });
      assert((await b.page.textContent('#jump-unread')).includes('30 new messages'), await b.page.textContent('#jump-unread'));
      await b.page.click('#jump-unread');
      await b.page.waitForFunction(() => {
        const d = document.querySelector('#messages > .unread-divider');
        const l = document.getElementById('messages').getBoundingClientRect();
        const r = d.getBoundingClientRect();
        return r.top >= l.top - 1 && r.bottom <= l.bottom;
      }, null, { timeout: T.short });
      await b.page.waitForSelector('#jump-unread', { state: 'hidden', timeout: T.short });
      // A live message does not move it.
      await sendMessage(a.page, 'live one');
      await waitForMessage(b.page, '#messages', 'live one');
      assertEqual(JSON.stringify(await aroundDivider(b.page)), JSON.stringify(around), 'divider after a live message');
      const live = Number(await b.page.getAttribute('#messages li[data-message-id]:last-of-type', 'data-message-id'));
      await waitReadUpTo(origin, aliceToken, roomId, bob.username, live);

      // Read now: opening the room again shows no divider.
      await openRoom(b.page, `Elsewhere ${id}`);
      await openRoom(b.page, room);
      await b.page.waitForFunction(() => document.querySelectorAll('#messages li[data-message-id]').length > 0);
      assertEqual(await aroundDivider(b.page), null, 'divider in a room read to the end');
      assert(await b.page.locator('#jump-unread').isHidden(), 'jump control in a room read to the end');

      // More unread messages than one page: the jump loads older pages until the first unread one is in.
      await openRoom(b.page, `Elsewhere ${id}`);
      await sendMany(origin, aliceToken, roomId, 'later', 60);
      await roomItem(b.page, room).locator('[data-testid="unread-badge"]', { hasText: '60' }).waitFor({ timeout: T.short });
      await openRoom(b.page, room);
      await b.page.waitForSelector('#jump-unread', { state: 'visible', timeout: T.short });
      assertEqual(await aroundDivider(b.page), null, 'divider before the first unread message is loaded');
      await b.page.click('#jump-unread');
      await b.page.waitForSelector('#messages > .unread-divider', { timeout: T.short });
      assertEqual(JSON.stringify(await aroundDivider(b.page)), JSON.stringify({ after: 'later 1', before: 'live one', count: 1 }), 'divider after loading older pages');
      await b.page.waitForFunction(() => {
        const d = document.querySelector('#messages > .unread-divider');
        const l = document.getElementById('messages').getBoundingClientRect();
        const r = d.getBoundingClientRect();
        return r.top >= l.top - 1 && r.bottom <= l.bottom;
      }, null, { timeout: T.short });
      await b.page.waitForSelector('#jump-unread', { state: 'hidden', timeout: T.short });
    },
  },
];
