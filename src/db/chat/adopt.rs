//! A signed-in visitor keeps their support conversation (contract v1.1, section 6): SQL only.

use super::rooms::support_room_of;
use crate::db::users::User;
use crate::error::AppResult;
use crate::time::Timestamp;
use rusqlite::{params, Connection};

/// Makes the guest's support conversation the user's own, in the caller's transaction. With no
/// conversation of their own, the guest's room becomes theirs (renamed after them; the guest's
/// messages become theirs). With one, the guest's messages move into it (they keep their ids,
/// so the merged history stays in order; their `client_id`s are dropped, which could collide)
/// and the guest's room is deleted. Returns the user's support room, if there is one now.
pub fn adopt_support_room(conn: &Connection, guest_id: i64, user: &User) -> AppResult<Option<i64>> {
    let Some(guest_room) = support_room_of(conn, guest_id)? else {
        return support_room_of(conn, user.id);
    };
    let now = Timestamp::now().millis();
    match support_room_of(conn, user.id)? {
        None => {
            conn.execute(
                "UPDATE rooms SET support_user_id = ?2, created_by = ?2, name = ?3, updated_at = ?4
                 WHERE id = ?1",
                params![
                    guest_room,
                    user.id,
                    format!("Support: {}", user.display_name),
                    now
                ],
            )?;
            conn.execute(
                "UPDATE room_members SET user_id = ?3 WHERE room_id = ?1 AND user_id = ?2",
                params![guest_room, guest_id, user.id],
            )?;
            conn.execute(
                "UPDATE messages SET sender_id = ?3 WHERE room_id = ?1 AND sender_id = ?2",
                params![guest_room, guest_id, user.id],
            )?;
            Ok(Some(guest_room))
        }
        Some(own) => {
            conn.execute(
                "UPDATE messages
                 SET room_id = ?2,
                     sender_id = CASE WHEN sender_id = ?3 THEN ?4 ELSE sender_id END,
                     client_id = NULL
                 WHERE room_id = ?1",
                params![guest_room, own, guest_id, user.id],
            )?;
            conn.execute(
                "UPDATE rooms SET
                   last_activity_at = max(last_activity_at,
                                          (SELECT last_activity_at FROM rooms WHERE id = ?1)),
                   updated_at = ?3
                 WHERE id = ?2",
                params![guest_room, own, now],
            )?;
            conn.execute("DELETE FROM rooms WHERE id = ?1", [guest_room])?;
            Ok(Some(own))
        }
    }
}
