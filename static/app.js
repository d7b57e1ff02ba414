/**
 * app.js: the Hearth page (and the browser test page). UI logic only; the protocol lives in hearth-client.js.
 * `window.hearth` is the HearthClient, for tests (`hearth.stats`, `hearth.state`, `hearth.socketStates()`).
 *
 * Stable element ids / test ids (every user-provided text is set with textContent, never innerHTML):
 *
 *  header       #conn-state (text and data-state = overall state: idle, connecting, open, reconnecting,
 *               offline, signed_out), #current-user, #notif-read-all, #notif-count (unread notifications),
 *               #logout-btn
 *  auth         #auth-view, #username, #password, #display-name, #login-btn, #register-btn, #auth-error
 *  app          #app-view (shown when signed in)
 *  rooms        #room-list > li[data-room-id][data-kind][data-testid=room-item] with .name,
 *               .badge[data-testid=unread-badge] (hidden when 0), .preview, time.time (local time)
 *               #new-room-name, #new-room-members (comma separated usernames), #new-room-public, #create-room-btn
 *               #direct-username, #open-direct-btn
 *               #public-query, #browse-public-btn, #public-rooms > li[data-room-id] with
 *               button.join-btn[data-testid=join-room] (or button.open-btn once a member)
 *  conversation #room-title, #room-meta, #leave-room-btn, #add-member-username, #add-member-btn,
 *               #load-older-btn (hidden when there is nothing older),
 *               #messages > li[data-message-id][data-testid=message] (.own for mine, .deleted) with .sender,
 *               time.time, .edited, .content; on my messages button.edit-btn[data-testid=edit-message] and
 *               button.delete-btn[data-testid=delete-message]; while editing input.edit-input[data-testid=edit-input],
 *               button.save-edit-btn[data-testid=save-edit], button.cancel-edit-btn[data-testid=cancel-edit]
 *               unsent messages (the client's outbox) after them: li.pending[data-client-id][data-status=pending|
 *               sending|failed][data-testid=pending-message] with .content, .pending-note, and when failed
 *               button.retry-btn[data-testid=retry-message], button.discard-btn[data-testid=discard-message]
 *               #typing ("alice is typing…"), #message-input, #send-btn,
 *               #send-status (data-method = websocket | rest | queued (kept to send later) | error after each send)
 *  tasks        #task-kind (generate_numbers | validate_numbers | bulk_message), #task-area-code, #task-quantity,
 *               #task-numbers (one per line), #task-content, #task-room-ids, #task-usernames, #start-task-btn,
 *               #task-error,
 *               #tasks > li[data-task-id][data-status][data-testid=task] with .kind, <progress>, .status (the status
 *               name), .progress-text, .result-summary, .task-error, button.cancel-btn[data-testid=cancel-task],
 *               button.download-json[data-testid=download-json], button.download-csv[data-testid=download-csv];
 *               finished validate_numbers tasks also select.type-filter[data-testid=type-filter] (option values:
 *               '' for all, or a number type; the downloads follow it), button.show-results[data-testid=show-results],
 *               and once shown .task-results[data-testid=task-results] > table > tbody > tr[data-type][data-valid]
 *               with td.input, td.e164, td.type, td.region, td.reason (at most 200 rows) and .results-note
 *  toasts       #toasts > .toast[data-testid=toast][data-notification-id] with .toast-title, .toast-body
 *  support      #support-widget, #support-state, #support-messages > li[data-message-id] (.content),
 *               #support-input, #support-send, #support-error
 *  staff        #staff-console (shown when user.is_staff), #staff-state, #staff-refresh,
 *               #staff-rooms > li[data-room-id] (.badge unread), #staff-room-title,
 *               #staff-messages > li[data-message-id] (.content), #staff-input, #staff-send
 */
import { HearthClient } from './hearth-client.js';

const client = new HearthClient();
window.hearth = client;

const $ = (id) => document.getElementById(id);

/** Make an element. Text goes in with textContent / text nodes only. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') { for (const [dk, dv] of Object.entries(v)) if (dv != null) el.dataset[dk] = String(dv); }
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

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
  notifUnread: 0,
  staff: { rooms: new Map(), current: null, msgs: new Map(), markTimer: null },
  support: { msgs: new Map() },
};

// ------------------------------------------------------------------ toasts

function toast({ title, body = '', kind = 'info', notification = null, actions = [], ttl } = {}) {
  const box = $('toasts');
  let el = null;
  let timer = null;
  const dismiss = () => { clearTimeout(timer); if (el) el.remove(); };
  el = h('div', {
    class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status', 'data-testid': 'toast',
    dataset: notification ? { notificationId: notification.id, kind: notification.kind } : {},
  },
  h('strong', { class: 'toast-title', text: title }),
  h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', text: '×', onclick: dismiss }),
  body ? h('div', { class: 'toast-body', text: body }) : null,
  actions.length ? h('div', { class: 'toast-actions' }, actions.map((a) => h('button', {
    type: 'button', class: 'secondary small', text: a.label, onclick: () => { dismiss(); a.run(); },
  }))) : null);
  box.append(el);
  while (box.children.length > 4) box.firstElementChild.remove();
  timer = setTimeout(dismiss, ttl ?? (kind === 'error' ? 8000 : 6000));
  return el;
}

function toastError(err, title = 'Error') {
  toast({ title, body: describe(err), kind: 'error' });
}

// ------------------------------------------------------------------ connection indicator

function renderConn() {
  const el = $('conn-state');
  // While the chat socket is down the client long-polls over HTTP: messages still arrive, say so.
  const polling = client.polling && client.state !== 'open' && client.state !== 'signed_out';
  el.textContent = polling ? `${client.state} · messages still arrive` : client.state;
  el.dataset.state = client.state;
  el.dataset.polling = polling ? 'true' : 'false';
  el.title = Object.entries(client.socketStates()).map(([n, s]) => `${n}: ${s}`).join('\n') || 'Connection state';
}
client.onState(renderConn);
client.on('polling', renderConn);
for (const name of ['chat', 'tasks', 'notifications', 'admin', 'support']) client.socket(name).on('state', renderConn);

// ------------------------------------------------------------------ auth

function setAuthError(text) { $('auth-error').textContent = text || ''; }

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
  if (staff && client.isSignedIn && !client.admin.started) client.admin.start();
  if (!staff && client.admin.started) client.admin.stop();
}

function resetData() {
  S.rooms.clear(); S.msgs.clear(); S.hasOlder.clear(); S.typing.clear(); S.lastMarked.clear();
  S.current = null; S.chatConnections = 0;
  S.tasks.clear(); S.notifUnread = 0;
  S.staff.rooms.clear(); S.staff.msgs.clear(); S.staff.current = null;
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
  $('notif-read-all').hidden = false;
  applyUser(user);
  client.connect({ chat: true, tasks: true, notifications: true, admin: !!(user && user.is_staff) });
  loadRooms();
  loadTasks();
  loadNotifCount();
}

function leaveApp(reason) {
  resetData();
  resetSupportView();
  applyUser(null);
  $('app-view').hidden = true;
  $('auth-view').hidden = false;
  $('logout-btn').hidden = true;
  $('notif-read-all').hidden = true;
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

function renderRooms() {
  const rooms = [...S.rooms.values()].sort((a, b) => activity(b).localeCompare(activity(a)) || b.id - a.id);
  const list = $('room-list');
  if (!rooms.length) { list.replaceChildren(h('li', { class: 'empty', text: 'No rooms yet: create one or open a direct chat.' })); return; }
  list.replaceChildren(...rooms.map((r) => {
    const unread = r.unread_count || 0;
    const li = h('li', {
      class: r.id === S.current ? 'active' : null, tabindex: 0, role: 'button', 'data-testid': 'room-item',
      'aria-current': r.id === S.current ? 'true' : null, dataset: { roomId: r.id, kind: r.kind },
    },
    h('div', { class: 'room-line' },
      h('span', { class: 'name', text: roomName(r) }),
      r.kind !== 'group' ? h('span', { class: 'kind-tag', text: r.kind }) : (r.is_public ? h('span', { class: 'kind-tag', text: 'public' }) : null),
      h('span', { class: 'badge', 'data-testid': 'unread-badge', hidden: unread === 0, text: unread, 'aria-label': `${unread} unread` })),
    h('div', { class: 'room-line sub' },
      h('span', { class: 'preview', text: preview(r.last_message) }),
      timeEl(activity(r))));
    li.addEventListener('click', () => openRoom(r.id));
    li.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); openRoom(r.id); } });
    return li;
  }));
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
    renderRooms();
    renderRoomHeader();
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
  S.current = null;
  window.hearthPeople?.roomOpened(null);
  $('messages').replaceChildren();
  $('typing').textContent = '';
  $('load-older-btn').hidden = true;
  renderRoomHeader();
}

async function openRoom(id) {
  if (S.typingActive) stopTyping();
  S.current = id;
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
  if (S.current === id) $('message-input').focus({ preventScroll: true });
}

// ------------------------------------------------------------------ messages

function messageItem(m, { onEdit, onDelete, nameOf = (x) => (isMine(x) ? 'You' : userName(x.sender)), isOwn = isMine } = {}) {
  const own = isOwn(m);
  const li = h('li', {
    class: `msg${own ? ' own' : ''}${m.deleted ? ' deleted' : ''}`, 'data-testid': 'message', dataset: { messageId: m.id },
  },
  h('div', { class: 'meta' },
    h('span', { class: 'sender', text: nameOf(m) }),
    timeEl(m.created_at),
    m.edited_at && !m.deleted ? h('span', { class: 'edited', title: new Date(m.edited_at).toLocaleString(), text: '(edited)' }) : null),
  h('div', { class: 'content', text: m.deleted ? '' : m.content }),
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

function renderMessages() {
  const map = S.msgs.get(S.current) || new Map();
  const list = $('messages');
  const msgs = [...map.values()].sort((a, b) => a.id - b.id);
  list.replaceChildren(...msgs.map(chatItem));
  if (!msgs.length) list.append(h('li', { class: 'muted small-text empty', text: 'No messages yet. Say hello!' }));
  $('load-older-btn').hidden = !S.hasOlder.get(S.current);
  renderPending();
}

function nearBottom(list) { return list.scrollHeight - list.scrollTop - list.clientHeight < 80; }
function scrollToBottom(force = false, list = $('messages')) { if (force || nearBottom(list)) list.scrollTop = list.scrollHeight; }

function showMessage(m) {
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
    setSendStatus(`Sent via ${r.method}`, r.method);
    if (r.message) onChatMessage(r.message);
  } catch (err) {
    if (!input.value) input.value = content;
    setSendStatus(`Not sent: ${describe(err)}`, 'error');
  }
}

function startEdit(li, m) {
  if (li.classList.contains('editing')) return;
  li.classList.add('editing');
  const input = h('input', { class: 'edit-input', 'data-testid': 'edit-input', 'aria-label': 'Edit message' });
  input.value = m.content;
  const finish = () => {
    li.classList.remove('editing');
    const cur = (S.msgs.get(m.room_id) && S.msgs.get(m.room_id).get(m.id)) || m;
    const fresh = chatItem(cur);
    if (li.isConnected) li.replaceWith(fresh);
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
  const row = h('div', { class: 'edit-row' }, input, saveBtn,
    h('button', { type: 'button', class: 'cancel-edit-btn secondary small', 'data-testid': 'cancel-edit', text: 'Cancel', onclick: finish }));
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') { ev.preventDefault(); save(); }
    if (ev.key === 'Escape') { ev.preventDefault(); finish(); }
  });
  li.querySelector('.content').replaceWith(row);
  const actions = li.querySelector('.actions');
  if (actions) actions.hidden = true;
  input.focus();
}

async function deleteMessage(m) {
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
          h('span', { class: 'muted small-text', text: r.member_count != null ? `${r.member_count}` : '' }),
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
  await withButton($('leave-room-btn'), async () => {
    try {
      await client.leaveRoom(id);
      S.rooms.delete(id);
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
client.on('member_joined', ({ room_id }) => refreshRoom(room_id));
client.on('member_left', ({ room_id, user }) => {
  if (S.user && user && user.id === S.user.id) {
    S.rooms.delete(room_id);
    if (room_id === S.current) closeRoom();
    renderRooms();
    return;
  }
  if (S.rooms.has(room_id)) refreshRoom(room_id);
  if (user) clearTyping(room_id, user.id);
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
  const roomIds = splitList($('task-room-ids').value).map(Number);
  if (roomIds.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error('Room ids are positive numbers.');
  const usernames = splitList($('task-usernames').value);
  if (roomIds.length) params.room_ids = roomIds;
  if (usernames.length) params.usernames = usernames;
  if (!roomIds.length && !usernames.length) throw new Error('Give room ids or usernames (or both).');
  return params;
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
    if (p.room_ids && p.room_ids.length) parts.push(`rooms ${p.room_ids.join(', ')}`);
    if (p.usernames && p.usernames.length) parts.push(`users ${p.usernames.join(', ')}`);
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
    return `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`;
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
    active ? null : resultsTable(t));
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
  if (existing) { existing.replaceWith(li); return; }
  for (const el of list.querySelectorAll('li[data-task-id]')) {
    if (Number(el.dataset.taskId) < t.id) { list.insertBefore(li, el); return; }
  }
  list.append(li);
}

function upsertTask(task, { rerender = true } = {}) {
  if (!task || task.id == null) return;
  const old = S.tasks.get(task.id) || {};
  const t = { ...old, ...task, _rerender: rerender };
  if (!ACTIVE.has(t.status)) t._cancelling = false;
  S.tasks.set(t.id, t);
  renderTask(t);
}

async function loadTasks() {
  try {
    const { tasks = [] } = await client.getTasks({ limit: 20 });
    for (const t of tasks) upsertTask(t);
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

// ------------------------------------------------------------------ notifications

function renderNotifCount() {
  const el = $('notif-count');
  el.textContent = String(S.notifUnread);
  el.hidden = S.notifUnread <= 0;
}

async function loadNotifCount() {
  try {
    const { notifications = [] } = await client.listNotifications({ unread: true });
    S.notifUnread = notifications.filter((n) => !n.read).length;
    renderNotifCount();
  } catch { /* the count is only a hint */ }
}

function markNotificationRead(n) {
  client.markNotificationRead(n.id).then(() => { S.notifUnread = Math.max(0, S.notifUnread - 1); renderNotifCount(); }).catch(() => {});
}

client.on('notification', ({ notification: n }) => {
  if (!n) return;
  const roomId = n.data && n.data.room_id;
  if (roomId != null && roomId === S.current && isVisible()) { markNotificationRead(n); return; }
  if (!n.read) { S.notifUnread++; renderNotifCount(); }
  const actions = [];
  if (roomId != null) actions.push({ label: 'Open', run: () => { markNotificationRead(n); if (S.rooms.has(roomId)) openRoom(roomId); else fetchRoom(roomId).then(() => openRoom(roomId)); } });
  actions.push({ label: 'Mark read', run: () => markNotificationRead(n) });
  toast({ title: n.title || 'Notification', body: n.body || '', notification: n, actions });
});
client.notifications.on('connected', () => loadNotifCount());

async function readAllNotifications() {
  try {
    await client.readAllNotifications();
    S.notifUnread = 0;
    renderNotifCount();
    for (const el of $('toasts').querySelectorAll('.toast[data-notification-id]')) el.remove();
  } catch (err) {
    toastError(err);
  }
}

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
  el.textContent = s === 'idle' ? '' : (s === 'open' && client.support.guest ? `open · ${client.support.guest.name}` : s);
  el.dataset.state = s;
}

// ------------------------------------------------------------------ staff console (/ws/admin/chat/)

function renderStaffRooms() {
  const list = $('staff-rooms');
  const rooms = [...S.staff.rooms.values()].sort((a, b) => activity(b).localeCompare(activity(a)) || b.id - a.id);
  if (!rooms.length) { list.replaceChildren(h('li', { class: 'empty', text: 'No support conversations.' })); return; }
  list.replaceChildren(...rooms.map((r) => {
    const unread = r.unread_count || 0;
    const li = h('li', { class: r.id === S.staff.current ? 'active' : null, tabindex: 0, role: 'button', 'data-testid': 'staff-room', dataset: { roomId: r.id } },
      h('div', { class: 'room-line' },
        h('span', { class: 'name', text: roomName(r) }),
        h('span', { class: 'badge', 'data-testid': 'unread-badge', hidden: unread === 0, text: unread })),
      h('div', { class: 'room-line sub' }, h('span', { class: 'preview', text: preview(r.last_message) }), timeEl(activity(r))));
    li.addEventListener('click', () => openStaffRoom(r.id));
    li.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') openStaffRoom(r.id); });
    return li;
  }));
}

async function loadStaffRooms() {
  try {
    const { rooms = [] } = await client.adminGetRooms();
    S.staff.rooms.clear();
    for (const r of rooms) S.staff.rooms.set(r.id, r);
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
  if (room) room.unread_count = 0;
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

function onStaffMessage(m) {
  if (!m) return;
  const room = S.staff.rooms.get(m.room_id);
  if (!room) { loadStaffRooms(); return; }
  const prevLast = room.last_message ? room.last_message.id : 0;
  if (m.id > prevLast) {
    room.last_message = { id: m.id, content: m.content, sender: m.sender, created_at: m.created_at };
    if (m.room_id !== S.staff.current && !isMine(m)) room.unread_count = (room.unread_count || 0) + 1;
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
client.admin.on('message', (f) => onStaffMessage(f.message));
client.admin.on('message_updated', (f) => { if (f.message && f.message.room_id === S.staff.current) onStaffMessage(f.message); });
client.admin.on('room_updated', (f) => {
  if (!f.room) return;
  const old = S.staff.rooms.get(f.room.id);
  S.staff.rooms.set(f.room.id, { ...old, ...f.room, unread_count: f.room.id === S.staff.current ? 0 : (f.room.unread_count ?? (old && old.unread_count)) });
  renderStaffRooms();
});
client.admin.on('forbidden', () => { $('staff-console').hidden = true; });
client.admin.on('state', (s) => { const el = $('staff-state'); el.textContent = s === 'idle' ? '' : s; el.dataset.state = s; });

// ------------------------------------------------------------------ wiring

function onSubmit(id, fn) {
  $(id).addEventListener('submit', (ev) => { ev.preventDefault(); fn(); });
}

onSubmit('auth-form', () => doAuth('login'));
$('register-btn').addEventListener('click', () => doAuth('register'));
$('logout-btn').addEventListener('click', async () => {
  $('logout-btn').disabled = true;
  try { await client.logout(); } finally { $('logout-btn').disabled = false; }
});
$('notif-read-all').addEventListener('click', readAllNotifications);

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
$('message-input').addEventListener('blur', stopTyping);

$('task-kind').addEventListener('change', showTaskFields);
onSubmit('task-form', startTask);

onSubmit('support-form', supportSend);
$('support-input').addEventListener('focus', ensureSupport);
// Opening the widget connects (a click, not the toggle event, which also fires for the initial `open`).
$('support-widget').querySelector('summary').addEventListener('click', () => { if (!$('support-widget').open) ensureSupport(); });

onSubmit('staff-form', staffSend);
$('staff-refresh').addEventListener('click', loadStaffRooms);

document.addEventListener('visibilitychange', () => {
  if (!isVisible()) { stopTyping(); return; }
  if (S.current != null) markReadSoon(0);
  if (S.staff.current != null) staffMarkRead();
});

// ------------------------------------------------------------------ start

window.hearthPeople?.attach({ client, loadOlder }); // people.js (members, presence, people search, unread divider)
showTaskFields();
renderSupportState();
if (client.isSignedIn) {
  enterApp(client.user);
  client.me().then((u) => applyUser(u)).catch(() => { /* a 401 signs out through the client */ });
} else {
  leaveApp(null);
  // A returning anonymous visitor sees their support conversation at once.
  if (client.guestToken) ensureSupport();
}
