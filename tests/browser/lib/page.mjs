// What a person does on the Hearth page, as helpers over Playwright. Every wait is on the DOM
// (or on `window.hearth`) with a generous time limit; nothing sleeps a fixed time.

export const T = {
  short: 15000, // a reply the server gives at once
  long: 60000, // reconnects after a backoff, a task of 100000 numbers on a slow machine
};

/** A random suffix for names that must not clash between tests on the same server. */
export function uniq() {
  return Math.random().toString(36).slice(2, 8);
}

/** Opens the page and waits until app.js has set `window.hearth`. */
export async function openHome(page, origin) {
  await page.goto(`${origin}/`, { waitUntil: 'load' });
  await page.waitForFunction(() => !!window.hearth, null, { timeout: T.short });
}

/** Waits for the overall connection state (#conn-state data-state). */
export async function waitConnState(page, state, timeout = T.long) {
  await page.waitForFunction((s) => document.getElementById('conn-state').dataset.state === s, state, { timeout });
}

/** Signs up through the form and waits for the app view with every socket open. */
export async function signUp(page, { username, password, displayName }) {
  await page.fill('#username', username);
  await page.fill('#password', password);
  if (displayName) await page.fill('#display-name', displayName);
  await page.click('#register-btn');
  await page.waitForSelector('#app-view', { state: 'visible', timeout: T.short });
  await waitConnState(page, 'open');
}

/** Signs in through the form and waits for the app view with every socket open. */
export async function signIn(page, { username, password }) {
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#login-btn');
  await page.waitForSelector('#app-view', { state: 'visible', timeout: T.short });
  await waitConnState(page, 'open');
}

/** `li[data-testid=room-item]` of a room by its shown name. */
export function roomItem(page, name) {
  return page.locator('#room-list li[data-testid="room-item"]', { has: page.locator('.name', { hasText: name }) });
}

/** Creates a group room through the form; it opens. Returns its id. */
export async function createRoom(page, { name, members = [] }) {
  await page.fill('#new-room-name', name);
  await page.fill('#new-room-members', members.join(', '));
  await page.click('#create-room-btn');
  await page.waitForFunction((n) => document.getElementById('room-title').textContent === n, name, { timeout: T.short });
  const item = roomItem(page, name);
  await item.waitFor({ timeout: T.short });
  return Number(await item.getAttribute('data-room-id'));
}

/**
 * Opens a room from the room list (waiting for it to be listed, e.g. after a room_updated push)
 * and waits for its messages (unsent items, li.pending, and join/leave lines, li.system, are not
 * placeholders). `room` is its shown name, or `{id}`.
 */
export async function openRoom(page, room) {
  const item = typeof room === 'object'
    ? page.locator(`#room-list li[data-testid="room-item"][data-room-id="${Number(room.id)}"]`)
    : roomItem(page, room);
  await item.waitFor({ timeout: T.short });
  const name = await item.locator('.name').textContent();
  await item.click();
  await page.waitForFunction((n) => document.getElementById('room-title').textContent === n
    && !document.getElementById('message-input').disabled
    && !document.querySelector('#messages li:not([data-message-id]):not(.empty):not(.pending):not(.system)'), name, { timeout: T.short });
}

/** The id of the room open in the page (the active item of the room list). */
export async function currentRoomId(page) {
  return Number(await page.getAttribute('#room-list li.active[data-room-id]', 'data-room-id'));
}

/**
 * Types a message and sends it with the button; waits for #send-status to say how it went.
 * @returns {Promise<string>} the transport: 'websocket' or 'rest'
 */
export async function sendMessage(page, text) {
  await page.evaluate(() => { const s = document.getElementById('send-status'); s.dataset.method = ''; s.textContent = ''; });
  await page.fill('#message-input', text);
  await page.click('#send-btn');
  await page.waitForFunction(() => document.getElementById('send-status').dataset.method !== '', null, { timeout: T.long });
  const method = await page.getAttribute('#send-status', 'data-method');
  if (method === 'error') throw new Error(`sending "${text}" failed: ${await page.textContent('#send-status')}`);
  return method;
}

/** How many items of `list` (a selector of a ul) have exactly `text` as their .content. */
export function countMessages(page, list, text) {
  return page.evaluate(([sel, t]) => [...document.querySelectorAll(`${sel} > li[data-message-id] .content`)]
    .filter((el) => el.textContent === t).length, [list, text]);
}

/** Waits until `text` is shown in `list` (e.g. '#messages'); resolves with how many times it is. */
export async function waitForMessage(page, list, text, timeout = T.short) {
  await page.waitForFunction(([sel, t]) => [...document.querySelectorAll(`${sel} > li[data-message-id] .content`)]
    .some((el) => el.textContent === t), [list, text], { timeout });
  return countMessages(page, list, text);
}

/** The HearthClient's counters (`window.hearth.stats`). */
export function clientStats(page) {
  return page.evaluate(() => ({ ...window.hearth.stats, sockets: window.hearth.socketStates() }));
}

/** Waits until a predicate over `window.hearth` holds, e.g. `(h, n) => h.stats.resumes > n`. */
export async function waitClient(page, predicate, arg, timeout = T.long) {
  await page.waitForFunction(`(${predicate.toString()})(window.hearth, ${JSON.stringify(arg ?? null)})`, null, { timeout });
}
