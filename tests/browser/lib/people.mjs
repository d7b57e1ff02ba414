// People for the page tests: users who sign up through the page, each in a browser context of
// their own (t.newPage from run-tests.mjs), and a few geometry helpers.

import { signUp, uniq } from './page.mjs';

export const PASSWORD = 'correct-horse-battery';
export const DESKTOP = { width: 1280, height: 860 };
export const WIDE = { width: 1400, height: 900 };
export const PHONE_390 = { width: 390, height: 844 };

/** A user who signed up through the page: {user: {username, password, displayName}, page, proxy}. */
export async function person(t, label, { id = uniq(), viewport, ...contextOpts } = {}) {
  const user = { username: `${label}_${id}`, password: PASSWORD, displayName: `${label[0].toUpperCase()}${label.slice(1)} ${id}` };
  const p = await t.newPage(label, viewport ? { viewport, ...contextOpts } : contextOpts);
  await signUp(p.page, user);
  return { user, ...p };
}

/** Two people with the same suffix: {id, alice, bob} (each {user, page, proxy}). */
export async function pair(t, opts = {}) {
  const id = uniq();
  const [alice, bob] = await Promise.all([person(t, 'alice', { id, ...opts }), person(t, 'bob', { id, ...opts })]);
  return { id, alice, bob };
}

/** Whether two DOM rects ({x, y, width, height}) overlap (touching edges do not count). */
export function overlaps(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}
