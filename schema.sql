-- Hearth schema: the single source of truth, applied at every start (idempotent).
-- Times are INTEGER milliseconds since the Unix epoch (UTC).
-- The schema version lives in PRAGMA user_version; src/db/mod.rs migrates older files.

CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT,                               -- NULL for guests (support visitors)
    is_staff      INTEGER NOT NULL DEFAULT 0,
    is_guest      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

-- Opaque credentials. Only a SHA-256 of each value is stored.
--   access: a bearer token; ticket: a single-use WebSocket ticket minted by an access token
--   (parent_id); guest: a support visitor's resume token.
CREATE TABLE IF NOT EXISTS tokens (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CHECK (kind IN ('access', 'ticket', 'guest')),
    hash       BLOB    NOT NULL UNIQUE,
    parent_id  INTEGER REFERENCES tokens(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,                               -- NULL: never
    revoked_at INTEGER,
    used_at    INTEGER
);
CREATE INDEX IF NOT EXISTS tokens_user ON tokens(user_id);
CREATE INDEX IF NOT EXISTS tokens_parent ON tokens(parent_id);

CREATE TABLE IF NOT EXISTS rooms (
    id               INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL,
    kind             TEXT    NOT NULL CHECK (kind IN ('group', 'direct', 'support')),
    is_public        INTEGER NOT NULL DEFAULT 0,
    direct_key       TEXT    UNIQUE,                  -- 'low_id:high_id' for direct rooms
    support_user_id  INTEGER UNIQUE REFERENCES users(id), -- the visitor of a support room
    created_by       INTEGER REFERENCES users(id),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,                -- newest message's time, else creation
    staff_last_read  INTEGER NOT NULL DEFAULT 0       -- support rooms: staff's shared read marker
);
CREATE INDEX IF NOT EXISTS rooms_public ON rooms(is_public, kind, last_activity_at);
CREATE INDEX IF NOT EXISTS rooms_kind ON rooms(kind, last_activity_at);

CREATE TABLE IF NOT EXISTS room_members (
    room_id              INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id              INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    joined_at            INTEGER NOT NULL,
    last_read_message_id INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS room_members_user ON room_members(user_id, room_id);

-- AUTOINCREMENT: ids grow strictly with insertion order and are never reused, so
-- "every message after id N" is a valid resume cursor.
CREATE TABLE IF NOT EXISTS messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id    INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    sender_id  INTEGER REFERENCES users(id),
    content    TEXT    NOT NULL,
    client_id  TEXT,
    created_at INTEGER NOT NULL,
    edited_at  INTEGER,
    deleted    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_room ON messages(room_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_id
    ON messages(sender_id, room_id, client_id) WHERE client_id IS NOT NULL;

-- Background tasks. `result` holds the full (or, when cancelled or interrupted, partial) result.
CREATE TABLE IF NOT EXISTS tasks (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL,
    params         TEXT    NOT NULL,                  -- JSON
    status         TEXT    NOT NULL CHECK (status IN
                     ('queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted')),
    progress       INTEGER NOT NULL DEFAULT 0,        -- 0..100
    processed      INTEGER NOT NULL DEFAULT 0,
    total          INTEGER NOT NULL DEFAULT 0,
    result         TEXT,                              -- JSON
    result_summary TEXT,                              -- JSON
    error          TEXT,
    created_at     INTEGER NOT NULL,
    started_at     INTEGER,
    finished_at    INTEGER,
    -- Leases (src/tasks/runner.rs): the node running the task (random per process start), the
    -- time (ms) until which its lease holds (renewed while it runs), and whether its owner asked
    -- to cancel it (through any node). Databases from before these columns get them in `migrate`.
    node             INTEGER,
    lease_until      INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tasks_user ON tasks(user_id, id);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks(status, id);
-- A user's queued and running tasks, counted at every start (max_active_tasks_per_user).
CREATE INDEX IF NOT EXISTS tasks_user_active ON tasks(user_id)
    WHERE status IN ('queued', 'running');

CREATE TABLE IF NOT EXISTS notifications (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CHECK (kind IN ('direct_message', 'mention', 'task')),
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    data       TEXT    NOT NULL,                      -- JSON
    read       INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_user ON notifications(user_id, read, id);

-- Changes made to users from the command line (`hearth user revoke|delete|passwd|set-staff`)
-- while a server runs: each server reads new rows every half second and acts on the user's open
-- sockets. The database is the log; no row is ever updated.
CREATE TABLE IF NOT EXISTS user_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL,                       -- no foreign key: the user may be gone
    kind       TEXT    NOT NULL CHECK (kind IN ('revoked', 'deleted', 'passwd', 'staff', 'unstaff')),
    created_at INTEGER NOT NULL
);

-- The cluster's event log: what a node started with --bus publishes for the other nodes'
-- sockets (src/hub/cluster.rs). Unused by a single node; kept minutes, then pruned.
CREATE TABLE IF NOT EXISTS events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    node       INTEGER NOT NULL,
    body       TEXT    NOT NULL,                      -- JSON
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_created ON events(created_at);

-- The sockets every node of a cluster has open, and the nodes' heartbeats: the per-user socket
-- cap across nodes (src/db/sockets.rs). Unused by a single node.
CREATE TABLE IF NOT EXISTS nodes (
    id      INTEGER PRIMARY KEY,
    seen_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sockets (
    node    INTEGER NOT NULL,
    conn_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    chat    INTEGER NOT NULL DEFAULT 0,                -- a /ws/chat/ socket (presence)
    PRIMARY KEY (node, conn_id)
);
CREATE INDEX IF NOT EXISTS sockets_user ON sockets(user_id);

-- Window quotas shared by every process on this database, kept across restarts (src/quota.rs):
-- failed logins per username, registrations and new support guests per client address. A
-- window starts with a key's first attempt; rows whose window ended are deleted a few at a time
-- by later attempts of the same scope.
CREATE TABLE IF NOT EXISTS quotas (
    scope        TEXT    NOT NULL,                    -- 'login', 'register', 'guest'
    key          TEXT    NOT NULL,                    -- normalised: lower-case, at most 64 chars
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS quotas_window ON quotas(scope, window_start);
