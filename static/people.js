/**
 * people.js: who is in a room and who is online, finding people by name, and where the unread
 * messages begin (issue 10; contract v1.1 section 4.1: `get_members`, `search_users`, `presence`).
 *
 * Loaded by index.html before app.js, it sets `window.hearthPeople`; app.js calls
 *   attach({client, loadOlder})   once, with its HearthClient and its "load older messages" function
 *   roomOpened(id, room)          when it opens a room (before it clears the room's unread count),
 *                                 and roomOpened(null) when it closes the room
 * Everything else it learns from the client's events (`presence`, `member_joined`, `member_left`,
 * the chat socket's `connected`, `signed_out`) and from the DOM of #messages (a MutationObserver),
 * so app.js keeps its own rendering.
 *
 * Stable ids / test ids (user-provided text is set with textContent only):
 *
 *  members      #members-panel (a <details>, hidden for direct rooms and when no room is open) with
 *               #members-summary ("Members (3) · 2 online"), #member-list > li[data-testid=member]
 *               [data-user-id][data-username][data-online="true"|"false"] with .presence-dot,
 *               .member-name, .member-username, .member-status ("online", "last seen 5 min ago", "offline")
 *  direct room  #room-presence[data-testid=room-presence][data-online] under the room title: the other
 *               person's status
 *  finding      #new-room-members, #add-member-username, #direct-username, #task-people are comboboxes:
 *               ul#<input id>-suggestions[role=listbox][data-testid=people-suggest] > li[role=option]
 *               [data-testid=people-option][data-username] with .suggest-name and .suggest-username;
 *               the input's aria-activedescendant names the highlighted option
 *  unread       #messages > .unread-divider[data-testid=unread-divider][data-before-message-id] (role
 *               separator, "New messages"), button#jump-unread[data-testid=jump-unread] while the divider
 *               is out of view
 */

import { $, h } from './dom.js';

const P = {
  client: null,
  loadOlder: null,
  room: null, // {id, kind} of the open room
  members: [], // [{user, online, last_read_message_id}] of the open room
  membersState: 'idle', // idle | loading | loaded | failed
  membersSeq: 0,
  membersTimer: null,
  presence: new Map(), // user id → {online, last_seen_at}
  // The open room's unread messages, as they were when it was opened:
  // {roomId, count, marker (my last_read_message_id then; undefined until known, null if unknown), frozen, target, partial}
  unread: null,
};

const me = () => (P.client && P.client.user) || null;
const isMe = (u) => !!(u && me() && u.id === me().id);
const displayName = (u) => (u && (u.display_name || u.username)) || 'Someone';

/**
 * One chat operation: over the chat socket when it is open, else (or when the socket fails to
 * answer) over its REST mirror. Only reads go through here, so repeating one is harmless.
 */
async function op(type, fields, path, query) {
  const sock = P.client.chat;
  if (sock.isOpen) {
    try {
      return await sock.request(type, fields);
    } catch (err) {
      if (!err || !err.transport) throw err;
    }
  }
  return P.client.api('GET', path, { query });
}

// ------------------------------------------------------------------ time

function ago(iso) {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  const d = new Date(t);
  const opts = { month: 'short', day: 'numeric' };
  if (d.getFullYear() !== new Date().getFullYear()) opts.year = 'numeric';
  return `on ${d.toLocaleDateString([], opts)}`;
}

// ------------------------------------------------------------------ presence

function notePresence(userId, online, lastSeen) {
  const old = P.presence.get(userId);
  P.presence.set(userId, {
    online: !!online,
    // Going offline keeps the time it happened; a members list does not say it, so keep what a push said.
    last_seen_at: online ? null : (lastSeen || (old && !old.online ? old.last_seen_at : null)),
  });
}

function presenceOf(user) {
  if (isMe(user) && P.client.chat.isOpen) return { online: true, last_seen_at: null };
  return P.presence.get(user.id) || { online: false, last_seen_at: null };
}

function statusText(p) {
  if (p.online) return 'online';
  if (p.last_seen_at) return `last seen ${ago(p.last_seen_at)}`;
  return 'offline';
}

// ------------------------------------------------------------------ members panel

function panel() {
  let el = $('members-panel');
  if (el) return el;
  // Open on wide screens, closed on phones (the conversation needs the height), unless the
  // person chose otherwise before.
  let open = !window.matchMedia('(max-width: 719px)').matches;
  try {
    const kept = localStorage.getItem('hearth.membersOpen');
    if (kept != null) open = kept !== 'false';
  } catch { /* no storage: the default */ }
  el = h('details', { id: 'members-panel', class: 'members-panel', 'data-testid': 'members-panel', open, hidden: true },
    h('summary', { id: 'members-summary' }, 'Members'),
    h('ul', { id: 'member-list', class: 'member-list', 'data-testid': 'member-list', 'aria-labelledby': 'members-summary' }));
  el.addEventListener('toggle', () => { try { localStorage.setItem('hearth.membersOpen', String(el.open)); } catch { /* not kept */ } });
  // Under the room's header, above "add a member".
  const head = document.querySelector('#chat-panel .chat-head');
  if (head) head.after(el);
  else if ($('chat-panel')) $('chat-panel').prepend(el);
  return el;
}

function roomPresenceEl() {
  let el = $('room-presence');
  if (el) return el;
  el = h('div', { id: 'room-presence', class: 'room-presence small-text', 'data-testid': 'room-presence', hidden: true });
  const meta = $('room-meta') || $('room-title');
  if (meta) meta.after(el);
  return el;
}

function memberItem(m) {
  const p = presenceOf(m.user);
  const mine = isMe(m.user);
  return h('li', {
    class: `member${p.online ? ' online' : ''}`, 'data-testid': 'member',
    dataset: { userId: m.user.id, username: m.user.username, online: p.online },
  },
  h('span', { class: 'presence-dot', 'aria-hidden': 'true' }),
  h('span', { class: 'member-name', text: displayName(m.user) }),
  mine ? h('span', { class: 'member-you muted', text: '(you)' }) : null,
  h('span', { class: 'member-username muted', text: `@${m.user.username}` }),
  h('span', { class: 'member-status muted', text: statusText(p), title: p.last_seen_at ? new Date(p.last_seen_at).toLocaleString() : null }));
}

function renderMembers() {
  const el = panel();
  const room = P.room;
  if (!room || room.kind === 'direct') { el.hidden = true; return; }
  el.hidden = false;
  const list = el.querySelector('.member-list');
  const summary = el.querySelector('summary');
  if (P.membersState === 'failed' && !P.members.length) {
    summary.textContent = 'Members';
    list.replaceChildren(h('li', { class: 'muted small-text', text: 'Could not load the members.' }));
    return;
  }
  if (!P.members.length) {
    summary.textContent = 'Members';
    list.replaceChildren(h('li', { class: 'muted small-text', text: 'Loading…' }));
    return;
  }
  const online = P.members.filter((m) => presenceOf(m.user).online).length;
  summary.textContent = `Members (${P.members.length}) · ${online} online`;
  list.replaceChildren(...P.members.map(memberItem));
}

/** In a direct room, the other person's status under the room's name. */
function renderRoomPresence() {
  const el = roomPresenceEl();
  const other = P.room && P.room.kind === 'direct' ? P.members.find((m) => !isMe(m.user)) : null;
  if (!other) { el.hidden = true; el.textContent = ''; delete el.dataset.online; return; }
  const p = presenceOf(other.user);
  el.hidden = false;
  el.dataset.online = String(p.online);
  el.title = p.last_seen_at ? new Date(p.last_seen_at).toLocaleString() : '';
  el.replaceChildren(h('span', { class: 'presence-dot', 'aria-hidden': 'true' }),
    `${displayName(other.user)} is ${p.online ? 'online' : (p.last_seen_at ? `offline, last seen ${ago(p.last_seen_at)}` : 'offline')}`);
}

async function loadMembers() {
  const room = P.room;
  if (!room || !P.client) return;
  clearTimeout(P.membersTimer);
  const seq = ++P.membersSeq;
  if (P.membersState !== 'loaded') P.membersState = 'loading';
  try {
    const r = await op('get_members', { room_id: room.id }, `/api/rooms/${encodeURIComponent(room.id)}/members`);
    if (seq !== P.membersSeq || P.room !== room) return;
    P.members = Array.isArray(r.members) ? r.members.filter((m) => m && m.user) : [];
    P.membersState = 'loaded';
    for (const m of P.members) notePresence(m.user.id, m.online, null);
    const u = P.unread;
    if (u && u.roomId === room.id && u.marker === undefined) {
      const mine = P.members.find((m) => isMe(m.user));
      u.marker = mine && typeof mine.last_read_message_id === 'number' ? mine.last_read_message_id : null;
    }
  } catch {
    if (seq !== P.membersSeq || P.room !== room) return;
    P.membersState = 'failed';
    if (P.unread && P.unread.marker === undefined) P.unread.marker = null;
  }
  renderMembers();
  renderRoomPresence();
  placeDivider();
}

function loadMembersSoon() {
  clearTimeout(P.membersTimer);
  P.membersTimer = setTimeout(loadMembers, 150);
}

// ------------------------------------------------------------------ unread divider

const messagesList = () => $('messages');
const dividerEl = () => messagesList() && messagesList().querySelector(':scope > .unread-divider');

function removeDivider() {
  const d = dividerEl();
  if (d) d.remove();
  updateJump();
}

/**
 * Puts "New messages" above the first unread message of the room as it was when opened: the first
 * message from someone else after my read marker (from `get_members`, asked before app.js loads the
 * messages and marks them read), or, without the marker, the `unread_count`-th newest message from
 * someone else. Runs after every change of #messages.
 */
function placeDivider() {
  const list = messagesList();
  const u = P.unread;
  if (!list || !u || !P.room || u.roomId !== P.room.id) { removeDivider(); return; }
  const items = [...list.querySelectorAll(':scope > li[data-message-id]')].map((li) => ({
    li, id: Number(li.dataset.messageId), own: li.classList.contains('own'), deleted: li.classList.contains('deleted'),
  })).filter((i) => Number.isFinite(i.id));
  if (!items.length) { removeDivider(); return; }
  if (u.marker === undefined) return; // the members (with my marker) are on their way
  const olderBtn = $('load-older-btn');
  const hasOlder = !!(olderBtn && !olderBtn.hidden);
  let target = null;
  let partial = false;
  if (u.marker != null) {
    const first = items.find((i) => i.id > u.marker && !i.own && !i.deleted);
    if (first) {
      target = first.id;
      // Nothing loaded at or before the marker: more unread messages may be above the page.
      partial = hasOlder && items[0].id > u.marker;
    }
  }
  if (target == null) {
    if (u.frozen == null) {
      const others = items.filter((i) => !i.own && !i.deleted);
      if (!others.length) { removeDivider(); return; }
      if (others.length >= u.count) u.frozen = others[others.length - u.count].id;
      else if (!hasOlder) u.frozen = others[0].id;
      else { target = others[0].id; partial = true; }
    }
    if (target == null) target = u.frozen;
  }
  u.target = target;
  u.partial = partial;
  // While the first unread message is not loaded, no divider (it would be in the wrong place):
  // the jump control loads older pages until it is.
  const before = partial ? null : list.querySelector(`:scope > li[data-message-id="${Number(target)}"]`);
  if (!before) { removeDivider(); return; }
  let div = dividerEl();
  if (!div) {
    div = h('div', {
      class: 'unread-divider', role: 'separator', 'aria-label': 'New messages', tabindex: '-1', 'data-testid': 'unread-divider',
    }, h('span', { text: 'New messages' }));
  }
  div.dataset.beforeMessageId = String(target);
  if (div.nextElementSibling !== before) {
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 2;
    list.insertBefore(div, before);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }
  updateJump();
}

function jumpBtn() {
  let btn = $('jump-unread');
  if (btn) return btn;
  btn = h('button', {
    id: 'jump-unread', type: 'button', class: 'jump-unread small', 'data-testid': 'jump-unread', hidden: true, onclick: jumpToUnread,
  });
  const list = messagesList();
  if (list) list.before(btn);
  return btn;
}

/** Shows "jump to unread" while the divider (or the unread messages not loaded yet) is out of view. */
function updateJump() {
  const btn = jumpBtn();
  const u = P.unread;
  const div = dividerEl();
  const list = messagesList();
  if (!u || !list || !(div || u.partial)) { btn.hidden = true; return; }
  let below = false;
  if (div) {
    const lr = list.getBoundingClientRect();
    const dr = div.getBoundingClientRect();
    below = dr.top >= lr.bottom;
    btn.hidden = dr.bottom > lr.top && dr.top < lr.bottom;
  } else {
    btn.hidden = false;
  }
  const n = u.count;
  btn.textContent = `${below ? '↓' : '↑'} ${n} new message${n === 1 ? '' : 's'} · jump to the first`;
  btn.setAttribute('aria-label', `Jump to the first of ${n} new message${n === 1 ? '' : 's'}`);
}

async function jumpToUnread() {
  const u = P.unread;
  const btn = jumpBtn();
  if (!u) return;
  btn.disabled = true;
  try {
    // The first unread message may be older than the page shown: load older pages until it is in.
    for (let i = 0; i < 20 && P.unread === u && u.partial && P.loadOlder; i++) {
      const older = $('load-older-btn');
      if (!older || older.hidden) break;
      await P.loadOlder();
      placeDivider();
    }
    const div = dividerEl();
    const list = messagesList();
    if (!div || !list || P.unread !== u) return;
    // The divider near the top, with a little of what came before it still in view.
    const context = Math.min(48, list.clientHeight / 4);
    list.scrollTop += div.getBoundingClientRect().top - list.getBoundingClientRect().top - context;
    div.focus({ preventScroll: true });
  } finally {
    btn.disabled = false;
    updateJump();
  }
}

// ------------------------------------------------------------------ finding people (comboboxes)

const SEP = /[\s,;]/;
let suggestCount = 0;

/**
 * Makes `input` a combobox that suggests people (`search_users`) as one types: a listbox below it,
 * arrow keys to move, Enter to pick, Escape to close. `multi`: the input holds a list of usernames
 * (comma separated) and the suggestions complete the one at the caret.
 */
function attachSuggest(input, { multi = false, exclude = () => [] } = {}) {
  if (!input || input.dataset.peopleSearch) return;
  input.dataset.peopleSearch = multi ? 'multi' : 'one';
  const listId = `${input.id || `people-input-${++suggestCount}`}-suggestions`;
  // The list goes after the input, or after its <label> (so the label names the input only).
  const label = input.closest('label');
  const anchor = label || input;
  const host = anchor.parentElement;
  host.classList.add('suggest-host');
  const box = h('ul', { id: listId, class: 'people-suggest', role: 'listbox', 'aria-label': 'People', 'data-testid': 'people-suggest', hidden: true });
  const status = h('span', { class: 'sr-only', role: 'status' });
  anchor.after(box, status);
  // Pressing on the list (an option, its scroll bar) leaves the focus in the input.
  box.addEventListener('mousedown', (ev) => ev.preventDefault());
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-expanded', 'false');
  input.setAttribute('aria-controls', listId);
  input.setAttribute('autocomplete', 'off');

  let users = [];
  let active = -1;
  let timer = null;
  let seq = 0;

  const token = () => {
    const v = input.value;
    if (!multi) return { start: 0, end: v.length, text: v.trim() };
    const caret = input.selectionStart ?? v.length;
    let start = caret;
    while (start > 0 && !SEP.test(v[start - 1])) start--;
    let end = caret;
    while (end < v.length && !SEP.test(v[end])) end++;
    return { start, end, text: v.slice(start, end) };
  };

  const close = () => {
    clearTimeout(timer);
    seq++;
    users = [];
    active = -1;
    box.hidden = true;
    box.replaceChildren();
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  };

  const place = () => {
    // Below the input, as wide as it (at least 200 px, within the host), in the host's coordinates
    // (the host is position: relative).
    const ir = input.getBoundingClientRect();
    const hr = host.getBoundingClientRect();
    const left = ir.left - hr.left - host.clientLeft;
    box.style.top = `${ir.bottom - hr.top - host.clientTop + 2}px`;
    box.style.left = `${left}px`;
    box.style.width = `${Math.max(ir.width, Math.min(200, host.clientWidth - left))}px`;
  };

  const render = () => {
    if (!users.length) {
      box.replaceChildren(h('li', { class: 'suggest-none', role: 'option', 'aria-disabled': 'true', 'aria-selected': 'false', text: 'No matching people' }));
    } else {
      box.replaceChildren(...users.map((u, i) => {
        const li = h('li', {
          id: `${listId}-${i}`, role: 'option', class: i === active ? 'active' : null, 'aria-selected': String(i === active),
          'data-testid': 'people-option', dataset: { username: u.username, userId: u.id },
        }, h('span', { class: 'suggest-name', text: displayName(u) }), h('span', { class: 'suggest-username', text: `@${u.username}` }));
        li.addEventListener('click', () => choose(i));
        return li;
      }));
    }
    place();
    box.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    if (active >= 0) {
      input.setAttribute('aria-activedescendant', `${listId}-${active}`);
      const li = $(`${listId}-${active}`);
      if (li) li.scrollIntoView({ block: 'nearest' });
    } else {
      input.removeAttribute('aria-activedescendant');
    }
  };

  const search = async () => {
    clearTimeout(timer);
    const q = token().text.trim();
    if (!q || !P.client || !P.client.isSignedIn) { close(); return; }
    const mine = ++seq;
    try {
      const query = { query: q.slice(0, 100), limit: 8 };
      const r = await op('search_users', query, '/api/users', query);
      if (mine !== seq || document.activeElement !== input) return;
      const skip = new Set(exclude().map((s) => String(s).toLowerCase()));
      users = (r.users || []).filter((u) => u && u.username && !skip.has(u.username.toLowerCase()));
      active = -1;
      render();
      status.textContent = users.length
        ? `${users.length} ${users.length === 1 ? 'person' : 'people'} found; use the arrow keys to choose`
        : 'No matching people';
    } catch {
      if (mine === seq) close();
    }
  };

  const choose = (i) => {
    const u = users[i];
    if (!u) return;
    if (multi) {
      const t = token();
      const v = input.value;
      const before = v.slice(0, t.start);
      const after = v.slice(t.end).replace(/^[\s,;]+/, '');
      const value = `${before}${u.username}, ${after}`;
      input.value = value;
      const caret = before.length + u.username.length + 2;
      input.setSelectionRange(caret, caret);
    } else {
      input.value = u.username;
    }
    close();
    status.textContent = `${displayName(u)} (@${u.username}) chosen`;
  };

  input.addEventListener('input', (ev) => {
    clearTimeout(timer);
    // Suggestions follow typing (a character at a time, an IME composition, deleting). Text put in
    // at once (pasted, dropped, autofilled, set by a script) opens none: it is most likely a whole
    // name already, and a list popping up over the form's buttons would only be in the way.
    // ArrowDown opens them anyway.
    const typed = ev.inputType === 'insertCompositionText' || String(ev.inputType || '').startsWith('delete')
      || (ev.inputType === 'insertText' && [...(ev.data || '')].length === 1);
    if (!typed || !token().text.trim()) { close(); return; }
    timer = setTimeout(search, 150);
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.isComposing) return;
    const open = !box.hidden && users.length > 0;
    if (ev.key === 'ArrowDown') {
      ev.preventDefault();
      if (!open) { search(); return; }
      active = (active + 1) % users.length;
      render();
    } else if (ev.key === 'ArrowUp') {
      if (!open) return;
      ev.preventDefault();
      active = active <= 0 ? users.length - 1 : active - 1;
      render();
    } else if (ev.key === 'Enter') {
      // With a person highlighted, Enter picks them; otherwise the form submits as before.
      // The page's own Enter handler (e.g. "add this person") must not see that Enter: this
      // listener is a capturing one, so it runs first, and stops it.
      if (open && active >= 0) { ev.preventDefault(); ev.stopImmediatePropagation(); choose(active); } else close();
    } else if (ev.key === 'Escape') {
      if (!box.hidden) { ev.preventDefault(); ev.stopPropagation(); close(); }
    } else if (ev.key === 'Tab') {
      close();
    }
  }, true);
  input.addEventListener('blur', () => close());
  // The form may be reset (e.g. after creating a room): nothing stays open.
  if (input.form) input.form.addEventListener('submit', () => close());
}

function otherTokens(input) {
  const parts = input.value.split(/[\s,;]+/).filter(Boolean);
  const caret = input.selectionStart ?? input.value.length;
  // The token at the caret is being typed: not excluded.
  let start = caret;
  while (start > 0 && !SEP.test(input.value[start - 1])) start--;
  let end = caret;
  while (end < input.value.length && !SEP.test(input.value[end])) end++;
  const current = input.value.slice(start, end);
  const i = parts.indexOf(current);
  if (i >= 0) parts.splice(i, 1);
  return parts;
}

function attachSuggestions() {
  const myName = () => (me() ? [me().username] : []);
  const roomMembers = $('new-room-members');
  attachSuggest(roomMembers, { multi: true, exclude: () => [...myName(), ...otherTokens(roomMembers)] });
  attachSuggest($('add-member-username'), { exclude: () => P.members.map((m) => m.user.username) });
  attachSuggest($('direct-username'), { exclude: myName });
  // Bulk message: one username at a time, added with Enter or "Add" (app.js keeps the list).
  const bulk = $('task-people');
  const chosen = () => [...document.querySelectorAll('#task-people-list li[data-username]')].map((li) => li.dataset.username);
  attachSuggest(bulk, { exclude: () => [...myName(), ...chosen()] });
}

// ------------------------------------------------------------------ hooks for app.js

function reset() {
  P.room = null;
  P.members = [];
  P.membersState = 'idle';
  P.membersSeq++;
  P.unread = null;
  P.presence.clear();
  clearTimeout(P.membersTimer);
  renderMembers();
  renderRoomPresence();
  removeDivider();
}

/** app.js opened room `id` (`room` as it knew it, unread count included), or closed it (null). */
function roomOpened(id, room) {
  if (id == null) {
    P.room = null;
    P.unread = null;
    P.members = [];
    P.membersState = 'idle';
    P.membersSeq++;
    renderMembers();
    renderRoomPresence();
    removeDivider();
    return;
  }
  P.room = { id, kind: room ? room.kind : null };
  P.members = [];
  P.membersState = 'idle';
  const count = (room && room.unread_count) || 0;
  P.unread = count > 0 ? { roomId: id, count, marker: undefined, frozen: null, target: null, partial: false } : null;
  removeDivider();
  renderMembers();
  renderRoomPresence();
  // Asked before app.js asks for the messages (and then marks them read): on the socket, requests
  // are answered in order, so the marker in this answer is the one from before the room was opened.
  loadMembers();
}

function attach({ client, loadOlder } = {}) {
  if (P.client) return;
  P.client = client;
  P.loadOlder = loadOlder || null;
  panel();
  roomPresenceEl();
  jumpBtn();
  attachSuggestions();

  client.on('presence', (f) => {
    if (f == null || f.user_id == null) return;
    notePresence(f.user_id, f.online, f.last_seen_at);
    if (P.members.some((m) => m.user.id === f.user_id)) { renderMembers(); renderRoomPresence(); }
  });
  client.on('member_joined', (f) => { if (P.room && f.room_id === P.room.id) loadMembersSoon(); });
  client.on('member_left', (f) => {
    if (!P.room || f.room_id !== P.room.id || (f.user && isMe(f.user))) return;
    loadMembersSoon();
  });
  // After a reconnect, presence pushes may have been missed: ask again.
  client.chat.on('connected', () => { if (P.room) loadMembersSoon(); });
  client.chat.on('state', () => { if (P.room) { renderMembers(); renderRoomPresence(); } });
  client.on('signed_out', reset);

  const list = messagesList();
  if (list) {
    new MutationObserver(() => placeDivider()).observe(list, { childList: true });
    list.addEventListener('scroll', updateJump, { passive: true });
  }
  window.addEventListener('resize', updateJump);
  // "last seen 3 min ago" keeps up with the clock.
  setInterval(() => {
    if (!P.room || document.visibilityState !== 'visible') return;
    if (P.members.some((m) => presenceOf(m.user).last_seen_at)) { renderMembers(); renderRoomPresence(); }
  }, 30000);
}

window.hearthPeople = { attach, roomOpened, reset };
