//! `bulk_message {content, room_ids?, usernames?}`: posts one message into each listed room and
//! as a direct message to each listed user, through the chat consumer's own send operation (so
//! each is stored, pushed live and deduplicated like any other message).

use super::{Kind, Output};
use crate::chat::Actor;
use crate::error::{AppError, AppResult};
use crate::protocol::chat::{OpenDirect, SendMessage};
use crate::tasks::job::Job;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The kind.
pub struct BulkMessage;

/// Most targets one task takes.
const MAX_TARGETS: usize = 1000;

/// The parameters of `bulk_message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkParams {
    /// The message.
    pub content: String,
    /// Rooms to post into (the owner must be a member).
    pub room_ids: Vec<i64>,
    /// Users to send it to as a direct message.
    pub usernames: Vec<String>,
}

/// The result of `bulk_message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkResult {
    /// Messages posted.
    pub sent: i64,
    /// Targets that failed, with why.
    pub failed: Vec<Failure>,
}

/// A target the message could not be posted to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// `room 12` or `user bob`.
    pub target: String,
    /// The error code the send answered.
    pub code: String,
    /// Its message.
    pub reason: String,
}

impl Kind for BulkMessage {
    const NAME: &'static str = "bulk_message";
    type Params = BulkParams;
    type Result = BulkResult;

    fn validate(&self, raw: &Value) -> AppResult<(BulkParams, i64)> {
        let content = raw
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| AppError::field("content", "is required"))?;
        crate::chat::check_content(content)?;
        let room_ids: Vec<i64> = match raw.get("room_ids") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_i64().filter(|&i| i > 0))
                .collect::<Option<_>>()
                .ok_or_else(|| AppError::field("room_ids", "must be a list of room ids"))?,
            Some(_) => return Err(AppError::field("room_ids", "must be a list of room ids")),
        };
        let usernames: Vec<String> = match raw.get("usernames") {
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
        let params = BulkParams {
            content: content.to_string(),
            room_ids,
            usernames,
        };
        Ok((params, total as i64))
    }

    fn run(&self, params: BulkParams, job: &mut Job) -> Result<Output<BulkResult>, String> {
        let BulkParams {
            content,
            room_ids: rooms,
            usernames: users,
        } = params;
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
                Err(e) => failed.push(Failure {
                    target: label,
                    code: e.code().to_string(),
                    reason: e.public_message(),
                }),
            }
            done += 1;
            job.progress(done, total);
        }
        Ok(Output {
            summary: json!({ "sent": sent, "failed": failed.len() }),
            result: BulkResult { sent, failed },
        })
    }

    fn partial_count(&self, result: &BulkResult) -> i64 {
        result.sent + result.failed.len() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_parse_and_store_as_before() {
        let (p, total) = BulkMessage
            .validate(&json!({"content": "standup in 5", "room_ids": [3, 4], "usernames": ["bob"]}))
            .unwrap();
        assert_eq!(total, 3);
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"content": "standup in 5", "room_ids": [3, 4], "usernames": ["bob"]})
        );
        // Absent or null lists are empty.
        let (p, total) = BulkMessage
            .validate(&json!({"content": "hi", "usernames": null, "room_ids": [7]}))
            .unwrap();
        assert_eq!((p.usernames.len(), total), (0, 1));
        let back: BulkParams =
            serde_json::from_str(r#"{"content":"c","room_ids":[],"usernames":["a"]}"#).unwrap();
        assert_eq!(back.usernames, vec!["a"]);
    }

    #[test]
    fn bad_params_are_refused_on_their_field() {
        let cases = [
            (json!({"room_ids": [1]}), Some("content")),
            (json!({"content": 5, "room_ids": [1]}), Some("content")),
            (json!({"content": "   ", "room_ids": [1]}), Some("content")),
            (
                json!({"content": "hi", "room_ids": ["x"]}),
                Some("room_ids"),
            ),
            (json!({"content": "hi", "room_ids": [0]}), Some("room_ids")),
            (json!({"content": "hi", "room_ids": 1}), Some("room_ids")),
            (
                json!({"content": "hi", "usernames": [5]}),
                Some("usernames"),
            ),
            (json!({"content": "hi"}), None),
            (
                json!({"content": "hi", "room_ids": [], "usernames": []}),
                None,
            ),
        ];
        for (raw, field) in cases {
            match BulkMessage.validate(&raw) {
                Err(AppError::Validation { fields, .. }) => {
                    assert_eq!(fields.keys().next().map(String::as_str), field, "{raw}")
                }
                other => panic!("{raw}: {:?}", other.map(|(p, _)| p)),
            }
        }
        let many: Vec<i64> = (1..=1001).collect();
        assert!(BulkMessage
            .validate(&json!({"content": "hi", "room_ids": many}))
            .is_err());
    }

    #[test]
    fn partial_count_adds_sent_and_failed() {
        let r: BulkResult = serde_json::from_value(json!({
            "sent": 2,
            "failed": [{"target": "user nobody", "code": "not_found", "reason": "no such user"}],
        }))
        .unwrap();
        assert_eq!(BulkMessage.partial_count(&r), 3);
        assert!(BulkMessage.csv(&r).unwrap().is_none());
    }
}
