//! `bulk_message {content, room_ids?, usernames?}`: posts one message into each listed room and
//! as a direct message to each listed user, through the chat consumer's own send operation (so
//! each is stored, pushed live and deduplicated like any other message).

use super::{Kind, Output};
use crate::chat::Actor;
use crate::error::{AppError, AppResult};
use crate::protocol::chat::{OpenDirect, SendMessage};
use crate::tasks::job::Job;
use serde_json::{json, Value};

/// The kind.
pub struct BulkMessage;

/// Most targets one task takes.
const MAX_TARGETS: usize = 1000;

impl Kind for BulkMessage {
    fn name(&self) -> &'static str {
        "bulk_message"
    }

    fn validate(&self, params: &Value) -> AppResult<(Value, i64)> {
        let content = params
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| AppError::field("content", "is required"))?;
        crate::chat::check_content(content)?;
        let room_ids: Vec<i64> = match params.get("room_ids") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_i64().filter(|&i| i > 0))
                .collect::<Option<_>>()
                .ok_or_else(|| AppError::field("room_ids", "must be a list of room ids"))?,
            Some(_) => return Err(AppError::field("room_ids", "must be a list of room ids")),
        };
        let usernames: Vec<String> = match params.get("usernames") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| AppError::field("usernames", "must be a list of usernames"))?,
            Some(_) => return Err(AppError::field("usernames", "must be a list of usernames")),
        };
        let total = room_ids.len() + usernames.len();
        if total == 0 {
            return Err(AppError::invalid(
                "give at least one of room_ids or usernames",
            ));
        }
        if total > MAX_TARGETS {
            return Err(AppError::invalid(format!("at most {MAX_TARGETS} targets")));
        }
        Ok((
            json!({ "content": content, "room_ids": room_ids, "usernames": usernames }),
            total as i64,
        ))
    }

    fn run(&self, job: &mut Job) -> Result<Output, String> {
        let content = job.params["content"].as_str().unwrap_or("").to_string();
        let rooms: Vec<i64> = job.params["room_ids"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        let users: Vec<String> = job.params["usernames"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let total = (rooms.len() + users.len()) as i64;
        let actor = Actor {
            user: job.user.clone(),
            staff_console: false,
        };
        let chat = job.chat.clone();
        let task_id = job.id;
        let mut sent = 0;
        let mut failed = Vec::new();
        let mut done = 0;
        let targets = rooms
            .into_iter()
            .map(|r| (format!("room {r}"), Some(r), None))
            .chain(
                users
                    .into_iter()
                    .map(|u| (format!("user {u}"), None, Some(u))),
            );
        for (label, room, user) in targets {
            if job.cancelled() {
                break;
            }
            let outcome: AppResult<()> = job.rt.block_on(async {
                let room_id = match (room, user) {
                    (Some(r), _) => r,
                    (None, Some(u)) => {
                        chat.open_direct(&actor, OpenDirect { username: u })
                            .await?
                            .id
                    }
                    _ => return Err(AppError::invalid("no target")),
                };
                let req = SendMessage {
                    content: content.clone(),
                    // Stable per task and target: a rerun never posts twice.
                    client_id: Some(format!("task-{task_id}-{label}")),
                };
                chat.send_message(&actor, room_id, req).await.map(|_| ())
            });
            match outcome {
                Ok(()) => sent += 1,
                Err(e) => failed.push(
                    json!({ "target": label, "code": e.code(), "reason": e.public_message() }),
                ),
            }
            done += 1;
            job.progress(done, total);
        }
        Ok(Output {
            summary: json!({ "sent": sent, "failed": failed.len() }),
            result: json!({ "sent": sent, "failed": failed }),
        })
    }
}
