//! Notifications: made for a direct message from someone else, an `@username` mention in a room
//! one belongs to, and the end of one's own task; stored, then pushed on `/ws/notifications/`.

use crate::db::chat::{Message, RoomKind};
use crate::db::notifications::Notification;
use crate::db::store::{Store, Tx};
use crate::db::tasks::Task;
use crate::db::users::User;
use crate::error::{page_limit, AppError, AppResult};
use crate::hub::{Audience, Endpoint, Hub};
use crate::protocol::ServerMsg;
use serde_json::json;

const PREVIEW_CHARS: usize = 140;

fn preview(content: &str) -> String {
    let mut s: String = content.chars().take(PREVIEW_CHARS).collect();
    if content.chars().count() > PREVIEW_CHARS {
        s.push('…');
    }
    s
}

/// The usernames mentioned as `@name` in a text (deduplicated, lower-cased, in order).
pub fn mentions(content: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = content.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c != '@' || !starts_word {
            continue;
        }
        let name: String = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            .collect();
        // A sentence may end right after a mention: "thanks @bob."
        let name = name.trim_end_matches(['.', '-']).to_ascii_lowercase();
        if (3..=32).contains(&name.len()) && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Stores the notifications a new message causes (inside the message's transaction).
pub fn for_message(
    tx: &dyn Tx,
    kind: RoomKind,
    members: &[i64],
    sender: &User,
    message: &Message,
) -> AppResult<Vec<Notification>> {
    let mut out = Vec::new();
    let data = json!({ "room_id": message.room_id, "message_id": message.id });
    match kind {
        RoomKind::Direct => {
            for &m in members.iter().filter(|&&m| m != sender.id) {
                out.push(tx.insert_notification(
                    m,
                    "direct_message",
                    &format!("New message from {}", sender.display_name),
                    &preview(&message.content),
                    &data,
                )?);
            }
        }
        RoomKind::Group => {
            for name in mentions(&message.content) {
                let Some(user) = tx.user_by_username(&name)? else {
                    continue;
                };
                if user.id == sender.id || !members.contains(&user.id) {
                    continue;
                }
                out.push(tx.insert_notification(
                    user.id,
                    "mention",
                    &format!("{} mentioned you", sender.display_name),
                    &preview(&message.content),
                    &data,
                )?);
            }
        }
        RoomKind::Support => {}
    }
    Ok(out)
}

/// A kind's name as people read it: `generate_numbers` → `Generate numbers`.
fn readable_kind(kind: &str) -> String {
    let words = kind.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => words,
    }
}

/// Stores the notification for the end of a task, but for one its owner cancelled (they know:
/// they did it, and `task_cancelled` tells their task sockets).
pub fn for_task(tx: &dyn Tx, task: &Task) -> AppResult<Option<Notification>> {
    if task.status == crate::db::tasks::TaskStatus::Cancelled {
        return Ok(None);
    }
    let body = match (&task.error, &task.result_summary) {
        (Some(e), _) => e.clone(),
        (None, Some(serde_json::Value::Object(fields))) => fields
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{}: {s}", k.replace('_', " ")),
                other => format!("{}: {other}", k.replace('_', " ")),
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => format!("{} of {} processed", task.processed, task.total),
    };
    tx.insert_notification(
        task.user_id,
        "task",
        &format!(
            "{} {} (task {})",
            readable_kind(&task.kind),
            task.status,
            task.id
        ),
        &body,
        &json!({ "task_id": task.id, "status": task.status, "kind": task.kind }),
    )
    .map(Some)
}

/// Pushes stored notifications to their users' notification sockets.
pub fn publish(hub: &dyn Hub, notes: &[Notification]) {
    for n in notes {
        hub.publish(
            &Audience::user(Endpoint::Notifications, n.user_id),
            &ServerMsg::Notification {
                notification: n.clone(),
            },
        );
    }
}

/// The notifications service: the caller's inbox.
#[derive(Clone)]
pub struct Notifications {
    store: Store,
}

impl Notifications {
    /// The service over `store`.
    pub fn new(store: Store) -> Notifications {
        Notifications { store }
    }

    /// The caller's notifications, newest first.
    pub async fn list(
        &self,
        user: &User,
        unread_only: bool,
        limit: Option<i64>,
    ) -> AppResult<Vec<Notification>> {
        let limit = page_limit(limit)?;
        let uid = user.id;
        self.store
            .read(move |c| c.notifications_of_user(uid, unread_only, limit))
            .await
    }

    /// Marks one of the caller's notifications read.
    pub async fn mark_read(&self, user: &User, id: i64) -> AppResult<Notification> {
        let uid = user.id;
        self.store
            .read(move |c| c.mark_notification_read(uid, id))
            .await?
            .ok_or_else(|| AppError::not_found("notification"))
    }

    /// Marks all of the caller's notifications read; returns how many changed.
    pub async fn mark_all_read(&self, user: &User) -> AppResult<usize> {
        let uid = user.id;
        self.store
            .read(move |c| c.mark_all_notifications_read(uid))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::mentions;

    #[test]
    fn kinds_read_as_words() {
        assert_eq!(super::readable_kind("generate_numbers"), "Generate numbers");
        assert_eq!(super::readable_kind("x"), "X");
        assert_eq!(super::readable_kind(""), "");
    }

    #[test]
    fn finds_mentions() {
        assert_eq!(mentions("hi @Bob and @carol."), vec!["bob", "carol"]);
        assert_eq!(mentions("mail a@bob.com"), Vec::<String>::new());
        assert_eq!(mentions("@bob @BOB @al"), vec!["bob"]);
        assert_eq!(mentions("(@dave_9)"), vec!["dave_9"]);
    }
}
