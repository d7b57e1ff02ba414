// Browser tests of the page's own defects (issue 10: items 3, 6, 7, 8, 9, 10), appended to the
// `tests` array of run-tests.mjs. Same shape: {name, fn(t), timeout?}; `t` is run-tests.mjs's
// per-test context (t.newPage, t.server, t.log).

import { assert, assertEqual } from './lib/runner.mjs';
import {
  T, createRoom, openRoom, roomItem, sendMessage, signIn, uniq, waitConnState, waitForMessage,
} from './lib/page.mjs';
import { DESKTOP, PASSWORD, PHONE_390, WIDE, overlaps, pair, person } from './lib/people.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The li of a message in #messages with exactly `text` as content, by its id (so it still matches while edited). */
async function messageLi(page, text) {
  const handle = await page.waitForFunction((t) => [...document.querySelectorAll('#messages > li[data-message-id]')]
    .find((li) => li.querySelector('.content') && li.querySelector('.content').textContent === t), text);
  const id = await handle.evaluate((li) => li.dataset.messageId);
  return page.locator(`#messages > li[data-message-id="${id}"]`);
}

/** Waits until the tab's title is exactly `title`. */
async function waitTitle(page, title, timeout = T.short) {
  await page.waitForFunction((s) => document.title === s, title, { timeout }).catch(async (err) => {
    throw new Error(`title: expected ${JSON.stringify(title)}, got ${JSON.stringify(await page.title())} (${err.message.split('\n')[0]})`);
  });
}

/** Starts a generate_numbers task through the form and waits for it to complete; returns its id. */
async function generate(page, quantity = 5) {
  const before = await page.locator('#tasks li[data-task-id]').count();
  await page.selectOption('#task-kind', 'generate_numbers');
  await page.fill('#task-area-code', '415');
  await page.fill('#task-quantity', String(quantity));
  await page.click('#start-task-btn');
  await page.waitForFunction((n) => document.querySelectorAll('#tasks li[data-task-id]').length > n, before);
  const id = Number(await page.locator('#tasks li[data-task-id]').first().getAttribute('data-task-id'));
  await page.waitForFunction((i) => document.querySelector(`#tasks li[data-task-id="${i}"]`).dataset.status === 'completed', id, { timeout: T.long });
  return id;
}

/** A fake `Notification` (desktop notifications) that counts permission requests and shown alerts. */
function fakeDesktopNotifications() {
  window.__permissionRequests = 0;
  window.__desktopShown = [];
  class FakeNotification {
    constructor(title, opts = {}) { window.__desktopShown.push({ title, body: opts.body }); }
    close() {}
    static requestPermission() {
      window.__permissionRequests++;
      FakeNotification.permission = 'granted';
      return Promise.resolve('granted');
    }
  }
  FakeNotification.permission = 'default';
  window.Notification = FakeNotification;
}

export const uiTests = [
  {
    name: 'ui3. editing a multi-line message keeps its line breaks (textarea; Enter is a newline, Ctrl+Enter saves, Escape cancels)',
    async fn(t) {
      const id = uniq();
      const { page } = await person(t, 'editor', { id });
      await createRoom(page, { name: `Edits ${id}` });
      const original = `first line (${id})\nsecond line\n\n  fourth, indented`;
      await sendMessage(page, original);
      const li = await messageLi(page, original);
      await li.waitFor();
      assertEqual(await li.locator('.content').textContent(), original, 'content shown');

      await li.locator('[data-testid="edit-message"]').click();
      const editor = li.locator('[data-testid="edit-input"]');
      await editor.waitFor();
      assertEqual(await editor.evaluate((el) => el.tagName), 'TEXTAREA', 'the editor element');
      assertEqual(await editor.inputValue(), original, 'text in the editor');
      // Enter adds a line; Escape throws the change away.
      await editor.press('End');
      await editor.press('Control+End');
      await editor.press('Enter');
      await editor.type('fifth');
      assertEqual(await editor.inputValue(), `${original}\nfifth`, 'Enter inserts a newline');
      assert(await li.locator('[data-testid="edit-input"]').count() === 1, 'Enter closed the editor');
      await editor.press('Escape');
      await li.locator('[data-testid="edit-input"]').waitFor({ state: 'detached' });
      assertEqual(await li.locator('.content').textContent(), original, 'content after Escape');

      // Ctrl+Enter saves, every line break kept.
      await li.locator('[data-testid="edit-message"]').click();
      await editor.waitFor();
      await editor.press('Control+End');
      await editor.press('Enter');
      await editor.type('fifth line');
      await editor.press('Control+Enter');
      const edited = `${original}\nfifth line`;
      await page.waitForFunction(([sel, text]) => [...document.querySelectorAll(sel)].some((el) => el.textContent === text),
        ['#messages > li[data-message-id] .content', edited]);
      await li.locator('.edited').waitFor();
      // The Save button works too.
      await li.locator('[data-testid="edit-message"]').click();
      await editor.waitFor();
      await editor.fill(`${edited}\nsixth`);
      await li.locator('[data-testid="save-edit"]').click();
      await page.waitForFunction(([sel, text]) => [...document.querySelectorAll(sel)].some((el) => el.textContent === text),
        ['#messages > li[data-message-id] .content', `${edited}\nsixth`]);
    },
  },
  {
    name: 'ui6. phone 390x844: tapping a room shows the conversation in view; a back button returns to the list',
    async fn(t) {
      const id = uniq();
      const { page } = await person(t, 'phone', { id, viewport: PHONE_390, isMobile: true, hasTouch: true });
      const name = `Pocket ${id}`;
      await page.evaluate((n) => window.hearth.createRoom({ name: n }), name);
      await page.reload();
      await page.waitForSelector('#app-view', { state: 'visible' });
      const item = roomItem(page, name);
      await item.waitFor();
      await item.tap();
      await page.waitForFunction((n) => document.getElementById('room-title').textContent === n
        && !document.getElementById('message-input').disabled, name);
      // The conversation is what the screen shows: its title and the message box are in view.
      for (const sel of ['#room-title', '#message-input', '#send-btn']) {
        const box = await page.locator(sel).boundingBox();
        assert(box && box.y >= 0 && box.y + box.height <= PHONE_390.height,
          `${sel} is not in view after tapping the room: ${JSON.stringify(box)}`);
      }
      assert(!(await page.locator('#room-list').isVisible()), 'the room list is still shown beside the conversation');
      const back = page.locator('#back-btn');
      assert(await back.isVisible(), 'no back button');
      assertEqual(await back.evaluate((el) => el.tagName), 'BUTTON', 'the back control');
      await back.tap();
      await page.locator('#room-list').waitFor({ state: 'visible' });
      assert(!(await page.locator('#chat-panel').isVisible()), 'the conversation is still shown after going back');
      const listBox = await item.boundingBox();
      assert(listBox && listBox.y + listBox.height <= PHONE_390.height, `the room is not in view after going back: ${JSON.stringify(listBox)}`);
      // And in again: the message can be written and is shown.
      await item.tap();
      await page.locator('#message-input').waitFor({ state: 'visible' });
      await sendMessage(page, `from the phone (${id})`);
      await waitForMessage(page, '#messages', `from the phone (${id})`);
    },
  },
  {
    name: 'ui7. bulk message: rooms picked from the room list, people by username; failed targets and why in the task',
    async fn(t) {
      const { id, alice, bob } = await pair(t);
      const page = alice.page;
      const roomName = `Bulk ${id}`;
      await createRoom(page, { name: roomName });
      await createRoom(page, { name: `Other ${id}` });
      await page.selectOption('#task-kind', 'bulk_message');
      assertEqual(await page.locator('#task-room-ids').count(), 0, 'a "room ids" field is still asked for');
      const content = `Bulk hello (${id})`;
      await page.fill('#task-content', content);
      await page.locator('#task-rooms').getByLabel(roomName, { exact: true }).check();
      const ghost = `ghost_${id}`;
      for (const name of [bob.user.username, ghost]) {
        await page.fill('#task-people', name);
        await page.press('#task-people', 'Enter');
        await page.locator(`#task-people-list li[data-username="${name}"]`).waitFor();
      }
      assertEqual(await page.inputValue('#task-people'), '', 'the people box after adding');
      // A chip can be removed again.
      await page.fill('#task-people', alice.user.username);
      await page.click('#task-people-add');
      const self = page.locator(`#task-people-list li[data-username="${alice.user.username}"]`);
      await self.locator('button').click();
      await self.waitFor({ state: 'detached' });
      await page.click('#start-task-btn');
      const task = page.locator('#tasks li[data-testid="task"][data-kind="bulk_message"]').first();
      await task.waitFor();
      assert((await task.locator('.task-params').textContent()).includes(roomName), `the task does not name the room: ${await task.locator('.task-params').textContent()}`);
      await page.waitForFunction(() => document.querySelector('#tasks li[data-kind="bulk_message"]').dataset.status === 'completed', null, { timeout: T.long });
      const failures = task.locator('[data-testid="task-failures"] li');
      await failures.first().waitFor();
      assertEqual(await failures.count(), 1, 'failed targets shown');
      const text = await failures.first().textContent();
      t.log(`failure shown: ${text}`);
      assert(text.includes(ghost), `the failure does not name the target: ${text}`);
      assertEqual(await failures.first().getAttribute('data-target'), `user ${ghost}`, 'data-target');
      const reason = (await failures.first().locator('.reason').textContent()).trim();
      assert(reason.length > 3 && !/^[a-z_]+$/.test(reason), `no readable reason: ${reason}`);
      // The message reached the room and Bob.
      await openRoom(page, roomName);
      await waitForMessage(page, '#messages', content);
      await openRoom(bob.page, alice.user.displayName);
      await waitForMessage(bob.page, '#messages', content);
    },
  },
  {
    name: 'ui8. notifications inbox: unread count in the tab title, list, open goes to the room or the task, mark one read, mark all read',
    timeout: 150000,
    async fn(t) {
      const { id, alice, bob } = await pair(t);
      const page = alice.page;
      // A direct message, a mention and a finished task.
      await bob.page.fill('#direct-username', alice.user.username);
      await bob.page.click('#open-direct-btn');
      await bob.page.waitForFunction(() => !document.getElementById('message-input').disabled);
      await sendMessage(bob.page, `psst (${id})`);
      await createRoom(bob.page, { name: `Mentions ${id}`, members: [alice.user.username] });
      await sendMessage(bob.page, `@${alice.user.username} have a look (${id})`);
      const taskId = await generate(page, 5);
      await waitTitle(page, '(3) Hearth');
      assertEqual(await page.textContent('#notif-count'), '3', 'the badge');

      await page.click('#notif-btn');
      const panel = page.locator('#notif-panel');
      await panel.waitFor({ state: 'visible' });
      assertEqual(await page.getAttribute('#notif-btn', 'aria-expanded'), 'true', 'aria-expanded');
      const items = panel.locator('#notif-list > li[data-notification-id]');
      await page.waitForFunction(() => document.querySelectorAll('#notif-list > li[data-notification-id]').length === 3);
      const taskItem = panel.locator(`#notif-list > li[data-task-id="${taskId}"]`);

      // Mark one read.
      const mention = items.filter({ hasText: 'have a look' });
      await mention.locator('.notif-read').click();
      await waitTitle(page, '(2) Hearth');
      assertEqual(await mention.getAttribute('data-read'), 'true', 'the item after "mark read"');

      // Open the task's: it goes to the task.
      await taskItem.locator('.notif-open').click();
      await waitTitle(page, '(1) Hearth');
      await page.waitForFunction((i) => document.activeElement && document.activeElement.closest(`#tasks li[data-task-id="${i}"]`), taskId);
      assert(!(await panel.isVisible()), 'the inbox stays open after opening an item');

      // Open the direct message's: it goes to the room.
      await page.click('#notif-btn');
      await items.filter({ hasText: `psst (${id})` }).locator('.notif-open').click();
      await page.waitForFunction((n) => document.getElementById('room-title').textContent === n, bob.user.displayName);
      await waitTitle(page, 'Hearth');
      await waitForMessage(page, '#messages', `psst (${id})`);

      // Another one arrives; "mark all read" clears the count.
      await sendMessage(bob.page, `@${alice.user.username} again (${id})`);
      await waitTitle(page, '(1) Hearth');
      await page.click('#notif-btn');
      await page.click('#notif-read-all');
      await waitTitle(page, 'Hearth');
      assert(await page.locator('#notif-count').isHidden(), 'the badge after mark all read');
      assertEqual(await panel.locator('#notif-list > li[data-read="false"]').count(), 0, 'unread items left');
      await page.keyboard.press('Escape');
      await panel.waitFor({ state: 'hidden' });
    },
  },
  {
    name: 'ui8b. notification titles are readable: no raw kind names (toast and inbox)',
    async fn(t) {
      const { id, alice, bob } = await pair(t);
      const page = alice.page;
      await bob.page.fill('#direct-username', alice.user.username);
      await bob.page.click('#open-direct-btn');
      await bob.page.waitForFunction(() => !document.getElementById('message-input').disabled);
      await sendMessage(bob.page, `psst (${id})`);
      for (const kind of ['generate_numbers', 'validate_numbers']) {
        if (kind === 'generate_numbers') await generate(page, 5);
        else {
          await page.selectOption('#task-kind', kind);
          await page.fill('#task-numbers', '(415) 555-2671');
          await page.click('#start-task-btn');
        }
      }
      await page.waitForFunction(() => document.querySelectorAll('#toasts .toast[data-notification-id]').length >= 3, null, { timeout: T.long });
      const toastTitles = await page.locator('#toasts .toast[data-notification-id] .toast-title').allTextContents();
      t.log(`toast titles: ${JSON.stringify(toastTitles)}`);
      const raw = /generate_numbers|validate_numbers|direct_message|_/;
      for (const title of toastTitles) assert(!raw.test(title), `a raw name in the toast title "${title}"`);
      assert(toastTitles.some((x) => x.includes('Generate numbers')) && toastTitles.some((x) => x.includes('Validate numbers')), `task kinds not named: ${JSON.stringify(toastTitles)}`);
      await page.click('#notif-btn');
      await page.waitForFunction(() => document.querySelectorAll('#notif-list > li[data-notification-id]').length === 3);
      const titles = await page.locator('#notif-list .notif-title').allTextContents();
      t.log(`inbox titles: ${JSON.stringify(titles)}`);
      for (const title of titles) assert(!raw.test(title), `a raw name in the inbox title "${title}"`);
      for (const kind of await page.locator('#notif-list .notif-kind').allTextContents()) assert(!raw.test(kind), `raw kind "${kind}"`);
    },
  },
  {
    name: 'ui8c. desktop notifications are asked for by a button, never on load',
    async fn(t) {
      const { page } = await person(t, 'desk');
      await page.context().addInitScript(fakeDesktopNotifications);
      await page.reload();
      await waitConnState(page, 'open');
      await sleep(500);
      assertEqual(await page.evaluate(() => window.__permissionRequests), 0, 'permission asked on load');
      await page.click('#notif-btn');
      const button = page.locator('#notif-desktop');
      await button.waitFor({ state: 'visible' });
      assertEqual(await page.evaluate(() => window.__permissionRequests), 0, 'permission asked when the inbox opened');
      await button.click();
      await page.waitForFunction(() => window.__permissionRequests === 1);
      await page.waitForFunction(() => /off/i.test(document.getElementById('notif-desktop').textContent));
      // Shown while the tab is in the background.
      await page.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      });
      await generate(page, 3);
      await page.waitForFunction(() => window.__desktopShown.length >= 1, null, { timeout: T.long });
      t.log(`desktop notification: ${JSON.stringify(await page.evaluate(() => window.__desktopShown[0]))}`);
    },
  },
  {
    name: 'ui8d. toasts do not cover the task panel\'s controls (1280x860, 1400x900)',
    timeout: 150000,
    async fn(t) {
      const id = uniq();
      const { page } = await person(t, 'toasty', { id });
      for (const size of [DESKTOP, WIDE]) {
        await page.setViewportSize(size);
        for (let i = 0; i < 3; i++) await generate(page, 3);
        await page.waitForFunction(() => document.querySelectorAll('#toasts .toast').length >= 3, null, { timeout: T.long });
        const toasts = await page.locator('#toasts .toast').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON()));
        const controls = await page.locator('#tasks-panel').locator('button, select, input, textarea')
          .evaluateAll((els) => els.filter((e) => e.offsetParent !== null).map((e) => ({ what: e.outerHTML.slice(0, 60), r: e.getBoundingClientRect().toJSON() })));
        for (const r of toasts) {
          for (const c of controls) assert(!overlaps(r, c.r), `at ${size.width}x${size.height} a toast ${JSON.stringify(r)} covers ${c.what} ${JSON.stringify(c.r)}`);
        }
        await page.click('#notif-btn');
        await page.click('#notif-read-all');
        await page.keyboard.press('Escape');
        await page.waitForFunction(() => !document.querySelector('#toasts .toast'));
      }
    },
  },
  {
    name: 'ui8e. a notification toast stays well beyond 6 s (until read or dismissed)',
    async fn(t) {
      const { page } = await person(t, 'stay');
      await generate(page, 3);
      await page.locator('#toasts .toast').first().waitFor();
      await sleep(9000);
      assert(await page.locator('#toasts .toast').count() >= 1, 'the toast went away by itself within 9 s');
      await page.locator('#toasts .toast .toast-close').first().click();
      await page.waitForFunction(() => !document.querySelector('#toasts .toast'));
    },
  },
  {
    name: 'ui9a. staff do not see the visitor support widget',
    async fn(t) {
      const staff = await t.newPage('staff');
      await signIn(staff.page, t.server.staff);
      await staff.page.waitForSelector('#staff-console', { state: 'visible' });
      assert(!(await staff.page.locator('#support-widget').isVisible()), 'staff see the visitor support widget');
      await staff.page.reload();
      await staff.page.waitForSelector('#staff-console', { state: 'visible' });
      assert(!(await staff.page.locator('#support-widget').isVisible()), 'staff see the visitor support widget after a reload');
    },
  },
  {
    name: 'ui9b. staff are alerted (toast, unread mark in the console) when a visitor starts a conversation and writes',
    async fn(t) {
      const id = uniq();
      const staff = await t.newPage('staff');
      await signIn(staff.page, t.server.staff);
      await staff.page.waitForSelector('#staff-console', { state: 'visible' });
      await staff.page.waitForFunction(() => document.getElementById('staff-state').dataset.state === 'open', null, { timeout: T.long });
      // Toasts already shown (other tests' visitors) do not count.
      await staff.page.evaluate(() => { for (const el of document.querySelectorAll('#toasts .toast')) el.remove(); });

      const visitor = await t.newPage('visitor');
      const question = `Is anyone there? (${id})`;
      await visitor.page.fill('#support-input', question);
      await visitor.page.click('#support-send');
      await waitForMessage(visitor.page, '#support-messages', question);

      const toast = staff.page.locator('#toasts .toast[data-kind="support"]', { hasText: question.slice(0, 20) });
      await toast.waitFor();
      t.log(`toast: ${await toast.textContent()}`);
      const convo = staff.page.locator('#staff-rooms li[data-room-id]', { hasText: question.slice(0, 20) });
      await convo.waitFor();
      assertEqual(await convo.locator('[data-testid="unread-badge"]').isVisible(), true, 'unread mark on the conversation');
      // The console's badge counts the conversations waiting (other tests may have left some).
      const waiting = () => staff.page.evaluate(() => { const el = document.getElementById('staff-unread'); return el.hidden ? 0 : Number(el.textContent); });
      await staff.page.locator('#staff-unread').waitFor({ state: 'visible' });
      const before = await waiting();
      assert(before >= 1, `conversations waiting: ${before}`);
      // The toast opens the conversation; its marks go away.
      await toast.getByRole('button', { name: 'Open' }).click();
      await waitForMessage(staff.page, '#staff-messages', question);
      await staff.page.waitForFunction((n) => {
        const el = document.getElementById('staff-unread');
        return (el.hidden ? 0 : Number(el.textContent)) === n;
      }, before - 1);
      assert(await convo.locator('[data-testid="unread-badge"]').isHidden(), 'unread mark on the open conversation');
      await toast.waitFor({ state: 'detached' });
      // A visitor writing in a conversation the staff member is not looking at alerts again.
      const other = await t.newPage('visitor2');
      await other.page.fill('#support-input', `Second visitor (${id})`);
      await other.page.click('#support-send');
      await staff.page.locator('#toasts .toast[data-kind="support"]', { hasText: `Second visitor (${id})` }).waitFor();
      await staff.page.waitForFunction((n) => document.getElementById('staff-unread').textContent === String(n), before);
      assertEqual(await waiting(), before, 'conversations waiting after the second visitor wrote');
    },
  },
  {
    name: 'ui10a. the connection pill reads as words, not raw state names',
    async fn(t) {
      const p = await t.newPage('pill');
      assertEqual(await p.page.textContent('#conn-state'), 'Signed out', 'pill when signed out');
      await p.page.fill('#username', `pill_${uniq()}`);
      await p.page.fill('#password', PASSWORD);
      await p.page.click('#register-btn');
      await waitConnState(p.page, 'open');
      const pill = await p.page.textContent('#conn-state');
      t.log(`connection pill: ${pill}; tooltip: ${JSON.stringify(await p.page.getAttribute('#conn-state', 'title'))}`);
      assertEqual(pill, 'Connected', 'pill text when open');
      assert(!/_|\bopen\b|idle/.test(await p.page.getAttribute('#conn-state', 'title')), 'raw state names in the tooltip');
    },
  },
  {
    name: 'ui10b. no "Sent via websocket" line after sending',
    async fn(t) {
      const id = uniq();
      const { page } = await person(t, 'quiet', { id });
      await createRoom(page, { name: `Quiet ${id}` });
      assertEqual(await sendMessage(page, `hello (${id})`), 'websocket', 'transport');
      const status = await page.textContent('#send-status');
      assert(!/via|websocket|rest/i.test(status), `transport line shown: ${JSON.stringify(status)}`);
    },
  },
  {
    name: 'ui10c. links are clickable and @mentions highlighted, and the text stays text',
    async fn(t) {
      const { id, alice, bob } = await pair(t);
      const page = alice.page;
      await createRoom(page, { name: `Links ${id}`, members: [bob.user.username] });
      const text = `@${bob.user.username} see https://example.com/a?b=1&c=2. Also <b>bold</b> <img src=x onerror="window.__xss=1"> and (http://example.org/x) @${alice.user.username} mail me@example.com`;
      await sendMessage(page, text);
      const li = await messageLi(page, text);
      const content = li.locator('.content');
      assertEqual(await content.textContent(), text, 'text of the message');
      const links = await content.locator('a').evaluateAll((as) => as.map((a) => ({ href: a.getAttribute('href'), text: a.textContent, rel: a.rel, target: a.target })));
      assertEqual(JSON.stringify(links.map((l) => l.href)), JSON.stringify(['https://example.com/a?b=1&c=2', 'http://example.org/x']), 'links');
      assert(links.every((l) => l.rel.includes('noopener') && l.target === '_blank'), `link attributes: ${JSON.stringify(links)}`);
      const mentions = await content.locator('.mention').allTextContents();
      assertEqual(JSON.stringify(mentions), JSON.stringify([`@${bob.user.username}`, `@${alice.user.username}`]), 'mentions');
      assertEqual(await content.locator('.mention.me').textContent(), `@${alice.user.username}`, 'my own mention');
      assertEqual(await content.locator('b, img').count(), 0, 'elements made from the text');
      assertEqual(await page.evaluate(() => window.__xss), undefined, 'script ran');
      // Bob sees his own mention marked.
      await openRoom(bob.page, `Links ${id}`);
      await (await messageLi(bob.page, text)).locator('.mention.me', { hasText: `@${bob.user.username}` }).waitFor();
    },
  },
  {
    name: 'ui10d. the public directory labels its member count',
    async fn(t) {
      const { id, alice, bob } = await pair(t);
      const name = `Lobby ${id}`;
      await alice.page.fill('#new-room-name', name);
      await alice.page.check('#new-room-public');
      await alice.page.click('#create-room-btn');
      await alice.page.waitForFunction((n) => document.getElementById('room-title').textContent === n, name);
      await bob.page.fill('#public-query', name);
      await bob.page.click('#browse-public-btn');
      const entry = bob.page.locator('#public-rooms li[data-room-id]', { hasText: name });
      await entry.waitFor();
      assertEqual((await entry.locator('.member-count').textContent()).trim(), '1 member', 'member count in the directory');
      await entry.locator('[data-testid="join-room"]').click();
      await bob.page.waitForFunction((n) => document.getElementById('room-title').textContent === n, name);
      await bob.page.click('#browse-public-btn');
      await entry.locator('.member-count', { hasText: '2 members' }).waitFor();
    },
  },
  {
    name: 'ui10e. deleting a message asks first (Cancel keeps it)',
    async fn(t) {
      const id = uniq();
      const { page } = await person(t, 'deleter', { id });
      await createRoom(page, { name: `Deletions ${id}` });
      const doomed = `to be deleted (${id})`;
      await sendMessage(page, doomed);
      const li = await messageLi(page, doomed);
      await li.locator('[data-testid="delete-message"]').click();
      const dialog = page.locator('#confirm-dialog');
      await dialog.waitFor({ state: 'visible' });
      await page.click('#confirm-cancel');
      await dialog.waitFor({ state: 'hidden' });
      await sleep(500);
      assertEqual(await li.getAttribute('class'), 'msg own', 'the message after cancelling');
      await li.locator('[data-testid="delete-message"]').click();
      await dialog.waitFor({ state: 'visible' });
      await page.click('#confirm-ok');
      await page.locator('#messages > li.deleted[data-message-id]').waitFor();
    },
  },
  {
    name: 'ui10f. leaving a room asks first (Escape keeps it)',
    async fn(t) {
      const id = uniq();
      const { page } = await person(t, 'leaver', { id });
      const name = `Leaving ${id}`;
      await createRoom(page, { name });
      await page.click('#leave-room-btn');
      const dialog = page.locator('#confirm-dialog');
      await dialog.waitFor({ state: 'visible' });
      assert((await page.textContent('#confirm-text')).includes(name), 'the question does not name the room');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      await sleep(500);
      assertEqual(await page.textContent('#room-title'), name, 'room after cancelling the leave');
      assertEqual(await roomItem(page, name).count(), 1, 'room in the list after cancelling');
      await page.click('#leave-room-btn');
      await dialog.waitFor({ state: 'visible' });
      await page.click('#confirm-ok');
      await roomItem(page, name).waitFor({ state: 'detached' });
    },
  },
  {
    name: 'ui10g. a line in the conversation when someone joins or leaves',
    async fn(t) {
      const { id, alice, bob } = await pair(t);
      const name = `Comings ${id}`;
      const roomId = await createRoom(alice.page, { name });
      await alice.page.fill('#add-member-username', bob.user.username);
      await alice.page.click('#add-member-btn');
      await alice.page.locator('#messages > li[data-testid="system-line"]', { hasText: `${bob.user.displayName} joined` }).waitFor();
      await sendMessage(alice.page, `welcome (${id})`);
      await bob.page.evaluate((r) => window.hearth.leaveRoom(r), roomId);
      const left = alice.page.locator('#messages > li[data-testid="system-line"]', { hasText: `${bob.user.displayName} left` });
      await left.waitFor();
      // In order: joined, the message, left.
      const order = await alice.page.locator('#messages > li').evaluateAll((els) => els.map((e) => e.textContent));
      const at = (s) => order.findIndex((x) => x.includes(s));
      assert(at('joined') < at(`welcome (${id})`) && at(`welcome (${id})`) < at(' left'), `order: ${JSON.stringify(order)}`);
    },
  },
  {
    name: 'ui10h. a reload keeps the open room and the unsent draft',
    async fn(t) {
      const id = uniq();
      const { page } = await person(t, 'drafty', { id });
      const name = `Drafts ${id}`;
      await createRoom(page, { name });
      await createRoom(page, { name: `Elsewhere ${id}` });
      await openRoom(page, name);
      const draft = `half-written thought (${id})\nsecond line`;
      await page.fill('#message-input', draft);
      await page.reload();
      await page.waitForSelector('#app-view', { state: 'visible' });
      await page.waitForFunction((n) => document.getElementById('room-title').textContent === n, name);
      assertEqual(await page.inputValue('#message-input'), draft, 'draft after the reload');
      // Drafts are per room; a sent message leaves no draft behind.
      await openRoom(page, `Elsewhere ${id}`);
      assertEqual(await page.inputValue('#message-input'), '', 'draft of another room');
      await openRoom(page, name);
      assertEqual(await page.inputValue('#message-input'), draft, 'draft when coming back');
      await page.click('#send-btn');
      await waitForMessage(page, '#messages', draft);
      await page.reload();
      await page.waitForFunction((n) => document.getElementById('room-title').textContent === n, name);
      await page.waitForFunction(() => document.querySelectorAll('#messages > li[data-message-id]').length > 0);
      assertEqual(await page.inputValue('#message-input'), '', 'draft after sending and reloading');
    },
  },
  {
    name: 'ui10i. Enter on the auth form: signs up when a display name is given, signs in otherwise',
    async fn(t) {
      const id = uniq();
      const p = await t.newPage('enter');
      await p.page.fill('#username', `enter_${id}`);
      await p.page.fill('#password', PASSWORD);
      await p.page.fill('#display-name', `Enter ${id}`);
      await p.page.press('#display-name', 'Enter');
      await p.page.waitForSelector('#app-view', { state: 'visible' });
      assertEqual(await p.page.textContent('#current-user'), `Enter ${id}`, 'signed up as');
      await p.page.click('#logout-btn');
      await p.page.waitForSelector('#auth-view', { state: 'visible' });
      await p.page.fill('#username', `enter_${id}`);
      await p.page.fill('#password', PASSWORD);
      await p.page.press('#password', 'Enter');
      await p.page.waitForSelector('#app-view', { state: 'visible' });
    },
  },
  {
    name: 'ui10j. an empty task list says so',
    async fn(t) {
      const { page } = await person(t, 'idle');
      const empty = page.locator('#tasks > li[data-testid="tasks-empty"]');
      await empty.waitFor();
      t.log(`empty state: ${await empty.textContent()}`);
      await generate(page, 3);
      await empty.waitFor({ state: 'detached' });
    },
  },
  {
    name: 'ui10k. the validate-numbers placeholder holds numbers the server finds valid',
    async fn(t) {
      const { page } = await person(t, 'holder');
      await page.selectOption('#task-kind', 'validate_numbers');
      const placeholder = await page.getAttribute('#task-numbers', 'placeholder');
      const numbers = placeholder.split('\n').map((s) => s.trim()).filter(Boolean);
      assert(numbers.length >= 1, `no numbers in the placeholder ${JSON.stringify(placeholder)}`);
      await page.fill('#task-numbers', numbers.join('\n'));
      await page.click('#start-task-btn');
      await page.waitForFunction(() => { const li = document.querySelector('#tasks li[data-task-id]'); return li && li.dataset.status === 'completed'; }, null, { timeout: T.long });
      const summary = await page.textContent('#tasks li[data-task-id] .result-summary');
      t.log(`placeholder ${JSON.stringify(numbers)}: ${summary}`);
      assert(new RegExp(`(^|, )valid: ${numbers.length}(,|$)`).test(summary) && /invalid: 0/.test(summary), `placeholder numbers not all valid: ${summary}`);
    },
  },
  {
    name: 'ui10l. at 1400x900 the message area is at least half the window high and the support widget is not full width',
    async fn(t) {
      const id = uniq();
      const { page } = await person(t, 'layout', { id, viewport: WIDE });
      await createRoom(page, { name: `Wide ${id}` });
      const messages = await page.locator('#messages').boundingBox();
      t.log(`message area ${JSON.stringify(messages)}`);
      assert(messages.height >= WIDE.height / 2, `message area ${messages.height}px high in a ${WIDE.height}px window`);
      assert(messages.y + messages.height <= WIDE.height, 'the message area goes below the window');
      const widget = await page.locator('#support-widget').boundingBox();
      assert(widget, 'the support widget is not shown to a signed-in user');
      assert(widget.width <= WIDE.width / 2, `the support widget is ${widget.width}px wide in a ${WIDE.width}px window`);
      assert((await page.locator('#send-btn').boundingBox()).y + 30 <= WIDE.height, 'the send button is below the window');
    },
  },
];
