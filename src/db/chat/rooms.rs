//! Rooms and their members: group, direct and support rooms, and rooms as a viewer sees them.

use crate::db::users::{User, UserRef};
use crate::error::AppResult;
use crate::time::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

/// A room's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// A named room with members.
    Group,
    /// A two-person conversation.
    Direct,
    /// A visitor's support conversation.
    Support,
}

impl RoomKind {
    fn parse(s: &str) -> RoomKind {
        match s {
            "direct" => RoomKind::Direct,
            "support" => RoomKind::Support,
            _ => RoomKind::Group,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Group => "group",
            RoomKind::Direct => "direct",
            RoomKind::Support => "support",
        }
    }
}

/// `last_message` of a room.
#[derive(Debug, Clone, Serialize)]
pub struct LastMessage {
    /// Message id.
    pub id: i64,
    /// Content.
    pub content: String,
    /// Sender.
    pub sender: Option<UserRef>,
    /// When sent.
    pub created_at: Timestamp,
}

/// A room as one viewer sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Room {
    /// Id.
    pub id: i64,
    /// Name (for a direct room: the other person's display name).
    pub name: String,
    /// Kind.
    pub kind: RoomKind,
    /// Listed in the public directory and joinable.
    pub is_public: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change of the room or its newest message.
    pub updated_at: Timestamp,
    /// Members.
    pub member_count: i64,
    /// Messages from others after the viewer's last read message.
    pub unread_count: i64,
    /// Newest message that is not deleted.
    pub last_message: Option<LastMessage>,
}

/// The facts that authorization needs.
#[derive(Debug, Clone)]
pub struct RoomInfo {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: RoomKind,
    /// Public?
    pub is_public: bool,
    /// For support rooms: the visitor.
    pub support_user_id: Option<i64>,
}

/// The room columns, as seen by viewer `?1`. `staff` views of support rooms count unread
/// messages from the staff's shared read marker. A viewer who is not a member (a room in the
/// public directory) has nothing unread, as after joining.
fn room_select(staff_view: bool) -> String {
    let last_read = if staff_view {
        "r.staff_last_read"
    } else {
        "COALESCE((SELECT last_read_message_id FROM room_members \
          WHERE room_id = r.id AND user_id = ?1), \
          (SELECT max(id) FROM messages WHERE room_id = r.id), 0)"
    };
    let unread_from_others = if staff_view {
        "(m.sender_id IS NULL OR m.sender_id = r.support_user_id)"
    } else {
        "(m.sender_id IS NULL OR m.sender_id != ?1)"
    };
    format!(
        "SELECT r.id,
            CASE WHEN r.kind = 'direct' THEN COALESCE((SELECT u.display_name FROM room_members rm
                 JOIN users u ON u.id = rm.user_id
                 WHERE rm.room_id = r.id AND rm.user_id != ?1 LIMIT 1), r.name)
                 ELSE r.name END,
            r.kind, r.is_public, r.created_at, r.updated_at,
            (SELECT count(*) FROM room_members WHERE room_id = r.id),
            (SELECT count(*) FROM messages m WHERE m.room_id = r.id AND m.deleted = 0
                AND m.id > {last_read} AND {unread_from_others}),
            lm.id, lm.content, lm.created_at, lu.id, lu.username, lu.display_name
         FROM rooms r
         LEFT JOIN messages lm ON lm.id = (SELECT max(id) FROM messages
              WHERE room_id = r.id AND deleted = 0)
         LEFT JOIN users lu ON lu.id = lm.sender_id"
    )
}

fn room_from_row(r: &Row<'_>) -> rusqlite::Result<Room> {
    let last_id: Option<i64> = r.get(8)?;
    let last_message = match last_id {
        Some(id) => {
            let sender_id: Option<i64> = r.get(11)?;
            Some(LastMessage {
                id,
                content: r.get(9)?,
                created_at: Timestamp::from_millis(r.get(10)?),
                sender: match sender_id {
                    Some(sid) => Some(UserRef {
                        id: sid,
                        username: r.get(12)?,
                        display_name: r.get(13)?,
                    }),
                    None => None,
                },
            })
        }
        None => None,
    };
    Ok(Room {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: RoomKind::parse(&r.get::<_, String>(2)?),
        is_public: r.get(3)?,
        created_at: Timestamp::from_millis(r.get(4)?),
        updated_at: Timestamp::from_millis(r.get(5)?),
        member_count: r.get(6)?,
        unread_count: r.get(7)?,
        last_message,
    })
}

/// One room as `viewer` sees it (`staff_view`: as staff see a support room).
pub fn room_view(
    conn: &Connection,
    room_id: i64,
    viewer: i64,
    staff_view: bool,
) -> AppResult<Option<Room>> {
    let sql = format!("{} WHERE r.id = ?2", room_select(staff_view));
    Ok(conn
        .query_row(&sql, params![viewer, room_id], room_from_row)
        .optional()?)
}

/// The viewer's rooms of the given kinds, most recent activity first.
pub fn rooms_of(conn: &Connection, viewer: i64, kinds: &[RoomKind]) -> AppResult<Vec<Room>> {
    let kinds: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.as_str())).collect();
    let sql = format!(
        "{} WHERE r.id IN (SELECT room_id FROM room_members WHERE user_id = ?1)
            AND r.kind IN ({})
         ORDER BY r.last_activity_at DESC, r.id DESC",
        room_select(false),
        kinds.join(",")
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![viewer], room_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every support room, as staff see them, most recent activity first.
pub fn support_rooms(conn: &Connection, viewer: i64) -> AppResult<Vec<Room>> {
    let sql = format!(
        "{} WHERE r.kind = 'support' ORDER BY r.last_activity_at DESC, r.id DESC",
        room_select(true)
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![viewer], room_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Public group rooms whose name contains `query` (case-insensitive), most active first.
pub fn public_rooms(
    conn: &Connection,
    viewer: i64,
    query: &str,
    limit: i64,
) -> AppResult<Vec<Room>> {
    let escaped = query
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let sql = format!(
        "{} WHERE r.kind = 'group' AND r.is_public = 1 AND r.name LIKE ?2 ESCAPE '\\'
         ORDER BY r.last_activity_at DESC, r.id DESC LIMIT ?3",
        room_select(false)
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(
        params![viewer, format!("%{escaped}%"), limit],
        room_from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The facts about a room that authorization needs.
pub fn room_info(conn: &Connection, room_id: i64) -> AppResult<Option<RoomInfo>> {
    Ok(conn
        .query_row(
            "SELECT id, kind, is_public, support_user_id FROM rooms WHERE id = ?1",
            [room_id],
            |r| {
                Ok(RoomInfo {
                    id: r.get(0)?,
                    kind: RoomKind::parse(&r.get::<_, String>(1)?),
                    is_public: r.get(2)?,
                    support_user_id: r.get(3)?,
                })
            },
        )
        .optional()?)
}

/// Whether `user_id` is a member of the room.
pub fn is_member(conn: &Connection, room_id: i64, user_id: i64) -> AppResult<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM room_members WHERE room_id = ?1 AND user_id = ?2",
            params![room_id, user_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The members' ids.
pub fn member_ids(conn: &Connection, room_id: i64) -> AppResult<Vec<i64>> {
    let mut stmt = conn
        .prepare_cached("SELECT user_id FROM room_members WHERE room_id = ?1 ORDER BY user_id")?;
    let rows = stmt.query_map([room_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A room's members with their read markers, ordered by display name (then username).
pub fn members(conn: &Connection, room_id: i64) -> AppResult<Vec<(User, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, u.username, u.display_name, u.is_staff, u.created_at, u.is_guest,
                m.last_read_message_id
         FROM room_members m JOIN users u ON u.id = m.user_id
         WHERE m.room_id = ?1
         ORDER BY u.display_name COLLATE NOCASE, u.username",
    )?;
    let rows = stmt.query_map([room_id], |r| {
        Ok((
            User {
                id: r.get(0)?,
                username: r.get(1)?,
                display_name: r.get(2)?,
                is_staff: r.get(3)?,
                created_at: Timestamp::from_millis(r.get(4)?),
                is_guest: r.get(5)?,
            },
            r.get(6)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Everyone who shares a room with `user_id`, and the user themself, by id.
pub fn co_member_ids(conn: &Connection, user_id: i64) -> AppResult<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT ?1 UNION
         SELECT other.user_id FROM room_members mine
         JOIN room_members other ON other.room_id = mine.room_id
         WHERE mine.user_id = ?1",
    )?;
    let rows = stmt.query_map([user_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Creates a room; returns its id.
pub fn insert_room(
    conn: &Connection,
    name: &str,
    kind: RoomKind,
    is_public: bool,
    created_by: Option<i64>,
    direct_key: Option<&str>,
    support_user_id: Option<i64>,
) -> AppResult<i64> {
    let now = Timestamp::now().millis();
    conn.execute(
        "INSERT INTO rooms (name, kind, is_public, direct_key, support_user_id, created_by,
                            created_at, updated_at, last_activity_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?7)",
        params![
            name,
            kind.as_str(),
            is_public,
            direct_key,
            support_user_id,
            created_by,
            now
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The direct room with this key, if any.
pub fn direct_room(conn: &Connection, key: &str) -> AppResult<Option<i64>> {
    Ok(conn
        .query_row("SELECT id FROM rooms WHERE direct_key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

/// The support room of a visitor, if any.
pub fn support_room_of(conn: &Connection, user_id: i64) -> AppResult<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT id FROM rooms WHERE support_user_id = ?1",
            [user_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Adds a member, reading from the newest message on (so history is not unread). `false` if
/// already a member.
pub fn add_member(conn: &Connection, room_id: i64, user_id: i64) -> AppResult<bool> {
    let n = conn.execute(
        "INSERT OR IGNORE INTO room_members (room_id, user_id, joined_at, last_read_message_id)
         VALUES (?1, ?2, ?3, COALESCE((SELECT max(id) FROM messages WHERE room_id = ?1), 0))",
        params![room_id, user_id, Timestamp::now().millis()],
    )?;
    if n == 1 {
        touch_room(conn, room_id)?;
    }
    Ok(n == 1)
}

/// Removes a member; `false` if not a member.
pub fn remove_member(conn: &Connection, room_id: i64, user_id: i64) -> AppResult<bool> {
    let n = conn.execute(
        "DELETE FROM room_members WHERE room_id = ?1 AND user_id = ?2",
        params![room_id, user_id],
    )?;
    if n == 1 {
        touch_room(conn, room_id)?;
    }
    Ok(n == 1)
}

fn touch_room(conn: &Connection, room_id: i64) -> AppResult<()> {
    conn.execute(
        "UPDATE rooms SET updated_at = ?2 WHERE id = ?1",
        params![room_id, Timestamp::now().millis()],
    )?;
    Ok(())
}
