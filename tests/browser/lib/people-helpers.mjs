// Helpers of the people tests (tests-people.mjs): users made over REST, REST calls with a page's
// token, and what the members panel, the people suggestions and the unread divider show.

import { T, signUp, uniq } from './page.mjs';

export const PASSWORD = 'correct-horse-battery';
export const DESKTOP = { width: 1280, height: 860 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A REST call to the server from the test itself; answers the parsed body (throws on an error status). */
export async function api(origin, method, path, { token, body } = {}) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${origin}${path}`, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (res.status === 429 && attempt < 20) {
      await sleep(Math.max(50, Number(res.headers.get('retry-after') || 0.2) * 1000));
      continue;
    }
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : {};
  }
}

/** Registers a user over REST (no page). Answers {username, password, displayName, token, user}. */
export async function registerUser(origin, { username, displayName, password = PASSWORD }) {
  const r = await api(origin, 'POST', '/api/auth/register', { body: { username, password, display_name: displayName } });
  return { username, password, displayName, token: r.token, user: r.user };
}

/** The token a signed-in page holds. */
export function pageToken(page) {
  return page.evaluate(() => localStorage.getItem('hearth.token'));
}

/** Two users who signed up through the page, each in their own browser context. */
export async function twoUsers(t) {
  const id = uniq();
  const alice = { username: `alice_${id}`, password: PASSWORD, displayName: `Alice ${id}` };
  const bob = { username: `bob_${id}`, password: PASSWORD, displayName: `Bob ${id}` };
  const a = await t.newPage('alice');
  const b = await t.newPage('bob');
  await Promise.all([signUp(a.page, alice), signUp(b.page, bob)]);
  return { id, alice, bob, a, b };
}

/** The row of the members panel of one user. */
export function memberRow(page, username) {
  return page.locator(`#member-list li[data-testid="member"][data-username="${username}"]`);
}

/** Waits until the members panel lists exactly `usernames` (any order). */
export async function waitMembers(page, usernames, timeout = T.short) {
  const want = [...usernames].sort().join(',');
  await page.waitForFunction((w) => [...document.querySelectorAll('#member-list li[data-testid="member"]')]
    .map((li) => li.dataset.username).sort().join(',') === w, want, { timeout });
}

/** Waits until a member's row says online (true) or offline (false). */
export async function waitOnline(page, username, online, timeout = T.short) {
  await page.waitForFunction(([u, o]) => {
    const li = document.querySelector(`#member-list li[data-testid="member"][data-username="${u}"]`);
    return !!li && li.dataset.online === String(o);
  }, [username, online], { timeout });
}

/** Types text key by key (so input and keydown events fire as for a person). */
export async function typeInto(page, selector, text) {
  await page.locator(selector).click();
  await page.locator(selector).pressSequentially(text, { delay: 20 });
}

/** The suggestions shown for an input: [{username, name, selected, id}] once the listbox is open. */
export async function suggestions(page, inputSelector) {
  return page.evaluate((sel) => {
    const input = document.querySelector(sel);
    const box = document.getElementById(input.getAttribute('aria-controls'));
    if (!box || box.hidden) return null;
    return [...box.querySelectorAll('li[data-testid="people-option"]')].map((li) => ({
      username: li.dataset.username,
      name: li.querySelector('.suggest-name').textContent,
      shown: li.querySelector('.suggest-username').textContent,
      selected: li.getAttribute('aria-selected') === 'true',
      id: li.id,
    }));
  }, inputSelector);
}

/** Waits until the suggestions of an input list exactly `usernames` (in that order). */
export async function waitSuggestions(page, inputSelector, usernames, timeout = T.short) {
  await page.waitForFunction(([sel, want]) => {
    const input = document.querySelector(sel);
    const box = document.getElementById(input.getAttribute('aria-controls'));
    if (!box || box.hidden) return false;
    return [...box.querySelectorAll('li[data-testid="people-option"]')].map((li) => li.dataset.username).join(',') === want;
  }, [inputSelector, usernames.join(',')], { timeout });
}

/** Whether the element is inside the visible part of the #messages list. */
export function inMessagesView(page, selector) {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel);
    if (!el) return false;
    const lr = document.getElementById('messages').getBoundingClientRect();
    const r = el.getBoundingClientRect();
    return r.bottom > lr.top && r.top < lr.bottom;
  }, selector);
}

/** Sends `n` messages over REST, as `token`, named `${prefix} 1` … `${prefix} n`; answers their ids. */
export async function sendMany(origin, token, roomId, prefix, n) {
  const ids = [];
  for (let i = 1; i <= n; i++) {
    const r = await api(origin, 'POST', `/api/rooms/${roomId}/messages`, { token, body: { content: `${prefix} ${i}` } });
    ids.push(r.message.id);
  }
  return ids;
}

/** Waits until the server has `username`'s read marker in the room at `messageId` or beyond. */
export async function waitReadUpTo(origin, token, roomId, username, messageId, timeout = T.short) {
  const end = Date.now() + timeout;
  for (;;) {
    const { members = [] } = await api(origin, 'GET', `/api/rooms/${roomId}/members`, { token });
    const m = members.find((x) => x.user.username === username);
    if (m && m.last_read_message_id >= messageId) return;
    if (Date.now() > end) throw new Error(`${username}'s read marker stayed at ${m && m.last_read_message_id}, below ${messageId}`);
    await sleep(100);
  }
}
