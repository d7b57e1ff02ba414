/**
 * app.js: the Hearth page (and the browser test page). UI logic only; the protocol lives in hearth-client.js.
 * `window.hearth` is the HearthClient, for tests (`hearth.stats`, `hearth.state`, `hearth.socketStates()`).
 *
 * Stable element ids / test ids (every user-provided text is set with textContent, never innerHTML):
 *
 *  header       #conn-state (readable text; data-state = overall state: idle, connecting, open, reconnecting,
 *               offline, signed_out), #current-user, #notif-btn (opens the inbox; aria-expanded),
 *               #notif-count (unread notifications, also in the tab title: "(3) Hearth"), #logout-btn
 *  inbox        #notif-panel with #notif-read-all, #notif-close, #notif-unread-only, #notif-desktop (asks for
 *               desktop notifications; only on a click), #notif-list > li[data-notification-id][data-kind]
 *               [data-read][data-room-id][data-task-id] with button.notif-open (.notif-title, .notif-body, time)
 *               and button.notif-read (unread ones)
 *  auth         #auth-view, #username, #password, #display-name, #login-btn, #register-btn, #auth-error;
 *               Enter signs up when a display name is filled in, signs in otherwise
 *  app          #app-view (shown when signed in; data-view = list | chat: what a narrow screen shows),
 *               #side-col (the rooms panel, and the support widget of a signed-in user)
 *  rooms        #room-list > li[data-room-id][data-kind][data-testid=room-item] > button.room-btn with .name,
 *               .badge[data-testid=unread-badge] (hidden when 0), .preview, time.time (local time)
 *               #new-room-name, #new-room-members (comma separated usernames), #new-room-public, #create-room-btn
 *               #direct-username, #open-direct-btn
 *               #public-query, #browse-public-btn, #public-rooms > li[data-room-id] with .member-count
 *               ("3 members") and button.join-btn[data-testid=join-room] (or button.open-btn once a member)
 *  conversation #back-btn (narrow screens), #room-title, #room-meta, #leave-room-btn (asks first),
 *               #add-member-username, #add-member-btn, #load-older-btn (hidden when there is nothing older),
 *               #messages > li[data-message-id][data-testid=message] (.own for mine, .deleted) with .sender,
 *               time.time, .edited, .content (links as a[href], @mentions as .mention, .mention.me for mine);
 *               #messages > li.system[data-testid=system-line] ("Bob joined", "Bob left");
 *               on my messages button.edit-btn[data-testid=edit-message] and
 *               button.delete-btn[data-testid=delete-message] (asks first); while editing
 *               textarea.edit-input[data-testid=edit-input] (Ctrl/Cmd+Enter saves, Escape cancels),
 *               button.save-edit-btn[data-testid=save-edit], button.cancel-edit-btn[data-testid=cancel-edit]
 *               unsent messages (the client's outbox) after them: li.pending[data-client-id][data-status=pending|
 *               sending|failed][data-testid=pending-message] with .content, .pending-note, and when failed
 *               button.retry-btn[data-testid=retry-message], button.discard-btn[data-testid=discard-message]
 *               #typing ("alice is typing…"), #message-input (its draft is kept per room across reloads),
 *               #send-btn, #send-status (data-method = websocket | rest | queued (kept in the outbox, sent when the
 *               connection is back) | error after each send; text only while sending, queued or on an error)
 *  confirm      #confirm-dialog (a modal <dialog>) with #confirm-text, #confirm-ok, #confirm-cancel
 *  tasks        #task-kind (generate_numbers | validate_numbers | bulk_message), #task-area-code, #task-quantity,
 *               #task-numbers (one per line), #task-content, #task-rooms (fieldset) > #task-rooms-list > li >
 *               label > input[type=checkbox][data-room-id], #task-people (a username; Enter or #task-people-add
 *               adds it), #task-people-list > li[data-username] > button (removes), #start-task-btn, #task-error,
 *               #tasks > li.empty[data-testid=tasks-empty] when there are none,
 *               #tasks > li[data-task-id][data-status][data-testid=task] with .kind, <progress>, .status (the status
 *               name), .progress-text, .result-summary, .task-error, button.cancel-btn[data-testid=cancel-task],
 *               button.download-json[data-testid=download-json], button.download-csv[data-testid=download-csv];
 *               finished validate_numbers tasks also select.type-filter[data-testid=type-filter] (option values:
 *               '' for all, or a number type; the downloads follow it), button.show-results[data-testid=show-results],
 *               and once shown .task-results[data-testid=task-results] > table > tbody > tr[data-type][data-valid]
 *               with td.input, td.e164, td.type, td.region, td.reason (at most 200 rows) and .results-note;
 *               finished bulk_message tasks with failed targets .task-failures[data-testid=task-failures] >
 *               li[data-target][data-code] with .target and .reason
 *  toasts       #toasts > .toast[data-testid=toast][data-kind][data-notification-id] with .toast-title,
 *               .toast-body, .toast-close; placed where they cover no task control; they stay 30 s
 *               (notifications) or 10 s, longer while pointed at or focused
 *  support      #support-widget (not shown to staff), #support-state, #support-messages > li[data-message-id]
 *               (.content), #support-input, #support-send, #support-error
 *  staff        #staff-console (shown when user.is_staff), #staff-unread (conversations waiting), #staff-state,
 *               #staff-refresh, #staff-rooms > li[data-room-id] > button (.badge unread), #staff-room-title,
 *               #staff-messages > li[data-message-id] (.content), #staff-input, #staff-send; a new conversation
 *               or a visitor's message raises a toast[data-kind=support]
 */
import { HearthClient } from './hearth-client.js';
import { $, h } from './dom.js';

const client = new HearthClient();
window.hearth = client;



// ------------------------------------------------------------------ formatting

function localTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const opts = { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };
  if (d.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
  return d.toLocaleString([], opts);
}

function timeEl(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return h('time', { class: 'time', datetime: iso, title: Number.isNaN(d.getTime()) ? null : d.toLocaleString(), text: localTime(iso) });
}

function userName(u) {
  if (!u) return 'Someone';
  return u.display_name || u.username || `user ${u.id}`;
}

function describe(err) {
  if (!err) return 'Something went wrong.';
  if (err.code === 'validation_failed' && err.fields && typeof err.fields === 'object') {
    // The message usually is the field's reason already ("password: must be ..."): add only the
    // reasons it does not say, so nothing is printed twice.
    const message = err.message || '';
    const parts = Object.entries(err.fields).map(([k, v]) => `${k}: ${v}`)
      .filter((p) => !message.includes(p));
    if (!message) return parts.join('; ') || 'Invalid input.';
    if (parts.length) return `${message} (${parts.join('; ')})`;
    return message;
  }
  if (err.code === 'rate_limited' && err.retryAfter) return `${err.message} (try again in ${Math.ceil(err.retryAfter)} s)`;
  if (err.transport) return `Connection problem: ${err.message}`;
  return err.message || err.code || String(err);
}

function splitList(text) {
  return String(text || '').split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
}

const isVisible = () => document.visibilityState === 'visible';
const topbar = document.querySelector('.topbar');
const isMine = (m) => !!(m && m.sender && S.user && m.sender.id === S.user.id);

// ------------------------------------------------------------------ state

const S = {
  user: null,
  rooms: new Map(), // id → room
  current: null, // open room id
  msgs: new Map(), // room id → Map(message id → message), for the open room
  hasOlder: new Map(),
  typing: new Map(), // room id → Map(user id → {name, until})
  lastMarked: new Map(),
  fetchingRooms: new Set(),
  typingSentAt: 0,
  typingActive: false,
  typingStopTimer: null,
  markTimer: null,
  chatConnections: 0,
  tasks: new Map(),
  tasksLoaded: false,
  notifUnread: 0,
  notifs: new Map(), // id → notification, as far as the page has seen them
  events: new Map(), // room id → [{after, text, at}]: joins and leaves seen live, shown between messages
  people: new Map(), // username → display name, of people the page has seen (suggestions for bulk messages)
  bulkRooms: new Set(), // room ids ticked for a bulk message
  bulkPeople: [], // usernames chosen for a bulk message
  restoreRoom: false,
  staff: { rooms: new Map(), current: null, msgs: new Map(), markTimer: null, loaded: false },
  support: { msgs: new Map() },
};

// ------------------------------------------------------------------ what the page remembers per user (localStorage)

/** The open room, the narrow-screen view and drafts per room, under keys of the signed-in user. */
const ui = {
  key(k) { return S.user ? `hearth.ui.${S.user.id}.${k}` : null; },
  get(k) { const key = ui.key(k); try { return key ? localStorage.getItem(key) : null; } catch { return null; } },
  set(k, v) {
    const key = ui.key(k);
    if (!key) return;
    try { if (v == null || v === '') localStorage.removeItem(key); else localStorage.setItem(key, String(v)); } catch { /* full or off */ }
  },
  /** Forgets everything kept for the signed-in user (on signing out: drafts are private). */
  clear() {
    const prefix = ui.key('');
    if (!prefix) return;
    try {
      for (let i = localStorage.length - 1; i >= 0; i--) { const k = localStorage.key(i); if (k && k.startsWith(prefix)) localStorage.removeItem(k); }
    } catch { /* nothing kept */ }
  },
};

// ------------------------------------------------------------------ toasts

/**
 * A toast: notifications stay 30 s, the rest 10 s (errors 12 s); the time stops while the pointer is
 * on it or focus is in it. A toast with the `key` of one shown replaces it.
 */
function toast({ title, body = '', kind = 'info', notification = null, actions = [], ttl, key = null } = {}) {
  const box = $('toasts');
  let el = null;
  let timer = null;
  const life = ttl ?? (notification || kind === 'support' ? 30000 : kind === 'error' ? 12000 : 10000);
  const dismiss = () => { clearTimeout(timer); if (el) el.remove(); };
  const arm = () => { clearTimeout(timer); if (life > 0) timer = setTimeout(dismiss, life); };
  el = h('div', {
    class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status', 'data-testid': 'toast',
    dataset: notification ? { notificationId: notification.id, kind: notification.kind, key } : { kind, key },
  },
  h('strong', { class: 'toast-title', text: title }),
  h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', text: '×', onclick: dismiss }),
  body ? h('div', { class: 'toast-body', text: body }) : null,
  actions.length ? h('div', { class: 'toast-actions' }, actions.map((a) => h('button', {
    type: 'button', class: 'secondary small', text: a.label, onclick: () => { dismiss(); a.run(); },
  }))) : null);
  el.addEventListener('pointerenter', () => clearTimeout(timer));
  el.addEventListener('pointerleave', () => { if (!el.contains(document.activeElement)) arm(); });
  el.addEventListener('focusin', () => clearTimeout(timer));
  el.addEventListener('focusout', (ev) => { if (!el.contains(ev.relatedTarget)) arm(); });
  const same = key ? [...box.children].find((c) => c.dataset.key === key) : null;
  if (same) same.replaceWith(el); else box.append(el);
  while (box.children.length > 4) box.firstElementChild.remove();
  positionToasts();
  arm();
  return el;
}

/**
 * Toasts go over the top of the message list (the oldest messages shown, the least needed part
 * of the page), centred on it: never over the rooms, the conversation's header and box, or the
 * task panel. When the conversation is not in view, they go under the top bar.
 */
function positionToasts() {
  const box = $('toasts');
  if (!box.children.length) return;
  const r = $('messages').getBoundingClientRect();
  const bar = topbar.getBoundingClientRect().bottom;
  if (r.width > 200 && r.bottom > bar + 120 && r.top < window.innerHeight - 160) {
    box.style.top = `${Math.max(bar, r.top) + 8}px`;
    box.style.left = `${r.left + r.width / 2}px`;
    box.style.width = `${Math.min(352, r.width - 16)}px`;
  } else {
    box.style.top = '';
    box.style.left = '';
    box.style.width = '';
  }
}
let toastFrame = 0;
const positionToastsSoon = () => { if (!toastFrame) toastFrame = requestAnimationFrame(() => { toastFrame = 0; positionToasts(); }); };
window.addEventListener('scroll', positionToastsSoon, { passive: true });
window.addEventListener('resize', positionToastsSoon);

function removeToasts(selector) {
  for (const el of $('toasts').querySelectorAll(selector)) el.remove();
}

function toastError(err, title = 'Error') {
  toast({ title, body: describe(err), kind: 'error' });
}

// ------------------------------------------------------------------ connection indicator

/** What the connection states read as (data-state keeps the client's name). */
const STATE_LABEL = {
  idle: 'Not connected', connecting: 'Connecting…', open: 'Connected', reconnecting: 'Reconnecting…',
  offline: 'Offline', signed_out: 'Signed out', closed: 'Disconnected',
};
const SOCKET_LABEL = { chat: 'Chat', tasks: 'Tasks', notifications: 'Notifications', admin: 'Support console', support: 'Support chat' };
const stateLabel = (s) => STATE_LABEL[s] || String(s || '').replace(/_/g, ' ');

function renderConn() {
  const el = $('conn-state');
  // While the chat socket is down the client long-polls over HTTP: messages still arrive, say so.
  const polling = client.polling && client.state !== 'open' && client.state !== 'signed_out';
  el.textContent = polling ? `${stateLabel(client.state)} (messages still arrive)` : stateLabel(client.state);
  el.dataset.state = client.state;
  el.dataset.polling = polling ? 'true' : 'false';
  el.title = Object.entries(client.socketStates()).filter(([, s]) => s !== 'idle')
    .map(([n, s]) => `${SOCKET_LABEL[n] || n}: ${stateLabel(s)}`).join('\n') || 'Connection state';
}
client.onState(renderConn);
client.on('polling', renderConn);
for (const name of ['chat', 'tasks', 'notifications', 'admin', 'support']) client.socket(name).on('state', renderConn);

// ------------------------------------------------------------------ auth

function setAuthError(text) { $('auth-error').textContent = text || ''; }

/** What Enter does on the auth form: sign up when a display name is filled in (it is only for sign-up), else sign in. */
function authDefault() { return $('display-name').value.trim() ? 'register' : 'login'; }

/** The button Enter triggers looks like the primary one. */
function renderAuthDefault() {
  const reg = authDefault() === 'register';
  $('login-btn').classList.toggle('secondary', reg);
  $('register-btn').classList.toggle('secondary', !reg);
  $('auth-hint').textContent = reg ? 'Enter signs up (a display name is filled in).' : 'Enter signs in; with a display name filled in, Enter signs up.';
}

async function doAuth(kind) {
  const username = $('username').value.trim();
  const password = $('password').value;
  const display = $('display-name').value.trim();
  setAuthError('');
  if (!username || !password) { setAuthError('Enter a username and a password.'); return; }
  const buttons = [$('login-btn'), $('register-btn')];
  buttons.forEach((b) => { b.disabled = true; });
  try {
    if (kind === 'register') await client.register(username, password, display || undefined);
    else await client.login(username, password);
    $('password').value = '';
    $('display-name').value = '';
    renderAuthDefault();
  } catch (err) {
    setAuthError(describe(err));
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

function applyUser(user) {
  S.user = user || null;
  $('current-user').textContent = user ? userName(user) : '';
  $('current-user').title = user ? `@${user.username}` : '';
  const staff = !!(user && user.is_staff);
  $('staff-console').hidden = !staff;
  // Staff answer in the console; the visitors' widget is not for them.
  $('support-widget').hidden = staff;
  if (staff && client.support.started) client.support.stop();
  placeSupportWidget();
  if (staff && client.isSignedIn && !client.admin.started) client.admin.start();
  if (!staff && client.admin.started) client.admin.stop();
}

function resetData() {
  S.rooms.clear(); S.msgs.clear(); S.hasOlder.clear(); S.typing.clear(); S.lastMarked.clear();
  S.current = null; S.chatConnections = 0;
  S.tasks.clear(); S.tasksLoaded = false; S.notifUnread = 0; S.notifs.clear();
  S.events.clear(); S.people.clear(); S.bulkRooms.clear(); S.bulkPeople = [];
  S.staff.rooms.clear(); S.staff.msgs.clear(); S.staff.current = null; S.staff.loaded = false;
  closeNotifPanel();
  renderBulkPickers();
  renderStaffUnread();
  $('message-input').value = '';
  $('app-view').dataset.view = 'list';
  $('room-list').replaceChildren();
  $('public-rooms').replaceChildren();
  $('tasks').replaceChildren();
  $('staff-rooms').replaceChildren();
  $('staff-messages').replaceChildren();
  $('staff-room-title').textContent = 'Pick a conversation';
  $('staff-input').disabled = true;
  $('staff-send').disabled = true;
  $('send-status').textContent = '';
  renderNotifCount();
  renderRoomHeader();
  $('messages').replaceChildren();
  $('typing').textContent = '';
}

function enterApp(user) {
  resetData();
  resetSupportView();
  $('auth-view').hidden = true;
  $('app-view').hidden = false;
  $('logout-btn').hidden = false;
  $('notif-btn').hidden = false;
  applyUser(user);
  S.restoreRoom = true;
  client.connect({ chat: true, tasks: true, notifications: true, admin: !!(user && user.is_staff) });
  loadRooms();
  loadTasks();
  loadNotifCount();
}

function leaveApp(reason) {
  if (reason === 'logout') ui.clear();
  resetData();
  resetSupportView();
  applyUser(null);
  $('app-view').hidden = true;
  $('auth-view').hidden = false;
  $('logout-btn').hidden = true;
  $('notif-btn').hidden = true;
  if (reason && reason !== 'logout') setAuthError('Your session ended. Please sign in again.');
}

client.on('signed_in', (user) => { setAuthError(''); enterApp(user); });
client.on('signed_out', ({ reason } = {}) => leaveApp(reason));

// ------------------------------------------------------------------ rooms

function roomName(r) {
  if (!r) return '';
  if (r.name) return r.name;
  return r.kind === 'direct' ? `Direct chat ${r.id}` : `Room ${r.id}`;
}

function activity(r) { return (r.last_message && r.last_message.created_at) || r.updated_at || r.created_at || ''; }

function preview(m) {
  if (!m) return 'No messages yet';
  if (m.deleted) return 'Message deleted';
  const text = `${m.sender ? `${userName(m.sender)}: ` : ''}${m.content || ''}`;
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

/** A room of a list as a button (name, kind, unread badge; preview and time below). */
function roomButton(r, { active, onclick, kindTag = true }) {
  const unread = r.unread_count || 0;
  let tag = null;
  if (kindTag) tag = r.kind !== 'group' ? r.kind : (r.is_public ? 'public' : null);
  if (r._new) tag = 'new';
  return h('button', { type: 'button', class: 'room-btn', 'aria-current': active ? 'true' : null, onclick },
    h('span', { class: 'room-line' },
      h('span', { class: 'name', text: roomName(r) }),
      tag ? h('span', { class: 'kind-tag', text: tag }) : null,
      h('span', { class: 'badge', 'data-testid': 'unread-badge', hidden: unread === 0, text: unread, 'aria-label': `${unread} unread` })),
    h('span', { class: 'room-line sub' },
      h('span', { class: 'preview', text: preview(r.last_message) }),
      timeEl(activity(r))));
}

function renderRooms() {
  const rooms = [...S.rooms.values()].sort((a, b) => activity(b).localeCompare(activity(a)) || b.id - a.id);
  const list = $('room-list');
  const hadFocus = list.contains(document.activeElement) ? Number(document.activeElement.closest('li')?.dataset.roomId) : null;
  renderBulkRooms();
  if (!rooms.length) { list.replaceChildren(h('li', { class: 'empty', text: 'No rooms yet: create one or open a direct chat.' })); return; }
  list.replaceChildren(...rooms.map((r) => h('li', {
    class: r.id === S.current ? 'active' : null, 'data-testid': 'room-item', dataset: { roomId: r.id, kind: r.kind },
  }, roomButton(r, { active: r.id === S.current, onclick: () => openRoom(r.id) }))));
  // A list rebuilt under the keyboard keeps its focus on the same room.
  if (hadFocus != null) list.querySelector(`li[data-room-id="${hadFocus}"] button`)?.focus({ preventScroll: true });
}

function putRoom(room, { keepUnread = false } = {}) {
  if (!room || room.id == null) return;
  const old = S.rooms.get(room.id);
  const merged = { ...old, ...room };
  if (keepUnread && old) merged.unread_count = old.unread_count;
  // Never step back to an older last message.
  if (old && old.last_message && (!room.last_message || room.last_message.id < old.last_message.id)) merged.last_message = old.last_message;
  S.rooms.set(room.id, merged);
}

async function loadRooms() {
  try {
    const { rooms = [] } = await client.getRoomList();
    S.rooms.clear();
    for (const r of rooms) S.rooms.set(r.id, r);
    if (S.current != null && !S.rooms.has(S.current)) closeRoom();
    for (const r of rooms) notePerson(r.last_message && r.last_message.sender);
    renderRooms();
    renderRoomHeader();
    restoreRoom();
    // Bulk messages name their rooms.
    for (const t of S.tasks.values()) if (t.kind === 'bulk_message') upsertTask({ id: t.id });
  } catch (err) {
    if (client.isSignedIn) toastError(err, 'Could not load rooms');
  }
}

async function fetchRoom(id) {
  if (S.fetchingRooms.has(id)) return;
  S.fetchingRooms.add(id);
  try {
    const { room } = await client.getRoom(id);
    putRoom(room);
    renderRooms();
  } catch { /* not visible to us */ } finally {
    S.fetchingRooms.delete(id);
  }
}

/** Re-read a room (member count, name) after a membership change; unread stays as counted here. */
async function refreshRoom(id) {
  try {
    const { room } = await client.getRoom(id);
    putRoom(room, { keepUnread: S.rooms.has(id) });
    renderRooms();
    if (id === S.current) renderRoomHeader();
  } catch { /* not visible to us (any more) */ }
}

function renderRoomHeader() {
  const r = S.current != null ? S.rooms.get(S.current) : null;
  $('room-title').textContent = r ? roomName(r) : 'Pick a room';
  $('room-meta').textContent = r
    ? [r.kind, r.is_public ? 'public' : null, r.member_count != null ? `${r.member_count} member${r.member_count === 1 ? '' : 's'}` : null].filter(Boolean).join(' · ')
    : 'Choose a room on the left, or start one.';
  const on = !!r;
  for (const id of ['leave-room-btn', 'add-member-username', 'add-member-btn', 'message-input', 'send-btn']) $(id).disabled = !on;
  $('add-member-form').hidden = !r || r.kind !== 'group';
}

function closeRoom() {
  if (S.current != null) saveDraft(S.current);
  S.current = null;
  window.hearthPeople?.roomOpened(null);
  ui.set('room', null);
  $('message-input').value = '';
  $('messages').replaceChildren();
  $('typing').textContent = '';
  $('load-older-btn').hidden = true;
  renderRoomHeader();
  setView('list');
}

/** Narrow screens show the room list or the conversation (`data-view`); wide ones show both. */
const narrow = () => window.matchMedia('(max-width: 719px)').matches;

function setView(view) {
  const app = $('app-view');
  if (app.dataset.view === view) return;
  app.dataset.view = view;
  ui.set('view', view === 'chat' ? null : view);
  if (narrow()) window.scrollTo(0, 0);
  positionToastsSoon();
}

/** Back to the room list (narrow screens): focus goes to the room one came from. */
function backToRooms() {
  setView('list');
  const btn = $('room-list').querySelector(`li[data-room-id="${Number(S.current)}"] button`) || $('room-list').querySelector('button');
  if (btn) { btn.focus({ preventScroll: true }); btn.scrollIntoView({ block: 'nearest' }); }
}

/** The draft of a room: what its message box holds, kept across reloads. */
function saveDraft(roomId = S.current) {
  if (roomId == null) return;
  ui.set(`draft.${roomId}`, $('message-input').value);
}

/** After a sign-in (or a reload), the room that was open opens again. */
function restoreRoom() {
  if (!S.restoreRoom) return;
  S.restoreRoom = false;
  const id = Number(ui.get('room'));
  if (S.current != null || !id || !S.rooms.has(id)) return;
  const view = ui.get('view') || 'chat';
  openRoom(id, { focus: false });
  setView(view);
}

async function openRoom(id, { focus = true } = {}) {
  if (S.typingActive) stopTyping();
  // Once the messages are in, focus goes to the message box, unless one started typing elsewhere meanwhile.
  const focusBefore = document.activeElement;
  if (S.current !== id) {
    if (S.current != null) saveDraft(S.current);
    $('message-input').value = ui.get(`draft.${id}`) || '';
  }
  S.current = id;
  ui.set('room', id);
  setView('chat');
  S.msgs.set(id, new Map());
  const room = S.rooms.get(id);
  window.hearthPeople?.roomOpened(id, room); // people.js: members, presence, where the unread messages begin
  if (room) room.unread_count = 0;
  renderRooms();
  renderRoomHeader();
  $('messages').replaceChildren(h('li', { class: 'muted small-text', text: 'Loading…' }));
  $('load-older-btn').hidden = true;
  renderTyping();
  try {
    const r = await client.getMessages(id, { limit: 50 });
    if (S.current !== id) return;
    const map = S.msgs.get(id);
    for (const m of r.messages) map.set(m.id, m);
    S.hasOlder.set(id, !!r.has_more);
    renderMessages();
    scrollToBottom(true);
    markReadSoon(0);
  } catch (err) {
    if (S.current === id) $('messages').replaceChildren();
    toastError(err, 'Could not open the room');
  }
  const now = document.activeElement;
  const typingElsewhere = now && now !== focusBefore && now !== $('message-input') && now.matches('input, textarea, select');
  if (S.current === id && focus && !typingElsewhere) $('message-input').focus({ preventScroll: true });
}

// ------------------------------------------------------------------ messages

/** Links (http and https) and @mentions in a text, as DOM nodes: the text itself only ever becomes text nodes. */
const TOKENS = /https?:\/\/[^\s<>"]+|@[A-Za-z0-9_.-]+/gi;
function richText(value) {
  const text = String(value);
  const frag = document.createDocumentFragment();
  const me = S.user ? S.user.username.toLowerCase() : null;
  let last = 0;
  for (const m of text.matchAll(TOKENS)) {
    const start = m.index;
    const prev = start > 0 ? text[start - 1] : '';
    if (prev && /[\p{L}\p{N}_]/u.test(prev)) continue; // inside a word (an e-mail address, "xhttp://")
    let token = m[0];
    let node = null;
    if (token[0] === '@') {
      // The server's rule: 3–32 username characters after @ at a word start, trailing . and - not part of it.
      const name = token.slice(1).replace(/[.-]+$/, '');
      if (name.length < 3 || name.length > 32) continue;
      token = `@${name}`;
      node = h('span', { class: `mention${me && name.toLowerCase() === me ? ' me' : ''}`, text: token });
    } else {
      // Punctuation after a link ends the sentence, not the link; a ")" closes one only when the link opened it.
      while (/[.,;:!?'"\])}]$/.test(token)) {
        const ch = token[token.length - 1];
        if (ch === ')' && token.split('(').length > token.split(')').length - 1) break;
        token = token.slice(0, -1);
      }
      let url = null;
      try { url = new URL(token); } catch { /* not a link */ }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) continue;
      node = h('a', { href: token, target: '_blank', rel: 'noopener noreferrer nofollow', text: token });
    }
    if (start > last) frag.append(text.slice(last, start));
    frag.append(node);
    last = start + token.length;
  }
  if (last < text.length) frag.append(text.slice(last));
  return frag;
}

/** Remembers someone's name (suggestions for the people of a bulk message). */
function notePerson(u) {
  if (!u || !u.username || u.username.startsWith('~') || (S.user && u.id === S.user.id)) return;
  if (S.people.get(u.username) === u.display_name) return;
  S.people.set(u.username, u.display_name || u.username);
  renderPeopleSuggestions();
}

function messageItem(m, { onEdit, onDelete, nameOf = (x) => (isMine(x) ? 'You' : userName(x.sender)), isOwn = isMine } = {}) {
  const own = isOwn(m);
  const li = h('li', {
    class: `msg${own ? ' own' : ''}${m.deleted ? ' deleted' : ''}`, 'data-testid': 'message', dataset: { messageId: m.id },
  },
  h('div', { class: 'meta' },
    h('span', { class: 'sender', text: nameOf(m) }),
    timeEl(m.created_at),
    m.edited_at && !m.deleted ? h('span', { class: 'edited', title: new Date(m.edited_at).toLocaleString(), text: '(edited)' }) : null),
  h('div', { class: 'content' }, m.deleted ? '' : richText(m.content || '')),
  m.deleted ? h('div', { class: 'deleted-note', text: 'Message deleted' }) : null,
  own && isMine(m) && !m.deleted && (onEdit || onDelete) ? h('div', { class: 'actions' },
    onEdit ? h('button', { type: 'button', class: 'edit-btn', 'data-testid': 'edit-message', text: 'Edit', onclick: () => onEdit(li, m) }) : null,
    onDelete ? h('button', { type: 'button', class: 'delete-btn', 'data-testid': 'delete-message', text: 'Delete', onclick: () => onDelete(m) }) : null)
    : null);
  return li;
}

/** Insert or replace li[data-message-id] in a list kept in id order. */
function upsertInto(list, m, make) {
  const existing = list.querySelector(`li[data-message-id="${Number(m.id)}"]`);
  if (existing && existing.classList.contains('editing') && !m.deleted) return existing;
  const li = make(m);
  if (existing) { existing.replaceWith(li); return li; }
  for (const el of list.querySelectorAll('li[data-message-id]')) {
    if (Number(el.dataset.messageId) > m.id) { list.insertBefore(li, el); return li; }
  }
  list.append(li);
  return li;
}

const chatItem = (m) => messageItem(m, { onEdit: startEdit, onDelete: deleteMessage });

function systemItem(ev) {
  return h('li', { class: 'system', 'data-testid': 'system-line', dataset: { after: ev.after } }, h('span', { text: ev.text }), ' ', timeEl(ev.at));
}

function renderMessages() {
  const map = S.msgs.get(S.current) || new Map();
  const list = $('messages');
  const msgs = [...map.values()].sort((a, b) => a.id - b.id);
  // Joins and leaves seen live go after the newest message known when they happened.
  const events = [...(S.events.get(S.current) || [])];
  const items = [];
  for (const m of msgs) {
    while (events.length && events[0].after < m.id) items.push(systemItem(events.shift()));
    items.push(chatItem(m));
  }
  items.push(...events.map(systemItem));
  list.replaceChildren(...items);
  if (!msgs.length && !items.length) list.append(h('li', { class: 'muted small-text empty', text: 'No messages yet. Say hello!' }));
  $('load-older-btn').hidden = !S.hasOlder.get(S.current);
  renderPending();
}

/** "Bob joined" / "Bob left" in the open conversation. */
function addSystemLine(roomId, text) {
  if (roomId !== S.current) return;
  const map = S.msgs.get(roomId);
  const ev = { after: map && map.size ? Math.max(...map.keys()) : 0, text, at: new Date().toISOString() };
  if (!S.events.has(roomId)) S.events.set(roomId, []);
  S.events.get(roomId).push(ev);
  const list = $('messages');
  const stick = nearBottom(list);
  const empty = list.querySelector('li.empty');
  if (empty) empty.remove();
  list.append(systemItem(ev));
  renderPending();
  if (stick) scrollToBottom(true);
}

function nearBottom(list) { return list.scrollHeight - list.scrollTop - list.clientHeight < 80; }
function scrollToBottom(force = false, list = $('messages')) { if (force || nearBottom(list)) list.scrollTop = list.scrollHeight; }

function showMessage(m) {
  notePerson(m.sender);
  const map = S.msgs.get(m.room_id);
  if (!map || m.room_id !== S.current) return;
  map.set(m.id, m);
  const list = $('messages');
  const stick = nearBottom(list) || isMine(m);
  const empty = list.querySelector('li.empty');
  if (empty) empty.remove();
  upsertInto(list, m, chatItem);
  renderPending();
  if (stick) scrollToBottom(true);
}

// ------------------------------------------------------------------ unsent messages (the client's outbox)

function pendingItem(e) {
  const failed = e.status === 'failed';
  const note = failed ? `Not sent: ${describe(e.error)}` : e.status === 'sending' ? 'Sending…' : 'Not sent yet: waiting for the connection';
  return h('li', {
    class: `msg own pending${failed ? ' failed' : ''}`, 'data-testid': 'pending-message', dataset: { clientId: e.client_id, status: e.status },
  },
  h('div', { class: 'meta' }, h('span', { class: 'sender', text: 'You' }), h('span', { class: 'pending-note', text: note })),
  h('div', { class: 'content', text: e.content }),
  failed ? h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'retry-btn small', 'data-testid': 'retry-message', text: 'Retry', onclick: () => retryUnsent(e.client_id) }),
    h('button', { type: 'button', class: 'discard-btn secondary small', 'data-testid': 'discard-message', text: 'Discard', onclick: () => client.discardOutbox(e.client_id) }))
    : null);
}

/** The open room's unsent messages, always last in the list. */
function renderPending() {
  const list = $('messages');
  for (const el of list.querySelectorAll('li.pending')) el.remove();
  const shown = S.msgs.get(S.current);
  const sent = new Set(shown ? [...shown.values()].map((m) => m.client_id).filter(Boolean) : []);
  const entries = S.current == null ? [] : client.outbox.filter((e) => e.room_id === S.current && !sent.has(e.client_id));
  if (!entries.length) return;
  const empty = list.querySelector('li.empty');
  if (empty) empty.remove();
  const stick = nearBottom(list);
  list.append(...entries.map(pendingItem));
  if (stick) scrollToBottom(true);
}

async function retryUnsent(clientId) {
  try {
    const r = await client.retryOutbox(clientId);
    if (r.message) onChatMessage(r.message);
  } catch (err) {
    if (err.code !== 'aborted') toastError(err, 'Still not sent');
  }
}

client.on('outbox', (entries) => {
  renderPending();
  // "Not sent yet" under the box is stale once nothing waits any more.
  if ($('send-status').dataset.method === 'queued' && !entries.some((e) => e.status !== 'failed')) setSendStatus('', '');
});
client.on('outbox_sent', ({ message }) => { if (message) onChatMessage(message); });
client.on('outbox_failed', ({ entry, error }) => {
  const room = S.rooms.get(entry.room_id);
  toast({ title: `A message${room ? ` to ${roomName(room)}` : ''} could not be sent`, body: describe(error), kind: 'error',
    actions: entry.room_id !== S.current && room ? [{ label: 'Open', run: () => openRoom(entry.room_id) }] : [] });
});

function onChatMessage(m) {
  if (!m || m.room_id == null) return;
  const room = S.rooms.get(m.room_id);
  if (!room) {
    fetchRoom(m.room_id);
  } else {
    const prevLast = room.last_message ? room.last_message.id : 0;
    if (m.id > prevLast) {
      room.last_message = { id: m.id, content: m.content, sender: m.sender, created_at: m.created_at, deleted: m.deleted };
      const viewing = m.room_id === S.current && isVisible();
      if (!isMine(m) && !viewing && !m.deleted) room.unread_count = (room.unread_count || 0) + 1;
    }
    renderRooms();
  }
  if (m.sender) clearTyping(m.room_id, m.sender.id);
  if (m.room_id === S.current) { showMessage(m); markReadSoon(); }
}

function onMessageUpdated(m) {
  if (!m) return;
  const room = S.rooms.get(m.room_id);
  if (room && room.last_message && room.last_message.id === m.id) {
    room.last_message = { ...room.last_message, content: m.content, deleted: m.deleted };
    renderRooms();
  }
  if (m.room_id === S.current) showMessage(m);
}

function onMessageDeleted({ room_id, message_id }) {
  const map = S.msgs.get(room_id);
  const old = map && map.get(message_id);
  if (old) showMessage({ ...old, content: '', deleted: true });
  const room = S.rooms.get(room_id);
  if (room && room.last_message && room.last_message.id === message_id) {
    room.last_message = { ...room.last_message, content: '', deleted: true };
    renderRooms();
  }
}

async function loadOlder() {
  const room = S.current;
  const map = S.msgs.get(room);
  if (room == null || !map || !map.size) return;
  const btn = $('load-older-btn');
  btn.disabled = true;
  const list = $('messages');
  const prevHeight = list.scrollHeight;
  const prevTop = list.scrollTop;
  try {
    const r = await client.getMessages(room, { before: Math.min(...map.keys()), limit: 50 });
    if (S.current !== room) return;
    for (const m of r.messages) map.set(m.id, m);
    S.hasOlder.set(room, !!r.has_more);
    renderMessages();
    list.scrollTop = prevTop + (list.scrollHeight - prevHeight);
  } catch (err) {
    toastError(err, 'Could not load older messages');
  } finally {
    btn.disabled = false;
  }
}

/** After a reconnect: the newest page again, so edits and deletions made meanwhile show. */
async function refreshCurrentRoom() {
  const room = S.current;
  if (room == null) return;
  try {
    const r = await client.getMessages(room, { limit: 50 });
    if (S.current !== room) return;
    const map = S.msgs.get(room);
    for (const m of r.messages) map.set(m.id, m);
    const list = $('messages');
    const stick = nearBottom(list);
    renderMessages();
    if (stick) scrollToBottom(true);
    markReadSoon();
  } catch { /* shown on the next try */ }
}

function setSendStatus(text, method) {
  const el = $('send-status');
  el.textContent = text;
  el.dataset.method = method || '';
}

async function sendCurrent() {
  const input = $('message-input');
  const content = input.value;
  const room = S.current;
  if (room == null || !content.trim()) return;
  input.value = '';
  stopTyping();
  setSendStatus('Sending…', '');
  try {
    // Through the outbox: what cannot go now is kept (also across a reload) and sent when the connection is back.
    const r = await client.sendMessage(room, content, { queue: true });
    if (r.queued) {
      setSendStatus('Not sent yet: it will be sent when the connection is back', 'queued');
      return;
    }
    setSendStatus('', r.method);
    if (r.message) onChatMessage(r.message);
  } catch (err) {
    if (!input.value) input.value = content;
    setSendStatus(`Not sent: ${describe(err)}`, 'error');
  }
}

const IS_MAC = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || '');

/** Edits one of my messages in a textarea that keeps the text as it is: Ctrl/Cmd+Enter saves, Escape cancels. */
function startEdit(li, m) {
  if (li.classList.contains('editing')) return;
  li.classList.add('editing');
  const hintId = `edit-hint-${m.id}`;
  const lines = (t) => Math.min(12, Math.max(2, t.split('\n').length));
  const input = h('textarea', {
    class: 'edit-input', 'data-testid': 'edit-input', 'aria-label': 'Edit message', 'aria-describedby': hintId,
    rows: lines(m.content),
  });
  input.value = m.content;
  input.addEventListener('input', () => { input.rows = lines(input.value); });
  const finish = () => {
    li.classList.remove('editing');
    const cur = (S.msgs.get(m.room_id) && S.msgs.get(m.room_id).get(m.id)) || m;
    const fresh = chatItem(cur);
    const hadFocus = li.contains(document.activeElement);
    if (li.isConnected) li.replaceWith(fresh);
    if (hadFocus) (fresh.querySelector('.edit-btn') || $('message-input')).focus({ preventScroll: true });
  };
  const save = async () => {
    const content = input.value;
    if (content === m.content) { finish(); return; }
    saveBtn.disabled = true;
    try {
      const r = await client.editMessage(m.id, content);
      if (r.message) {
        const map = S.msgs.get(r.message.room_id);
        if (map) map.set(r.message.id, r.message);
        onMessageUpdated(r.message);
      }
      finish();
    } catch (err) {
      saveBtn.disabled = false;
      toastError(err, 'Could not edit');
    }
  };
  const saveBtn = h('button', { type: 'button', class: 'save-edit-btn small', 'data-testid': 'save-edit', text: 'Save', onclick: save });
  const row = h('div', { class: 'edit-row' }, input,
    h('div', { class: 'edit-buttons' },
      saveBtn,
      h('button', { type: 'button', class: 'cancel-edit-btn secondary small', 'data-testid': 'cancel-edit', text: 'Cancel', onclick: finish }),
      h('span', { id: hintId, class: 'edit-hint muted', text: `${IS_MAC ? '⌘' : 'Ctrl'}+Enter saves · Esc cancels` })));
  input.addEventListener('keydown', (ev) => {
    if (ev.isComposing) return;
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); save(); }
    if (ev.key === 'Escape') { ev.preventDefault(); finish(); }
  });
  li.querySelector('.content').replaceWith(row);
  const actions = li.querySelector('.actions');
  if (actions) actions.hidden = true;
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
}

/** Asks before something that cannot be undone (a modal dialog; Escape or Cancel says no). */
function confirmAction(text, okLabel = 'OK') {
  const dlg = $('confirm-dialog');
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okLabel;
  dlg.returnValue = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.showModal();
  });
}

async function deleteMessage(m) {
  if (!await confirmAction('Delete this message? Everyone in the room will see it as deleted.', 'Delete')) return;
  try {
    await client.deleteMessage(m.id);
    onMessageDeleted({ room_id: m.room_id, message_id: m.id });
  } catch (err) {
    toastError(err, 'Could not delete');
  }
}

function markReadSoon(delay = 300) {
  clearTimeout(S.markTimer);
  S.markTimer = setTimeout(markRead, delay);
}

async function markRead() {
  const room = S.current;
  const map = S.msgs.get(room);
  if (room == null || !map || !map.size || !isVisible()) return;
  const last = Math.max(...map.keys());
  if (last <= (S.lastMarked.get(room) || 0)) return;
  S.lastMarked.set(room, last);
  try {
    const r = await client.markRead(room, last);
    const rr = S.rooms.get(room);
    if (rr) { rr.unread_count = typeof r.unread_count === 'number' ? r.unread_count : 0; renderRooms(); }
  } catch {
    S.lastMarked.delete(room);
  }
}

// ------------------------------------------------------------------ typing

function onInputTyping() {
  const room = S.current;
  if (room == null) return;
  const now = Date.now();
  if (!S.typingActive || now - S.typingSentAt > 3000) {
    S.typingActive = true;
    S.typingSentAt = now;
    S.typingRoom = room;
    client.typing(room, true).catch(() => {});
  }
  clearTimeout(S.typingStopTimer);
  S.typingStopTimer = setTimeout(stopTyping, 4000);
}

function stopTyping() {
  clearTimeout(S.typingStopTimer);
  if (!S.typingActive) return;
  S.typingActive = false;
  client.typing(S.typingRoom, false).catch(() => {});
}

function clearTyping(roomId, userId) {
  const map = S.typing.get(roomId);
  if (map && map.delete(userId) && roomId === S.current) renderTyping();
}

function onTyping({ room_id, user, is_typing }) {
  if (!user || (S.user && user.id === S.user.id)) return;
  let map = S.typing.get(room_id);
  if (!map) S.typing.set(room_id, (map = new Map()));
  if (is_typing) map.set(user.id, { name: userName(user), until: Date.now() + 6000 });
  else map.delete(user.id);
  if (room_id === S.current) renderTyping();
}

function renderTyping() {
  const map = S.typing.get(S.current);
  const now = Date.now();
  const names = [];
  if (map) for (const [id, t] of map) { if (t.until < now) map.delete(id); else names.push(t.name); }
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = `${names.length} people are typing…`;
  $('typing').textContent = text;
}
setInterval(() => { if (S.typing.size) renderTyping(); }, 1000);

// ------------------------------------------------------------------ room actions

async function withButton(btn, fn) {
  btn.disabled = true;
  try { return await fn(); } finally { btn.disabled = false; }
}

async function createRoom() {
  const name = $('new-room-name').value.trim();
  const members = splitList($('new-room-members').value);
  const isPublic = $('new-room-public').checked;
  await withButton($('create-room-btn'), async () => {
    try {
      const { room } = await client.createRoom({ name, is_public: isPublic, members });
      $('new-room-name').value = '';
      $('new-room-members').value = '';
      $('new-room-public').checked = false;
      putRoom(room);
      renderRooms();
      openRoom(room.id);
    } catch (err) {
      toastError(err, 'Could not create the room');
    }
  });
}

async function openDirect() {
  const username = $('direct-username').value.trim();
  if (!username) return;
  await withButton($('open-direct-btn'), async () => {
    try {
      const { room } = await client.openDirect(username);
      $('direct-username').value = '';
      putRoom(room);
      renderRooms();
      openRoom(room.id);
    } catch (err) {
      toastError(err, 'Could not open the direct chat');
    }
  });
}

async function browsePublic() {
  await withButton($('browse-public-btn'), async () => {
    try {
      const { rooms = [] } = await client.getPublicRooms({ query: $('public-query').value.trim() || undefined, limit: 20 });
      const list = $('public-rooms');
      if (!rooms.length) { list.replaceChildren(h('li', { class: 'muted small-text', text: 'No public rooms found.' })); return; }
      list.replaceChildren(...rooms.map((r) => {
        const member = S.rooms.has(r.id);
        return h('li', { dataset: { roomId: r.id }, 'data-testid': 'public-room' },
          h('span', { class: 'name', text: roomName(r), title: roomName(r) }),
          r.member_count != null ? h('span', { class: 'member-count muted small-text', text: `${r.member_count} member${r.member_count === 1 ? '' : 's'}` }) : null,
          member
            ? h('button', { type: 'button', class: 'open-btn secondary small', text: 'Open', onclick: () => openRoom(r.id) })
            : h('button', { type: 'button', class: 'join-btn small', 'data-testid': 'join-room', text: 'Join', onclick: (ev) => joinRoom(r.id, ev.currentTarget) }));
      }));
    } catch (err) {
      toastError(err, 'Could not list public rooms');
    }
  });
}

async function joinRoom(id, btn) {
  await withButton(btn, async () => {
    try {
      const { room } = await client.joinRoom(id);
      putRoom(room || { id });
      renderRooms();
      if (!room) fetchRoom(id);
      const li = btn.closest('li');
      btn.replaceWith(h('button', { type: 'button', class: 'open-btn secondary small', text: 'Open', onclick: () => openRoom(id) }));
      if (li) li.dataset.joined = 'true';
      openRoom(id);
    } catch (err) {
      toastError(err, 'Could not join');
    }
  });
}

async function leaveRoom() {
  const id = S.current;
  if (id == null) return;
  const room = S.rooms.get(id);
  const again = room && room.is_public ? 'You can join it again from the public rooms.' : 'To come back, a member has to add you again.';
  if (!await confirmAction(`Leave “${roomName(room)}”? ${again}`, 'Leave')) return;
  if (S.current !== id) return;
  await withButton($('leave-room-btn'), async () => {
    try {
      await client.leaveRoom(id);
      S.rooms.delete(id);
      ui.set(`draft.${id}`, null);
      closeRoom();
      renderRooms();
    } catch (err) {
      toastError(err, 'Could not leave');
    }
  });
}

async function addMember() {
  const username = $('add-member-username').value.trim();
  const id = S.current;
  if (!username || id == null) return;
  await withButton($('add-member-btn'), async () => {
    try {
      const r = await client.addMember(id, username);
      $('add-member-username').value = '';
      toast({ title: 'Member added', body: r.user ? userName(r.user) : username });
      refreshRoom(id);
    } catch (err) {
      toastError(err, 'Could not add the member');
    }
  });
}

// chat socket events (forwarded by the client, pushes de-duplicated by message id)
client.on('message', (f) => onChatMessage(f.message));
client.on('message_updated', (f) => onMessageUpdated(f.message));
client.on('message_deleted', (f) => onMessageDeleted(f));
client.on('room_updated', (f) => { putRoom(f.room, { keepUnread: true }); renderRooms(); if (f.room && f.room.id === S.current) renderRoomHeader(); });
client.on('member_joined', ({ room_id, user }) => {
  refreshRoom(room_id);
  if (user && !(S.user && user.id === S.user.id)) { notePerson(user); addSystemLine(room_id, `${userName(user)} joined`); }
});
client.on('member_left', ({ room_id, user }) => {
  if (S.user && user && user.id === S.user.id) {
    S.rooms.delete(room_id);
    if (room_id === S.current) closeRoom();
    renderRooms();
    return;
  }
  if (S.rooms.has(room_id)) refreshRoom(room_id);
  if (user) { clearTyping(room_id, user.id); addSystemLine(room_id, `${userName(user)} left`); }
});
client.on('typing', onTyping);
client.on('read_receipt', ({ room_id, user_id, last_read_message_id }) => {
  if (!S.user || user_id !== S.user.id) return; // my own other tab read it
  const room = S.rooms.get(room_id);
  if (room && room.last_message && last_read_message_id >= room.last_message.id) { room.unread_count = 0; renderRooms(); }
});
client.chat.on('connected', () => {
  S.chatConnections++;
  loadRooms();
  if (S.chatConnections > 1) refreshCurrentRoom();
});

// ------------------------------------------------------------------ tasks

const KIND_LABEL = { generate_numbers: 'Generate numbers', validate_numbers: 'Validate numbers', bulk_message: 'Bulk message' };
const NUMBER_KINDS = new Set(['generate_numbers', 'validate_numbers']);
const ACTIVE = new Set(['queued', 'running']);

function showTaskFields() {
  const kind = $('task-kind').value;
  for (const k of Object.keys(KIND_LABEL)) $(`task-fields-${k}`).hidden = k !== kind;
}

function taskParams(kind) {
  if (kind === 'generate_numbers') {
    return { area_code: $('task-area-code').value.trim(), quantity: Number($('task-quantity').value) };
  }
  if (kind === 'validate_numbers') {
    const numbers = $('task-numbers').value.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
    if (!numbers.length) throw new Error('Enter at least one number, one per line.');
    return { numbers };
  }
  const params = { content: $('task-content').value };
  if (!params.content.trim()) throw new Error('Enter the message to send.');
  // A name typed but not added yet counts too.
  addPeople($('task-people').value);
  const roomIds = [...S.bulkRooms].filter((id) => S.rooms.has(id));
  const usernames = [...S.bulkPeople];
  if (roomIds.length) params.room_ids = roomIds;
  if (usernames.length) params.usernames = usernames;
  if (!roomIds.length && !usernames.length) throw new Error('Pick at least one room or add a person.');
  return params;
}

// The bulk message's targets: rooms ticked in a list of one's rooms, people added by username.

function renderBulkRooms() {
  const list = $('task-rooms-list');
  const rooms = [...S.rooms.values()].filter((r) => r.kind !== 'support')
    .sort((a, b) => roomName(a).localeCompare(roomName(b)) || a.id - b.id);
  for (const id of [...S.bulkRooms]) if (!S.rooms.has(id)) S.bulkRooms.delete(id);
  if (!rooms.length) { list.replaceChildren(h('li', { class: 'muted small-text', text: 'You are in no rooms yet.' })); return; }
  list.replaceChildren(...rooms.map((r) => {
    const box = h('input', {
      type: 'checkbox', dataset: { roomId: r.id }, checked: S.bulkRooms.has(r.id),
      onchange: (ev) => { if (ev.currentTarget.checked) S.bulkRooms.add(r.id); else S.bulkRooms.delete(r.id); },
    });
    return h('li', {}, h('label', { class: 'check' }, box, h('span', { class: 'name', text: roomName(r) }),
      r.kind === 'direct' ? h('span', { class: 'kind-tag', text: 'direct' }) : null));
  }));
}

function renderBulkPeople() {
  const list = $('task-people-list');
  list.replaceChildren(...S.bulkPeople.map((name) => {
    const shown = S.people.get(name);
    return h('li', { dataset: { username: name } },
      h('span', { text: shown && shown !== name ? `${shown} (@${name})` : `@${name}` }),
      h('button', {
        type: 'button', class: 'chip-remove', 'aria-label': `Remove ${name}`, text: '×',
        onclick: () => { S.bulkPeople = S.bulkPeople.filter((n) => n !== name); renderBulkPeople(); $('task-people').focus(); },
      }));
  }));
}

function renderPeopleSuggestions() {
  const names = [...S.people.entries()].sort((a, b) => a[1].localeCompare(b[1]));
  $('task-people-suggest').replaceChildren(...names.map(([username, display]) => h('option', { value: username, label: display })));
}

function renderBulkPickers() { renderBulkRooms(); renderBulkPeople(); renderPeopleSuggestions(); }

/** Adds the usernames typed (commas or spaces between several; a leading @ is fine). */
function addPeople(text) {
  const names = splitList(text).map((n) => n.replace(/^@/, '')).filter(Boolean);
  for (const n of names) if (!S.bulkPeople.some((x) => x.toLowerCase() === n.toLowerCase())) S.bulkPeople.push(n);
  $('task-people').value = '';
  if (names.length) renderBulkPeople();
}

async function startTask() {
  const kind = $('task-kind').value;
  const errEl = $('task-error');
  errEl.textContent = '';
  let params;
  try { params = taskParams(kind); } catch (err) { errEl.textContent = err.message; return; }
  await withButton($('start-task-btn'), async () => {
    try {
      const { task } = await client.startTask(kind, params);
      upsertTask(task);
    } catch (err) {
      errEl.textContent = describe(err);
    }
  });
}

function paramsSummary(t) {
  const p = t.params || {};
  if (t.kind === 'generate_numbers') return `area code ${p.area_code}, ${p.quantity} numbers`;
  if (t.kind === 'validate_numbers') return `${Array.isArray(p.numbers) ? p.numbers.length : '?'} numbers`;
  if (t.kind === 'bulk_message') {
    const parts = [];
    if (p.room_ids && p.room_ids.length) parts.push(`${p.room_ids.length === 1 ? 'room' : 'rooms'} ${p.room_ids.map((id) => (S.rooms.has(id) ? roomName(S.rooms.get(id)) : `#${id}`)).join(', ')}`);
    if (p.usernames && p.usernames.length) parts.push(p.usernames.map((u) => `@${u}`).join(', '));
    return `“${String(p.content || '').slice(0, 40)}” → ${parts.join('; ') || 'nobody'}`;
  }
  return '';
}

function progressText(t) {
  const pct = Math.round(t.progress || 0);
  if (t.total != null) return `${pct}% (${t.processed ?? 0} / ${t.total})`;
  return `${pct}%`;
}

/** Number types of validate_numbers rows (libphonenumber's), in the contract's order. */
const TYPE_LABEL = {
  mobile: 'Mobile', fixed_line: 'Landline', fixed_line_or_mobile: 'Landline or mobile', toll_free: 'Toll-free',
  premium_rate: 'Premium rate', shared_cost: 'Shared cost', voip: 'VoIP', personal_number: 'Personal number',
  pager: 'Pager', uan: 'UAN', voicemail: 'Voicemail', unknown: 'Unknown type',
};
const typeLabel = (t) => TYPE_LABEL[t] || t;
/** Most result rows the page shows (the downloads have them all). */
const SHOWN_ROWS = 200;

function summaryText(s) {
  if (s == null) return '';
  if (typeof s !== 'object') return String(s);
  // Counts first, the breakdown by type after them.
  const entries = Object.entries(s).sort(([a], [b]) => (a === 'by_type') - (b === 'by_type'));
  return entries.map(([k, v]) => {
    if (k === 'by_type' && v && typeof v === 'object') {
      const parts = Object.entries(v).map(([t, n]) => `${typeLabel(t)} ${n}`);
      return parts.length ? `by type: ${parts.join(', ')}` : null;
    }
    return `${k.replace(/_/g, ' ')}: ${typeof v === 'object' ? JSON.stringify(v) : v}`;
  }).filter(Boolean).join(', ');
}

/** The number types present in a finished validate_numbers task, with their counts. */
function taskTypes(t) {
  const byType = t.kind === 'validate_numbers' && t.result_summary && t.result_summary.by_type;
  return byType && typeof byType === 'object' ? Object.entries(byType).filter(([k]) => k in TYPE_LABEL) : [];
}

/** The type filter, the "show results" button and the shown rows of a finished validate_numbers task. */
function typeControls(t) {
  const types = taskTypes(t);
  if (!types.length) return [];
  const select = h('select', {
    class: 'type-filter', 'data-testid': 'type-filter', 'aria-label': `Task ${t.id}: number type`,
    onchange: (ev) => {
      const cur = S.tasks.get(t.id) || t;
      cur._type = ev.currentTarget.value || null;
      if (cur._rows) showResults(cur);
    },
  }, h('option', { value: '', text: 'All types' }),
  types.map(([k, n]) => h('option', { value: k, text: `${typeLabel(k)} (${n})`, selected: t._type === k })));
  const show = h('button', {
    type: 'button', class: 'show-results secondary small', 'data-testid': 'show-results', text: 'Show results',
    onclick: (ev) => withButton(ev.currentTarget, () => showResults(S.tasks.get(t.id) || t)),
  });
  return [select, show];
}

function resultsTable(t) {
  if (!t._rows) return null;
  const { rows, total } = t._rows;
  const head = h('tr', {}, ['Input', 'E.164', 'Type', 'Region', 'Reason'].map((c) => h('th', { text: c })));
  const body = rows.map((r) => h('tr', { dataset: { type: r.type || '', valid: String(!!r.valid) } },
    h('td', { class: 'input', text: r.input }), h('td', { class: 'e164', text: r.e164 || '' }),
    h('td', { class: 'type', text: r.type ? typeLabel(r.type) : '' }), h('td', { class: 'region', text: r.region || '' }),
    h('td', { class: 'reason', text: r.reason || '' })));
  const note = total > rows.length ? `First ${rows.length} of ${total} rows; download for all.` : `${total} row${total === 1 ? '' : 's'}.`;
  return h('div', { class: 'task-results', 'data-testid': 'task-results' },
    h('table', {}, h('thead', {}, head), h('tbody', {}, body)), h('div', { class: 'results-note', text: note }));
}

async function showResults(t) {
  try {
    const { results = [] } = await client.fetchTaskResult(t.id, { type: t._type || undefined });
    upsertTask({ id: t.id, _rows: { rows: results.slice(0, SHOWN_ROWS), total: results.length } });
  } catch (err) {
    toastError(err, 'Could not load results');
  }
}

/** A bulk message's target as the result names it ("room 12", "user bob"), readable. */
function targetLabel(target) {
  const m = /^(room|user) (.+)$/.exec(String(target));
  if (!m) return String(target);
  if (m[1] === 'user') return `@${m[2]}`;
  const room = S.rooms.get(Number(m[2]));
  return room ? `${roomName(room)} (room #${m[2]})` : `room #${m[2]}`;
}

/** Where a finished bulk message could not be posted, and why (from GET /api/tasks/{id}/result). */
function failuresList(t) {
  if (!Array.isArray(t._failures) || !t._failures.length) return null;
  return h('div', { class: 'task-failures', 'data-testid': 'task-failures' },
    h('div', { class: 'failures-head', text: `Not sent to ${t._failures.length} target${t._failures.length === 1 ? '' : 's'}:` }),
    h('ul', {}, t._failures.map((f) => h('li', { dataset: { target: f.target, code: f.code } },
      h('span', { class: 'target', text: targetLabel(f.target) }), ': ',
      h('span', { class: 'reason', text: f.reason || f.code || 'failed' })))));
}

function wantsFailures(t) {
  const s = t.result_summary;
  return t.kind === 'bulk_message' && !ACTIVE.has(t.status) && s && typeof s === 'object' && Number(s.failed) > 0
    && t._failures === undefined && !t._loadingFailures;
}

async function loadFailures(t) {
  S.tasks.set(t.id, { ...t, _loadingFailures: true });
  try {
    const r = await client.fetchTaskResult(t.id);
    upsertTask({ id: t.id, _failures: Array.isArray(r && r.failed) ? r.failed : [], _loadingFailures: false });
  } catch {
    // Shown again on the next change of the task (or a reload).
    const cur = S.tasks.get(t.id);
    if (cur) cur._loadingFailures = false;
  }
}

function taskItem(t) {
  const active = ACTIVE.has(t.status);
  const actions = [];
  if (active) {
    actions.push(h('button', {
      type: 'button', class: 'cancel-btn secondary small', 'data-testid': 'cancel-task',
      text: t._cancelling ? 'Cancelling…' : 'Cancel', disabled: !!t._cancelling, onclick: () => cancelTask(t.id),
    }));
  } else {
    // With a type chosen, the downloads hold only that type (`?type=` on the result route).
    actions.push(...typeControls(t));
    actions.push(h('button', { type: 'button', class: 'download-json secondary small', 'data-testid': 'download-json', text: 'Download JSON', onclick: (ev) => download(t.id, 'json', ev.currentTarget, (S.tasks.get(t.id) || t)._type) }));
    if (NUMBER_KINDS.has(t.kind)) {
      actions.push(h('button', { type: 'button', class: 'download-csv secondary small', 'data-testid': 'download-csv', text: 'Download CSV', onclick: (ev) => download(t.id, 'csv', ev.currentTarget, (S.tasks.get(t.id) || t)._type) }));
    }
  }
  return h('li', { class: 'task', 'data-testid': 'task', dataset: { taskId: t.id, status: t.status, kind: t.kind } },
    h('div', { class: 'task-head' },
      h('span', { class: 'kind', text: KIND_LABEL[t.kind] || t.kind }),
      h('span', { class: 'task-id', text: `#${t.id}` }),
      h('span', { class: 'status', text: t.status })),
    h('div', { class: 'task-params', text: paramsSummary(t) }),
    h('progress', { max: 100, value: Math.max(0, Math.min(100, Number(t.progress) || 0)), 'aria-label': `Task ${t.id} progress` }),
    h('div', { class: 'task-foot' }, h('span', { class: 'progress-text', text: progressText(t) }), timeEl(t.created_at)),
    t.result_summary ? h('div', { class: 'result-summary', text: summaryText(t.result_summary) }) : null,
    t.error ? h('div', { class: 'task-error', text: typeof t.error === 'string' ? t.error : JSON.stringify(t.error) }) : null,
    h('div', { class: 'task-actions' }, actions),
    active ? null : failuresList(t),
    active ? null : resultsTable(t));
}

/** "No tasks yet" while the list is empty. */
function renderTasksEmpty() {
  const list = $('tasks');
  const any = list.querySelector('li[data-task-id]');
  const empty = list.querySelector('li.empty');
  if (any && empty) empty.remove();
  if (!any && !empty && S.tasksLoaded) {
    list.append(h('li', { class: 'empty muted small-text', 'data-testid': 'tasks-empty', text: 'No tasks yet. Start one above: it runs on the server, and you can leave the page meanwhile.' }));
  }
}

function renderTask(t) {
  const list = $('tasks');
  const existing = list.querySelector(`li[data-task-id="${Number(t.id)}"]`);
  // Progress ticks update in place, so buttons are not replaced under the pointer.
  if (existing && existing.dataset.status === t.status && !t._rerender) {
    existing.querySelector('progress').value = Math.max(0, Math.min(100, Number(t.progress) || 0));
    existing.querySelector('.progress-text').textContent = progressText(t);
    return;
  }
  t._rerender = false;
  const li = taskItem(t);
  li.tabIndex = -1; // a notification's "open" focuses it
  const hadFocus = existing && existing.contains(document.activeElement);
  if (existing) { existing.replaceWith(li); if (hadFocus) li.focus({ preventScroll: true }); return; }
  renderTasksEmpty();
  for (const el of list.querySelectorAll('li[data-task-id]')) {
    if (Number(el.dataset.taskId) < t.id) { list.insertBefore(li, el); renderTasksEmpty(); return; }
  }
  list.append(li);
  renderTasksEmpty();
}

function upsertTask(task, { rerender = true } = {}) {
  if (!task || task.id == null) return;
  const old = S.tasks.get(task.id) || {};
  const t = { ...old, ...task, _rerender: rerender };
  if (!ACTIVE.has(t.status)) t._cancelling = false;
  S.tasks.set(t.id, t);
  renderTask(t);
  if (wantsFailures(t)) loadFailures(t);
}

async function loadTasks() {
  try {
    const { tasks = [] } = await client.getTasks({ limit: 20 });
    S.tasksLoaded = true;
    for (const t of tasks) upsertTask(t);
    renderTasksEmpty();
  } catch (err) {
    if (client.isSignedIn) toastError(err, 'Could not load tasks');
  }
}

async function cancelTask(id) {
  const t = S.tasks.get(id);
  if (t) upsertTask({ id, _cancelling: true });
  try {
    await client.cancelTask(id);
  } catch (err) {
    if (S.tasks.get(id)) upsertTask({ id, _cancelling: false });
    toastError(err, 'Could not cancel');
  }
}

async function download(id, format, btn, type) {
  await withButton(btn, async () => {
    try { await client.downloadTaskResult(id, { format, type: type || undefined }); } catch (err) { toastError(err, 'Download failed'); }
  });
}

client.on('task_list', (f, sock) => {
  const tasks = f.tasks || [];
  for (const t of tasks) upsertTask(t);
  // The snapshot after (re)connecting lists queued/running tasks only: refresh ours that finished meanwhile.
  const live = new Set(tasks.map((t) => t.id));
  for (const t of S.tasks.values()) {
    if (ACTIVE.has(t.status) && !live.has(t.id)) client.getTask(t.id).then((r) => upsertTask(r.task)).catch(() => {});
  }
});
for (const type of ['task_created', 'task_completed', 'task_failed', 'task_cancelled']) client.on(type, (f) => upsertTask(f.task));
client.on('task_progress', ({ task_id, progress, processed, total }) => {
  const t = S.tasks.get(task_id);
  if (!t) { client.getTask(task_id).then((r) => upsertTask(r.task)).catch(() => {}); return; }
  const status = t.status === 'queued' ? 'running' : t.status;
  upsertTask({ id: task_id, progress, processed, total, status }, { rerender: status !== t.status });
});

// ------------------------------------------------------------------ notifications (inbox, tab title, desktop)

const NOTIF_KIND_LABEL = { direct_message: 'Direct message', mention: 'Mention', task: 'Task' };
const TASK_STATUS_WORD = { completed: 'finished', failed: 'failed', cancelled: 'was cancelled', interrupted: 'was interrupted' };

/** A notification's title for people: the server's, with task kinds named as the page names them. */
function notifTitle(n) {
  const d = n.data || {};
  if (n.kind === 'task') {
    const task = S.tasks.get(d.task_id);
    const kind = (task && task.kind) || d.kind;
    const status = d.status || (task && task.status);
    const what = KIND_LABEL[kind] || 'A task';
    return `${what}${d.task_id != null ? ` #${d.task_id}` : ''} ${TASK_STATUS_WORD[status] || status || 'ended'}`;
  }
  let title = n.title || NOTIF_KIND_LABEL[n.kind] || 'Notification';
  for (const [k, label] of Object.entries(KIND_LABEL)) title = title.split(k).join(label);
  return title;
}

function notifBody(n) {
  const d = n.data || {};
  const task = n.kind === 'task' ? S.tasks.get(d.task_id) : null;
  if (task && task.result_summary && task.status === d.status) return summaryText(task.result_summary);
  return n.body || '';
}

function renderNotifCount() {
  const el = $('notif-count');
  const n = S.notifUnread;
  el.textContent = n > 99 ? '99+' : String(n);
  el.hidden = n <= 0;
  $('notif-btn').setAttribute('aria-label', n > 0 ? `Notifications, ${n} unread` : 'Notifications');
  document.title = n > 0 ? `(${n > 99 ? '99+' : n}) Hearth` : 'Hearth';
}

async function loadNotifCount() {
  try {
    const r = await client.api('GET', '/api/notifications', { query: { unread: 'true', limit: 100 } });
    const list = Array.isArray(r) ? r : (r.notifications || []);
    for (const n of list) S.notifs.set(n.id, n);
    S.notifUnread = list.filter((n) => !n.read).length;
    renderNotifCount();
    if (!$('notif-panel').hidden) renderNotifList();
  } catch { /* the count is only a hint */ }
}

/** The inbox: the newest 50 (or the unread ones), newest first. */
async function loadNotifList() {
  try {
    const unread = $('notif-unread-only').checked;
    const r = await client.api('GET', '/api/notifications', { query: { unread: unread ? 'true' : undefined, limit: 50 } });
    const list = Array.isArray(r) ? r : (r.notifications || []);
    for (const n of list) S.notifs.set(n.id, n);
    S.notifShown = list.map((n) => n.id);
    renderNotifList();
  } catch (err) {
    if (client.isSignedIn) toastError(err, 'Could not load notifications');
  }
}

function notifItem(n) {
  const d = n.data || {};
  return h('li', {
    class: n.read ? 'read' : 'unread', 'data-testid': 'notification',
    dataset: { notificationId: n.id, kind: n.kind, read: String(!!n.read), roomId: d.room_id, taskId: d.task_id },
  },
  h('button', { type: 'button', class: 'notif-open', onclick: () => openNotification(n) },
    h('span', { class: 'notif-kind', text: NOTIF_KIND_LABEL[n.kind] || 'Notification' }),
    h('strong', { class: 'notif-title', text: notifTitle(n) }),
    notifBody(n) ? h('span', { class: 'notif-body', text: notifBody(n) }) : null,
    timeEl(n.created_at)),
  n.read ? null : h('button', { type: 'button', class: 'notif-read secondary small', text: 'Mark read', 'aria-label': `Mark read: ${notifTitle(n)}`, onclick: () => markNotificationRead(n) }));
}

function renderNotifList() {
  const list = $('notif-list');
  const unreadOnly = $('notif-unread-only').checked;
  const ids = [...new Set([...(S.notifShown || []), ...S.notifs.keys()])];
  const items = ids.map((id) => S.notifs.get(id)).filter((n) => n && (!unreadOnly || !n.read))
    .sort((a, b) => b.id - a.id).slice(0, 50);
  if (!items.length) { list.replaceChildren(h('li', { class: 'empty muted small-text', text: unreadOnly ? 'Nothing unread.' : 'No notifications yet.' })); return; }
  const focused = list.contains(document.activeElement) ? document.activeElement.closest('li')?.dataset.notificationId : null;
  list.replaceChildren(...items.map(notifItem));
  if (focused) (list.querySelector(`li[data-notification-id="${focused}"] .notif-open`) || $('notif-panel-title')).focus({ preventScroll: true });
}

function setRead(n) {
  const cur = S.notifs.get(n.id) || n;
  if (cur.read) return;
  S.notifs.set(n.id, { ...cur, read: true });
  S.notifUnread = Math.max(0, S.notifUnread - 1);
  renderNotifCount();
  removeToasts(`.toast[data-notification-id="${Number(n.id)}"]`);
  if (!$('notif-panel').hidden) renderNotifList();
}

function markNotificationRead(n) {
  const was = S.notifs.get(n.id) || n;
  if (was.read) return Promise.resolve();
  setRead(n);
  return client.markNotificationRead(n.id).catch((err) => {
    // Not marked after all: count it again.
    S.notifs.set(n.id, { ...was, read: false });
    S.notifUnread++;
    renderNotifCount();
    if (!$('notif-panel').hidden) renderNotifList();
    toastError(err, 'Could not mark the notification read');
  });
}

/** Opening a notification marks it read and goes to its room, or to its task. */
async function openNotification(n) {
  closeNotifPanel({ focusButton: false });
  markNotificationRead(n);
  const d = n.data || {};
  if (d.room_id != null) {
    if (!S.rooms.has(d.room_id)) await fetchRoom(d.room_id);
    if (S.rooms.has(d.room_id)) openRoom(d.room_id);
    else toast({ title: 'That room is gone', body: 'You are no longer a member of it.', kind: 'error' });
    return;
  }
  if (d.task_id != null) showTask(d.task_id);
}

/** Brings a task into view and focuses it (on a narrow screen, the list view holds the tasks). */
async function showTask(id) {
  setView('list');
  if (!S.tasks.has(id)) {
    try { upsertTask((await client.getTask(id)).task); } catch (err) { toastError(err, 'Could not show the task'); return; }
  }
  const li = $('tasks').querySelector(`li[data-task-id="${Number(id)}"]`);
  if (!li) return;
  li.scrollIntoView({ block: 'center', behavior: 'auto' });
  li.classList.add('highlight');
  setTimeout(() => li.classList.remove('highlight'), 2500);
  li.focus({ preventScroll: true });
}

function openNotifPanel() {
  const panel = $('notif-panel');
  if (!panel.hidden) return;
  panel.hidden = false;
  $('notif-btn').setAttribute('aria-expanded', 'true');
  renderNotifList();
  renderDesktopControl();
  loadNotifList();
  $('notif-panel-title').focus({ preventScroll: true });
}

function closeNotifPanel({ focusButton = true } = {}) {
  const panel = $('notif-panel');
  if (panel.hidden) return;
  const inside = panel.contains(document.activeElement);
  panel.hidden = true;
  $('notif-btn').setAttribute('aria-expanded', 'false');
  if (inside && focusButton) $('notif-btn').focus({ preventScroll: true });
}

async function readAllNotifications() {
  try {
    await client.readAllNotifications();
    S.notifUnread = 0;
    for (const [id, n] of S.notifs) if (!n.read) S.notifs.set(id, { ...n, read: true });
    renderNotifCount();
    renderNotifList();
    removeToasts('.toast[data-notification-id]');
  } catch (err) {
    toastError(err);
  }
}

// Desktop notifications: asked for only when the user presses the button, shown only while the page is hidden.

const desktopSupported = () => typeof window.Notification === 'function';
const desktopOn = () => desktopSupported() && window.Notification.permission === 'granted' && ui.get('desktop') === 'on';

function renderDesktopControl() {
  const btn = $('notif-desktop');
  const state = $('notif-desktop-state');
  if (!desktopSupported()) { btn.hidden = true; state.textContent = 'This browser has no desktop notifications.'; return; }
  const perm = window.Notification.permission;
  btn.hidden = perm === 'denied';
  state.textContent = perm === 'denied' ? 'Desktop notifications are blocked in this browser\'s site settings.' : (desktopOn() ? 'Shown while this tab is in the background.' : '');
  btn.textContent = desktopOn() ? 'Turn off desktop notifications' : 'Turn on desktop notifications';
}

async function toggleDesktop() {
  if (!desktopSupported()) return;
  if (desktopOn()) { ui.set('desktop', null); renderDesktopControl(); return; }
  let perm = window.Notification.permission;
  if (perm === 'default') {
    try { perm = await window.Notification.requestPermission(); } catch { perm = window.Notification.permission; }
  }
  if (perm === 'granted') ui.set('desktop', 'on');
  renderDesktopControl();
}

function desktopAlert(title, body, onclick, tag) {
  if (!desktopOn() || isVisible()) return;
  try {
    const note = new window.Notification(title, { body, tag });
    note.onclick = () => { window.focus(); note.close(); onclick(); };
  } catch { /* e.g. a browser that wants a service worker for it */ }
}

client.on('notification', ({ notification: n }) => {
  if (!n) return;
  const known = S.notifs.get(n.id);
  S.notifs.set(n.id, n);
  const roomId = n.data && n.data.room_id;
  if (roomId != null && roomId === S.current && isVisible()) { if (!known && !n.read) S.notifUnread++; markNotificationRead(n); return; }
  if (!n.read && !(known && !known.read)) { S.notifUnread++; renderNotifCount(); }
  if (!$('notif-panel').hidden) renderNotifList();
  const title = notifTitle(n);
  const body = notifBody(n);
  const actions = [
    { label: 'Open', run: () => openNotification(n) },
    { label: 'Mark read', run: () => markNotificationRead(n) },
  ];
  toast({ title, body, notification: n, actions, key: `notification-${n.id}` });
  desktopAlert(title, body, () => openNotification(n), `hearth-notification-${n.id}`);
});
client.notifications.on('connected', () => loadNotifCount());

// ------------------------------------------------------------------ support widget (anonymous or signed in)

/**
 * Whether a support message is the visitor's own: the server names the sender of every message,
 * an anonymous visitor's included (their guest user, whose id the support socket's `connected`
 * frame gives), so "no sender" alone cannot tell.
 */
function isOwnSupport(m) {
  if (!m.sender) return true;
  if (S.user) return m.sender.id === S.user.id;
  const guest = client.support.guest;
  return !!(guest && m.sender.id === guest.id);
}
const supportName = (m) => (isOwnSupport(m) ? 'You' : userName(m.sender));
const supportItem = (m) => messageItem(m, { nameOf: supportName, isOwn: isOwnSupport });

/**
 * Where the widget sits: under the sign-in form for visitors; in the side column (under the rooms)
 * for a signed-in user, so it never takes the whole width under the conversation.
 */
function placeSupportWidget() {
  const widget = $('support-widget');
  const signedIn = !!S.user;
  const home = signedIn ? $('side-col') : $('main');
  if (widget.parentElement !== home) home.append(widget);
  // Signed in, it starts folded; a visitor's is open (it is what they came for).
  if (signedIn && !S.support.msgs.size && !client.support.started) widget.open = false;
  if (!signedIn) widget.open = true;
}

function resetSupportView() {
  S.support.msgs.clear();
  $('support-messages').replaceChildren();
  $('support-error').textContent = '';
}

function ensureSupport() {
  if (!client.support.started) client.support.start();
}

function showSupportMessage(m) {
  if (!m || m.id == null) return;
  S.support.msgs.set(m.id, m);
  const list = $('support-messages');
  const stick = nearBottom(list);
  upsertInto(list, m, supportItem);
  if (stick || !m.sender) scrollToBottom(true, list);
}

async function loadSupport() {
  try {
    const r = await client.supportGetMessages({ limit: 50 });
    for (const m of r.messages) showSupportMessage(m);
    scrollToBottom(true, $('support-messages'));
  } catch (err) {
    $('support-error').textContent = describe(err);
  }
}

async function supportSend() {
  const input = $('support-input');
  const content = input.value;
  if (!content.trim()) return;
  input.value = '';
  $('support-error').textContent = '';
  ensureSupport();
  try {
    const r = await client.supportSend(content);
    if (r.message) showSupportMessage(r.message);
  } catch (err) {
    if (!input.value) input.value = content;
    $('support-error').textContent = describe(err);
  }
}

client.support.on('connected', () => loadSupport());
client.support.on('message', (f) => showSupportMessage(f.message));
client.support.on('state', () => renderSupportState());
function renderSupportState() {
  const el = $('support-state');
  const s = client.support.state;
  el.textContent = s === 'idle' ? '' : (s === 'open' && client.support.guest ? `${stateLabel(s)} · ${client.support.guest.name}` : stateLabel(s));
  el.dataset.state = s;
}

// ------------------------------------------------------------------ staff console (/ws/admin/chat/)

function renderStaffRooms() {
  const list = $('staff-rooms');
  renderStaffUnread();
  const rooms = [...S.staff.rooms.values()].sort((a, b) => activity(b).localeCompare(activity(a)) || b.id - a.id);
  if (!rooms.length) { list.replaceChildren(h('li', { class: 'empty', text: 'No support conversations.' })); return; }
  const hadFocus = list.contains(document.activeElement) ? Number(document.activeElement.closest('li')?.dataset.roomId) : null;
  list.replaceChildren(...rooms.map((r) => h('li', {
    class: r.id === S.staff.current ? 'active' : null, 'data-testid': 'staff-room', dataset: { roomId: r.id },
  }, roomButton(r, { active: r.id === S.staff.current, onclick: () => openStaffRoom(r.id), kindTag: false }))));
  if (hadFocus != null) list.querySelector(`li[data-room-id="${hadFocus}"] button`)?.focus({ preventScroll: true });
}

/** Conversations waiting for staff: new ones, and ones with unread messages (the badge by the console's title). */
function renderStaffUnread() {
  const n = [...S.staff.rooms.values()].filter((r) => r.id !== S.staff.current && ((r.unread_count || 0) > 0 || r._new)).length;
  const el = $('staff-unread');
  el.textContent = String(n);
  el.hidden = n === 0;
  el.setAttribute('aria-label', `${n} conversation${n === 1 ? '' : 's'} waiting`);
}

/**
 * Whether a support message comes from the visitor (not from staff). The console's frames do not
 * say who the visitor is; a support room is named "Support: <visitor's display name>" and guests'
 * usernames start with "~". When unsure, it counts as the visitor's: better an alert too many.
 */
function fromVisitor(m, room) {
  if (isMine(m)) return false;
  if (!m.sender || String(m.sender.username || '').startsWith('~') || !room || !room.name) return true;
  return room.name === `Support: ${m.sender.display_name}`;
}

/** Tells staff that a conversation needs them: a toast (one per conversation) and, in a background tab, a desktop notification. */
function staffAlert(room, m = null) {
  const name = roomName(room).replace(/^Support: /, '');
  const title = m ? `${m.sender ? userName(m.sender) : name} wrote to support` : `New support conversation: ${name}`;
  const body = m ? preview({ ...m, sender: null }) : 'A visitor opened the support chat.';
  const open = () => { openStaffRoom(room.id); $('staff-console').scrollIntoView({ block: 'start' }); };
  toast({ title, body, kind: 'support', key: `support-${room.id}`, actions: [{ label: 'Open', run: open }] });
  desktopAlert(title, body, open, `hearth-support-${room.id}`);
}

async function loadStaffRooms() {
  try {
    const { rooms = [] } = await client.adminGetRooms();
    const old = S.staff.rooms;
    S.staff.rooms = new Map();
    for (const r of rooms) S.staff.rooms.set(r.id, old.get(r.id) && old.get(r.id)._new ? { ...r, _new: !r.last_message } : r);
    S.staff.loaded = true;
    if (S.staff.current != null && S.staff.rooms.get(S.staff.current)) S.staff.rooms.get(S.staff.current).unread_count = 0;
    renderStaffRooms();
  } catch (err) {
    if (err.code !== 'forbidden') toastError(err, 'Could not load support conversations');
  }
}

const staffName = (m) => (m.sender ? (isMine(m) ? 'You' : userName(m.sender)) : 'Visitor');
const staffItem = (m) => messageItem(m, { nameOf: staffName });

async function openStaffRoom(id) {
  S.staff.current = id;
  S.staff.msgs = new Map();
  const room = S.staff.rooms.get(id);
  if (room) { room.unread_count = 0; room._new = false; }
  removeToasts(`.toast[data-key="support-${Number(id)}"]`);
  renderStaffRooms();
  $('staff-room-title').textContent = room ? roomName(room) : `Conversation ${id}`;
  $('staff-input').disabled = false;
  $('staff-send').disabled = false;
  const list = $('staff-messages');
  list.replaceChildren();
  try {
    const r = await client.adminGetMessages(id, { limit: 50 });
    if (S.staff.current !== id) return;
    for (const m of r.messages) { S.staff.msgs.set(m.id, m); upsertInto(list, m, staffItem); }
    scrollToBottom(true, list);
    staffMarkRead();
  } catch (err) {
    toastError(err, 'Could not open the conversation');
  }
}

function staffMarkRead() {
  clearTimeout(S.staff.markTimer);
  S.staff.markTimer = setTimeout(() => {
    const id = S.staff.current;
    if (id == null || !S.staff.msgs.size || !isVisible()) return;
    client.adminMarkRead(id, Math.max(...S.staff.msgs.keys())).catch(() => {});
  }, 300);
}

function onStaffMessage(m, { live = false } = {}) {
  if (!m) return;
  const room = S.staff.rooms.get(m.room_id);
  if (!room) {
    // A conversation the console does not list yet: list it, then alert.
    loadStaffRooms().then(() => {
      const r = S.staff.rooms.get(m.room_id);
      if (live && r && fromVisitor(m, r)) staffAlert(r, m);
    });
    return;
  }
  const prevLast = room.last_message ? room.last_message.id : 0;
  if (m.id > prevLast) {
    room.last_message = { id: m.id, content: m.content, sender: m.sender, created_at: m.created_at };
    const visitor = fromVisitor(m, room);
    const looking = m.room_id === S.staff.current && isVisible();
    if (m.room_id !== S.staff.current && visitor) room.unread_count = (room.unread_count || 0) + 1;
    if (live && visitor && !looking) staffAlert(room, m);
  }
  renderStaffRooms();
  if (m.room_id === S.staff.current) {
    S.staff.msgs.set(m.id, m);
    const list = $('staff-messages');
    const stick = nearBottom(list) || isMine(m);
    upsertInto(list, m, staffItem);
    if (stick) scrollToBottom(true, list);
    staffMarkRead();
  }
}

async function staffSend() {
  const input = $('staff-input');
  const content = input.value;
  const id = S.staff.current;
  if (id == null || !content.trim()) return;
  input.value = '';
  try {
    const r = await client.adminSend(id, content);
    if (r.message) onStaffMessage(r.message);
  } catch (err) {
    if (!input.value) input.value = content;
    toastError(err, 'Reply not sent');
  }
}

client.admin.on('connected', () => { loadStaffRooms(); if (S.staff.current != null) openStaffRoom(S.staff.current); });
client.admin.on('message', (f) => onStaffMessage(f.message, { live: true }));
client.admin.on('message_updated', (f) => { if (f.message && f.message.room_id === S.staff.current) onStaffMessage(f.message); });
client.admin.on('room_updated', (f) => {
  if (!f.room) return;
  const old = S.staff.rooms.get(f.room.id);
  // A room the console did not know, announced live: a visitor just started a conversation.
  const isNew = !old && S.staff.loaded && !f.room.last_message;
  const room = { ...old, ...f.room, unread_count: f.room.id === S.staff.current ? 0 : (f.room.unread_count ?? (old && old.unread_count)) };
  if (isNew) room._new = true;
  S.staff.rooms.set(f.room.id, room);
  renderStaffRooms();
  if (isNew) staffAlert(room);
});
client.admin.on('forbidden', () => { $('staff-console').hidden = true; });
client.admin.on('state', (s) => { const el = $('staff-state'); el.textContent = s === 'idle' ? '' : stateLabel(s); el.dataset.state = s; });

// ------------------------------------------------------------------ wiring

function onSubmit(id, fn) {
  $(id).addEventListener('submit', (ev) => { ev.preventDefault(); fn(); });
}

onSubmit('auth-form', () => doAuth('login'));
$('register-btn').addEventListener('click', () => doAuth('register'));
// Enter in a field: sign up when a display name is filled in (it is only for sign-up), else sign in.
$('auth-form').addEventListener('keydown', (ev) => {
  if (ev.key !== 'Enter' || ev.isComposing || ev.target.tagName !== 'INPUT') return;
  ev.preventDefault();
  doAuth(authDefault());
});
$('display-name').addEventListener('input', renderAuthDefault);
$('logout-btn').addEventListener('click', async () => {
  $('logout-btn').disabled = true;
  try { await client.logout(); } finally { $('logout-btn').disabled = false; }
});
$('notif-read-all').addEventListener('click', readAllNotifications);
$('notif-btn').addEventListener('click', () => { if ($('notif-panel').hidden) openNotifPanel(); else closeNotifPanel(); });
$('notif-close').addEventListener('click', () => closeNotifPanel());
$('notif-unread-only').addEventListener('change', () => { renderNotifList(); loadNotifList(); });
$('notif-desktop').addEventListener('click', toggleDesktop);
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && !$('notif-panel').hidden && !$('confirm-dialog').open) { ev.preventDefault(); closeNotifPanel(); }
});
// A click elsewhere closes the inbox.
document.addEventListener('pointerdown', (ev) => {
  const panel = $('notif-panel');
  if (!panel.hidden && !panel.contains(ev.target) && !$('notif-btn').contains(ev.target) && !$('toasts').contains(ev.target)) closeNotifPanel({ focusButton: false });
});
$('back-btn').addEventListener('click', backToRooms);

onSubmit('create-room-form', createRoom);
onSubmit('direct-form', openDirect);
onSubmit('public-form', browsePublic);
onSubmit('add-member-form', addMember);
$('leave-room-btn').addEventListener('click', leaveRoom);
$('load-older-btn').addEventListener('click', loadOlder);

onSubmit('send-form', sendCurrent);
$('message-input').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); sendCurrent(); }
});
$('message-input').addEventListener('input', onInputTyping);
// Drafts: kept as typed, and again right after a send empties the box (Enter or the button).
$('message-input').addEventListener('input', () => saveDraft());
$('message-input').addEventListener('keydown', (ev) => { if (ev.key === 'Enter' && !ev.shiftKey) setTimeout(() => saveDraft(), 0); });
$('send-form').addEventListener('submit', () => setTimeout(() => saveDraft(), 0));
window.addEventListener('pagehide', () => saveDraft());
$('message-input').addEventListener('blur', stopTyping);

$('task-kind').addEventListener('change', showTaskFields);
$('task-people').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.isComposing) { ev.preventDefault(); addPeople($('task-people').value); }
});
$('task-people-add').addEventListener('click', () => { addPeople($('task-people').value); $('task-people').focus(); });
onSubmit('task-form', startTask);

onSubmit('support-form', supportSend);
$('support-input').addEventListener('focus', ensureSupport);
// Opening the widget connects (a click, not the toggle event, which also fires for the initial `open`).
$('support-widget').querySelector('summary').addEventListener('click', () => { if (!$('support-widget').open) ensureSupport(); });

onSubmit('staff-form', staffSend);
$('staff-refresh').addEventListener('click', loadStaffRooms);

document.addEventListener('visibilitychange', () => {
  if (!isVisible()) { stopTyping(); saveDraft(); return; }
  if (S.current != null) markReadSoon(0);
  if (S.staff.current != null) staffMarkRead();
});

// ------------------------------------------------------------------ start

window.hearthPeople?.attach({ client, loadOlder }); // people.js (members, presence, people search, unread divider)
// Toasts and the inbox sit just under the top bar, whose height changes when it wraps.
const setTopbarHeight = () => document.documentElement.style.setProperty('--topbar-h', `${topbar.offsetHeight}px`);
if (typeof ResizeObserver === 'function') new ResizeObserver(setTopbarHeight).observe(topbar);
setTopbarHeight();

showTaskFields();
renderSupportState();
renderAuthDefault();
renderBulkPickers();
renderNotifCount();
if (client.isSignedIn) {
  enterApp(client.user);
  client.me().then((u) => applyUser(u)).catch(() => { /* a 401 signs out through the client */ });
} else {
  leaveApp(null);
  // A returning anonymous visitor sees their support conversation at once.
  if (client.guestToken) ensureSupport();
}
