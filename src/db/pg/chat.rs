//! Rooms, members and messages on PostgreSQL: the statements of [`crate::db::chat`], same
//! meaning. In the same order as the SQLite submodules: rooms and members, messages, read
//! markers, and adopting a guest's support conversation.

use super::{locks, PgTransaction};
use crate::db::chat::{Cursor, LastMessage, Message, Room, RoomInfo, RoomKind};
use crate::db::users::{User, UserRef};
use crate::error::{is_unique_violation, AppError, AppResult};
use crate::time::Timestamp;
use postgres::Row;

/// Runs `f` inside a savepoint of `c`. A failed statement aborts the transaction it runs in, so
/// a statement whose failure the caller may survive (SQLite leaves the transaction usable after
/// one) runs here: on failure the savepoint is rolled back and the caller's transaction goes on.
/// The outer `Err` is a failure of the savepoint itself; the inner one is `f`'s, undone.
fn in_savepoint<T>(
    c: &mut PgTransaction<'_>,
    f: impl FnOnce(&mut PgTransaction<'_>) -> Result<T, postgres::Error>,
) -> AppResult<Result<T, postgres::Error>> {
    let mut sp = c.transaction()?;
    match f(&mut sp) {
        Ok(v) => {
            sp.commit()?;
            Ok(Ok(v))
        }
        Err(e) => {
            sp.rollback()?;
            Ok(Err(e))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rooms and their members (`crate::db::chat::rooms`).
// ---------------------------------------------------------------------------------------------

/// A stored room kind (what the private `RoomKind::parse` of the SQLite module does).
fn parse_kind(s: &str) -> RoomKind {
    match s {
        "direct" => RoomKind::Direct,
        "support" => RoomKind::Support,
        _ => RoomKind::Group,
    }
}

/// The room columns, as seen by viewer `$1`. `staff` views of support rooms count unread
/// messages from the staff's shared read marker. A viewer who is not a member (a room in the
/// public directory) has nothing unread, as after joining.
fn room_select(staff_view: bool) -> String {
    let last_read = if staff_view {
        "r.staff_last_read"
    } else {
        "COALESCE((SELECT last_read_message_id FROM room_members \
          WHERE room_id = r.id AND user_id = $1), \
          (SELECT max(id) FROM messages WHERE room_id = r.id), 0)"
    };
    let unread_from_others = if staff_view {
        "(m.sender_id IS NULL OR m.sender_id = r.support_user_id)"
    } else {
        "(m.sender_id IS NULL OR m.sender_id != $1)"
    };
    format!(
        "SELECT r.id,
            CASE WHEN r.kind = 'direct' THEN COALESCE((SELECT u.display_name FROM room_members rm
                 JOIN users u ON u.id = rm.user_id
                 WHERE rm.room_id = r.id AND rm.user_id != $1 LIMIT 1), r.name)
                 ELSE r.name END,
            r.kind, r.is_public, r.created_at, r.updated_at,
            (SELECT count(*) FROM room_members WHERE room_id = r.id),
            (SELECT count(*) FROM messages m WHERE m.room_id = r.id AND NOT m.deleted
                AND m.id > {last_read} AND {unread_from_others}),
            lm.id, lm.content, lm.created_at, lu.id, lu.username, lu.display_name
         FROM rooms r
         LEFT JOIN messages lm ON lm.id = (SELECT max(id) FROM messages
              WHERE room_id = r.id AND NOT deleted)
         LEFT JOIN users lu ON lu.id = lm.sender_id"
    )
}

/// A room from a row of [`room_select`].
fn room_from_row(r: &Row) -> Result<Room, postgres::Error> {
    let last_id: Option<i64> = r.try_get(8)?;
    let last_message = match last_id {
        Some(id) => {
            let sender_id: Option<i64> = r.try_get(11)?;
            Some(LastMessage {
                id,
                content: r.try_get(9)?,
                created_at: Timestamp::from_millis(r.try_get(10)?),
                sender: match sender_id {
                    Some(sid) => Some(UserRef {
                        id: sid,
                        username: r.try_get(12)?,
                        display_name: r.try_get(13)?,
                    }),
                    None => None,
                },
            })
        }
        None => None,
    };
    Ok(Room {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        kind: parse_kind(r.try_get(2)?),
        is_public: r.try_get(3)?,
        created_at: Timestamp::from_millis(r.try_get(4)?),
        updated_at: Timestamp::from_millis(r.try_get(5)?),
        member_count: r.try_get(6)?,
        unread_count: r.try_get(7)?,
        last_message,
    })
}

/// One room as `viewer` sees it (`staff_view`: as staff see a support room).
pub fn room_view(
    c: &mut PgTransaction<'_>,
    room_id: i64,
    viewer: i64,
    staff_view: bool,
) -> AppResult<Option<Room>> {
    let sql = format!("{} WHERE r.id = $2", room_select(staff_view));
    let row = c.query_opt(&sql, &[&viewer, &room_id])?;
    Ok(row.as_ref().map(room_from_row).transpose()?)
}

/// The viewer's rooms of the given kinds, most recent activity first.
pub fn rooms_of(
    c: &mut PgTransaction<'_>,
    viewer: i64,
    kinds: &[RoomKind],
) -> AppResult<Vec<Room>> {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    let sql = format!(
        "{} WHERE r.id IN (SELECT room_id FROM room_members WHERE user_id = $1)
            AND r.kind = ANY($2)
         ORDER BY r.last_activity_at DESC, r.id DESC",
        room_select(false)
    );
    let rows = c.query(&sql, &[&viewer, &kinds])?;
    Ok(rows.iter().map(room_from_row).collect::<Result<_, _>>()?)
}

/// Every support room, as staff see them, most recent activity first.
pub fn support_rooms(c: &mut PgTransaction<'_>, viewer: i64) -> AppResult<Vec<Room>> {
    let sql = format!(
        "{} WHERE r.kind = 'support' ORDER BY r.last_activity_at DESC, r.id DESC",
        room_select(true)
    );
    let rows = c.query(&sql, &[&viewer])?;
    Ok(rows.iter().map(room_from_row).collect::<Result<_, _>>()?)
}

/// Public group rooms whose name contains `query` (case-insensitive), most active first.
/// `ILIKE` stands for SQLite's `LIKE`, which ignores case.
pub fn public_rooms(
    c: &mut PgTransaction<'_>,
    viewer: i64,
    query: &str,
    limit: i64,
) -> AppResult<Vec<Room>> {
    let escaped = query
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let sql = format!(
        "{} WHERE r.kind = 'group' AND r.is_public AND r.name ILIKE $2 ESCAPE '\\'
         ORDER BY r.last_activity_at DESC, r.id DESC LIMIT $3",
        room_select(false)
    );
    let rows = c.query(&sql, &[&viewer, &format!("%{escaped}%"), &limit])?;
    Ok(rows.iter().map(room_from_row).collect::<Result<_, _>>()?)
}

/// The facts about a room that authorization needs.
pub fn room_info(c: &mut PgTransaction<'_>, room_id: i64) -> AppResult<Option<RoomInfo>> {
    let row = c.query_opt(
        "SELECT id, kind, is_public, support_user_id FROM rooms WHERE id = $1",
        &[&room_id],
    )?;
    match row {
        Some(r) => Ok(Some(RoomInfo {
            id: r.try_get(0)?,
            kind: parse_kind(r.try_get(1)?),
            is_public: r.try_get(2)?,
            support_user_id: r.try_get(3)?,
        })),
        None => Ok(None),
    }
}

/// Whether `user_id` is a member of the room.
pub fn is_member(c: &mut PgTransaction<'_>, room_id: i64, user_id: i64) -> AppResult<bool> {
    let row = c.query_opt(
        "SELECT 1 FROM room_members WHERE room_id = $1 AND user_id = $2",
        &[&room_id, &user_id],
    )?;
    Ok(row.is_some())
}

/// The members' ids.
pub fn member_ids(c: &mut PgTransaction<'_>, room_id: i64) -> AppResult<Vec<i64>> {
    let rows = c.query(
        "SELECT user_id FROM room_members WHERE room_id = $1 ORDER BY user_id",
        &[&room_id],
    )?;
    Ok(rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?)
}

/// A room's members with their read markers, ordered by display name (then username), both
/// case-insensitively as SQLite's `COLLATE NOCASE` orders them.
pub fn members(c: &mut PgTransaction<'_>, room_id: i64) -> AppResult<Vec<(User, i64)>> {
    let rows = c.query(
        "SELECT u.id, u.username, u.display_name, u.is_staff, u.created_at, u.is_guest,
                m.last_read_message_id
         FROM room_members m JOIN users u ON u.id = m.user_id
         WHERE m.room_id = $1
         ORDER BY lower(u.display_name), lower(u.username)",
        &[&room_id],
    )?;
    let members = rows
        .iter()
        .map(|r| -> Result<(User, i64), postgres::Error> {
            Ok((super::users::from_row(r)?, r.try_get(6)?))
        })
        .collect::<Result<_, _>>()?;
    Ok(members)
}

/// Everyone who shares a room with `user_id`, and the user themself, by id.
pub fn co_member_ids(c: &mut PgTransaction<'_>, user_id: i64) -> AppResult<Vec<i64>> {
    // SQLite's UNION comes out sorted; PostgreSQL's needs the ORDER BY.
    let rows = c.query(
        "SELECT $1::BIGINT UNION
         SELECT other.user_id FROM room_members mine
         JOIN room_members other ON other.room_id = mine.room_id
         WHERE mine.user_id = $1
         ORDER BY 1",
        &[&user_id],
    )?;
    Ok(rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?)
}

/// Creates a room; returns its id. `conflict` if its `direct_key` or `support_user_id` is
/// taken: the callers look for the room first, in the same transaction, but unlike SQLite's
/// serialized writes another node may create it in between (the insert then waits for that
/// transaction and fails once it commits). The insert runs in a savepoint, so the caller's
/// transaction stays usable.
pub fn insert_room(
    c: &mut PgTransaction<'_>,
    name: &str,
    kind: RoomKind,
    is_public: bool,
    created_by: Option<i64>,
    direct_key: Option<&str>,
    support_user_id: Option<i64>,
) -> AppResult<i64> {
    let now = Timestamp::now().millis();
    let res = in_savepoint(c, |sp| {
        sp.query_one(
            "INSERT INTO rooms (name, kind, is_public, direct_key, support_user_id, created_by,
                                created_at, updated_at, last_activity_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7) RETURNING id",
            &[
                &name,
                &kind.as_str(),
                &is_public,
                &direct_key,
                &support_user_id,
                &created_by,
                &now,
            ],
        )?
        .try_get::<_, i64>(0)
    })?;
    match res {
        Ok(id) => Ok(id),
        Err(e) if is_unique_violation(&e) => {
            Err(AppError::Conflict("the room already exists".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// The direct room with this key, if any.
pub fn direct_room(c: &mut PgTransaction<'_>, key: &str) -> AppResult<Option<i64>> {
    let row = c.query_opt("SELECT id FROM rooms WHERE direct_key = $1", &[&key])?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// The support room of a visitor, if any.
pub fn support_room_of(c: &mut PgTransaction<'_>, user_id: i64) -> AppResult<Option<i64>> {
    let row = c.query_opt(
        "SELECT id FROM rooms WHERE support_user_id = $1",
        &[&user_id],
    )?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Adds a member, reading from the newest message on (so history is not unread). `false` if
/// already a member.
pub fn add_member(c: &mut PgTransaction<'_>, room_id: i64, user_id: i64) -> AppResult<bool> {
    let n = c.execute(
        "INSERT INTO room_members (room_id, user_id, joined_at, last_read_message_id)
         VALUES ($1, $2, $3, COALESCE((SELECT max(id) FROM messages WHERE room_id = $1), 0))
         ON CONFLICT (room_id, user_id) DO NOTHING",
        &[&room_id, &user_id, &Timestamp::now().millis()],
    )?;
    if n == 1 {
        touch_room(c, room_id)?;
    }
    Ok(n == 1)
}

/// Removes a member; `false` if not a member.
pub fn remove_member(c: &mut PgTransaction<'_>, room_id: i64, user_id: i64) -> AppResult<bool> {
    let n = c.execute(
        "DELETE FROM room_members WHERE room_id = $1 AND user_id = $2",
        &[&room_id, &user_id],
    )?;
    if n == 1 {
        touch_room(c, room_id)?;
    }
    Ok(n == 1)
}

fn touch_room(c: &mut PgTransaction<'_>, room_id: i64) -> AppResult<()> {
    c.execute(
        "UPDATE rooms SET updated_at = $2 WHERE id = $1",
        &[&room_id, &Timestamp::now().millis()],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Messages (`crate::db::chat::messages`).
// ---------------------------------------------------------------------------------------------

const MESSAGE_COLUMNS: &str = "m.id, m.room_id, m.sender_id, u.username, u.display_name, \
     m.content, m.client_id, m.created_at, m.edited_at, m.deleted";

/// A message from a row that starts with [`MESSAGE_COLUMNS`].
fn message_from_row(r: &Row) -> Result<Message, postgres::Error> {
    let sender_id: Option<i64> = r.try_get(2)?;
    let sender = match sender_id {
        Some(id) => Some(UserRef {
            id,
            username: r.try_get(3)?,
            display_name: r.try_get(4)?,
        }),
        None => None,
    };
    Ok(Message {
        id: r.try_get(0)?,
        room_id: r.try_get(1)?,
        sender,
        content: r.try_get(5)?,
        client_id: r.try_get(6)?,
        created_at: Timestamp::from_millis(r.try_get(7)?),
        edited_at: r.try_get::<_, Option<i64>>(8)?.map(Timestamp::from_millis),
        deleted: r.try_get(9)?,
    })
}

/// The message a sender already stored under `client_id` in a room.
///
/// Takes [`locks::MESSAGES`] first (the writer looks a `client_id` up right before inserting):
/// a retry on another node waits for the original's transaction to end, then finds it, so it
/// answers the original message rather than racing it.
pub fn message_by_client_id(
    c: &mut PgTransaction<'_>,
    sender_id: i64,
    room_id: i64,
    client_id: &str,
) -> AppResult<Option<Message>> {
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&locks::MESSAGES])?;
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.sender_id
         WHERE m.sender_id = $1 AND m.room_id = $2 AND m.client_id = $3"
    );
    let row = c.query_opt(&sql, &[&sender_id, &room_id, &client_id])?;
    Ok(row.as_ref().map(message_from_row).transpose()?)
}

/// Stores a message and bumps the room's activity.
///
/// Ids must be committed in id order, on every node, for "every message after id N" to stay a
/// valid resume cursor (sync, long-polls): an identity sequence alone hands out ids in one
/// order but lets transactions commit in another, so a reader could see id N+1, move its cursor
/// past it, and never see id N committed a moment later. So the insert first takes the
/// transaction-scoped advisory lock [`locks::MESSAGES`], held until the caller's transaction
/// ends: the next insert, from any node, gets its id only after this one is committed (or
/// rolled back). The lock is taken outside the savepoint below, since rolling a savepoint back
/// releases the locks taken inside it.
///
/// The insert and the room's update run in a savepoint: the message writer stores a batch of
/// sends in one transaction and answers each on its own, so one failed send (a room deleted
/// meanwhile by another node, or a `client_id` stored by another node since the caller looked
/// for it, which is `conflict`) must not abort the others, as it does not with SQLite.
pub fn insert_message(
    c: &mut PgTransaction<'_>,
    room_id: i64,
    sender: &User,
    content: &str,
    client_id: Option<&str>,
    now: Timestamp,
) -> AppResult<Message> {
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&locks::MESSAGES])?;
    let res = in_savepoint(c, |sp| {
        let id: i64 = sp
            .query_one(
                "INSERT INTO messages (room_id, sender_id, content, client_id, created_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&room_id, &sender.id, &content, &client_id, &now.millis()],
            )?
            .try_get(0)?;
        sp.execute(
            "UPDATE rooms SET last_activity_at = $2, updated_at = $2 WHERE id = $1",
            &[&room_id, &now.millis()],
        )?;
        Ok(id)
    })?;
    let id = match res {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::Conflict(
                "a message with this client_id was just stored; send it again to get it".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Message {
        id,
        room_id,
        sender: Some(UserRef::from(sender)),
        content: content.to_string(),
        client_id: client_id.map(str::to_string),
        created_at: now,
        edited_at: None,
        deleted: false,
    })
}

/// A message by id.
pub fn message(c: &mut PgTransaction<'_>, id: i64) -> AppResult<Option<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.sender_id
         WHERE m.id = $1"
    );
    let row = c.query_opt(&sql, &[&id])?;
    Ok(row.as_ref().map(message_from_row).transpose()?)
}

/// Replaces a message's content.
pub fn edit_message(c: &mut PgTransaction<'_>, id: i64, content: &str) -> AppResult<()> {
    c.execute(
        "UPDATE messages SET content = $2, edited_at = $3 WHERE id = $1",
        &[&id, &content, &Timestamp::now().millis()],
    )?;
    Ok(())
}

/// Marks a message deleted and empties it.
pub fn delete_message(c: &mut PgTransaction<'_>, id: i64) -> AppResult<()> {
    c.execute(
        "UPDATE messages SET content = '', deleted = TRUE, edited_at = $2 WHERE id = $1",
        &[&id, &Timestamp::now().millis()],
    )?;
    Ok(())
}

/// A page of a room's history, oldest first, and whether more exist in the paging direction.
pub fn messages_page(
    c: &mut PgTransaction<'_>,
    room_id: i64,
    cursor: Cursor,
    limit: i64,
) -> AppResult<(Vec<Message>, bool)> {
    let (filter, order, bound) = match cursor {
        Cursor::Latest => ("", "DESC", 0),
        Cursor::Before(x) => ("AND m.id < $3", "DESC", x),
        Cursor::After(x) => ("AND m.id > $3", "ASC", x),
    };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.sender_id
         WHERE m.room_id = $1 {filter} ORDER BY m.id {order} LIMIT $2"
    );
    let fetch = limit + 1;
    let found = if filter.is_empty() {
        c.query(&sql, &[&room_id, &fetch])?
    } else {
        c.query(&sql, &[&room_id, &fetch, &bound])?
    };
    let mut rows: Vec<Message> = found
        .iter()
        .map(message_from_row)
        .collect::<Result<_, _>>()?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if order == "DESC" {
        rows.reverse();
    }
    Ok((rows, has_more))
}

/// Messages in any of the user's rooms with id above `after`, oldest first.
pub fn sync(
    c: &mut PgTransaction<'_>,
    user_id: i64,
    after: i64,
    limit: i64,
) -> AppResult<(Vec<Message>, bool)> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.sender_id
         WHERE m.id > $2 AND m.room_id IN (SELECT room_id FROM room_members WHERE user_id = $1)
         ORDER BY m.id ASC LIMIT $3"
    );
    let mut rows: Vec<Message> = c
        .query(&sql, &[&user_id, &after, &(limit + 1)])?
        .iter()
        .map(message_from_row)
        .collect::<Result<_, _>>()?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, has_more))
}

/// Every message with id above `after`, in any room, oldest first, at most `limit`.
pub fn messages_after(
    c: &mut PgTransaction<'_>,
    after: i64,
    limit: i64,
) -> AppResult<Vec<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m LEFT JOIN users u ON u.id = m.sender_id
         WHERE m.id > $1 ORDER BY m.id ASC LIMIT $2"
    );
    Ok(c.query(&sql, &[&after, &limit])?
        .iter()
        .map(message_from_row)
        .collect::<Result<_, _>>()?)
}

/// The newest stored message id anywhere (0 when there is none).
pub fn latest_message_id(c: &mut PgTransaction<'_>) -> AppResult<i64> {
    Ok(
        c.query_one("SELECT COALESCE(max(id), 0) FROM messages", &[])?
            .try_get(0)?,
    )
}

// ---------------------------------------------------------------------------------------------
// Read markers (`crate::db::chat::reads`).
// ---------------------------------------------------------------------------------------------

/// The id of a room's newest message (0 when it has none).
fn newest_message_id(c: &mut PgTransaction<'_>, room_id: i64) -> AppResult<i64> {
    Ok(c.query_one(
        "SELECT COALESCE(max(id), 0) FROM messages WHERE room_id = $1",
        &[&room_id],
    )?
    .try_get(0)?)
}

/// Moves a member's read marker forward (never back) to `message_id`, or to the newest message
/// when `None`. Returns the marker and the member's unread count. An error if the user is not a
/// member, as with SQLite.
pub fn mark_read(
    c: &mut PgTransaction<'_>,
    room_id: i64,
    user_id: i64,
    message_id: Option<i64>,
) -> AppResult<(i64, i64)> {
    let target = match message_id {
        Some(id) => id,
        None => newest_message_id(c, room_id)?,
    };
    c.execute(
        "UPDATE room_members SET last_read_message_id = GREATEST(last_read_message_id, $3)
         WHERE room_id = $1 AND user_id = $2",
        &[&room_id, &user_id, &target],
    )?;
    let last: i64 = c
        .query_one(
            "SELECT last_read_message_id FROM room_members WHERE room_id = $1 AND user_id = $2",
            &[&room_id, &user_id],
        )?
        .try_get(0)?;
    let unread: i64 = c
        .query_one(
            "SELECT count(*) FROM messages WHERE room_id = $1 AND id > $2 AND NOT deleted
               AND (sender_id IS NULL OR sender_id != $3)",
            &[&room_id, &last, &user_id],
        )?
        .try_get(0)?;
    Ok((last, unread))
}

/// Moves the staff's shared read marker of a support room forward. Returns the marker and the
/// staff's unread count (the visitor's messages after it).
pub fn staff_mark_read(
    c: &mut PgTransaction<'_>,
    room_id: i64,
    message_id: Option<i64>,
) -> AppResult<(i64, i64)> {
    let target = match message_id {
        Some(id) => id,
        None => newest_message_id(c, room_id)?,
    };
    c.execute(
        "UPDATE rooms SET staff_last_read = GREATEST(staff_last_read, $2) WHERE id = $1",
        &[&room_id, &target],
    )?;
    let row = c.query_one(
        "SELECT r.staff_last_read, (SELECT count(*) FROM messages m WHERE m.room_id = r.id
            AND m.id > r.staff_last_read AND NOT m.deleted
            AND (m.sender_id IS NULL OR m.sender_id = r.support_user_id))
         FROM rooms r WHERE r.id = $1",
        &[&room_id],
    )?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

// ---------------------------------------------------------------------------------------------
// Adopting a guest's support conversation (`crate::db::chat::adopt`).
// ---------------------------------------------------------------------------------------------

/// Makes the guest's support conversation the user's own, in the caller's transaction (see
/// [`crate::db::chat::adopt_support_room`]). With no conversation of their own, the guest's
/// room becomes theirs (renamed after them; the guest's messages become theirs). With one, the
/// guest's messages move into it (keeping their ids; their `client_id`s are dropped) and the
/// guest's room is deleted. Returns the user's support room, if there is one now.
pub fn adopt_support_room(
    c: &mut PgTransaction<'_>,
    guest_id: i64,
    user: &User,
) -> AppResult<Option<i64>> {
    let Some(guest_room) = support_room_of(c, guest_id)? else {
        return support_room_of(c, user.id);
    };
    let now = Timestamp::now().millis();
    match support_room_of(c, user.id)? {
        None => {
            c.execute(
                "UPDATE rooms SET support_user_id = $2, created_by = $2, name = $3, updated_at = $4
                 WHERE id = $1",
                &[
                    &guest_room,
                    &user.id,
                    &format!("Support: {}", user.display_name),
                    &now,
                ],
            )?;
            c.execute(
                "UPDATE room_members SET user_id = $3 WHERE room_id = $1 AND user_id = $2",
                &[&guest_room, &guest_id, &user.id],
            )?;
            c.execute(
                "UPDATE messages SET sender_id = $3 WHERE room_id = $1 AND sender_id = $2",
                &[&guest_room, &guest_id, &user.id],
            )?;
            Ok(Some(guest_room))
        }
        Some(own) => {
            c.execute(
                "UPDATE messages
                 SET room_id = $2,
                     sender_id = CASE WHEN sender_id = $3 THEN $4 ELSE sender_id END,
                     client_id = NULL
                 WHERE room_id = $1",
                &[&guest_room, &own, &guest_id, &user.id],
            )?;
            c.execute(
                "UPDATE rooms SET
                   last_activity_at = GREATEST(last_activity_at,
                                               (SELECT last_activity_at FROM rooms WHERE id = $1)),
                   updated_at = $3
                 WHERE id = $2",
                &[&guest_room, &own, &now],
            )?;
            c.execute("DELETE FROM rooms WHERE id = $1", &[&guest_room])?;
            Ok(Some(own))
        }
    }
}
