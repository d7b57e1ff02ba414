//! A request's ids and body, read separately from one frame.
//!
//! Over WebSocket the ids are fields of the frame (`{"type":"send_message","room_id":3,...}`);
//! over REST they are path segments (`POST /api/rooms/3/messages`). Operations take them apart
//! from the body, so body types hold no ids and nothing has to default an id to 0.

use crate::error::{AppError, AppResult};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

/// The ids a request may name. Each operation takes the ones it needs with [`Ids::room`],
/// [`Ids::message`] or [`Ids::task`], which refuse a missing or non-positive id with
/// `validation_failed`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Ids {
    /// `room_id`
    #[serde(default)]
    pub room_id: Option<i64>,
    /// `message_id`
    #[serde(default)]
    pub message_id: Option<i64>,
    /// `task_id`
    #[serde(default)]
    pub task_id: Option<i64>,
}

fn required(field: &'static str, id: Option<i64>) -> AppResult<i64> {
    match id {
        Some(id) if id > 0 => Ok(id),
        _ => Err(AppError::field(field, "is required (a positive integer)")),
    }
}

impl Ids {
    /// The `room_id`.
    pub fn room(&self) -> AppResult<i64> {
        required("room_id", self.room_id)
    }

    /// The `message_id`.
    pub fn message(&self) -> AppResult<i64> {
        required("message_id", self.message_id)
    }

    /// The `task_id`.
    pub fn task(&self) -> AppResult<i64> {
        required("task_id", self.task_id)
    }
}

/// A frame's ids and its body, both read from the same JSON object (a field such as
/// `mark_read`'s `message_id` may be read by both, and each side ignores what it does not
/// know).
#[derive(Debug, Clone)]
pub struct Args<B> {
    /// The ids.
    pub ids: Ids,
    /// The body.
    pub body: B,
}

impl<'de, B: DeserializeOwned> Deserialize<'de> for Args<B> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let ids = Ids::deserialize(&value).map_err(D::Error::custom)?;
        let body = B::deserialize(&value).map_err(D::Error::custom)?;
        Ok(Args { ids, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::chat::{MarkRead, SendMessage};

    #[test]
    fn ids_and_body_come_from_one_object() {
        let a: Args<MarkRead> =
            serde_json::from_str(r#"{"room_id":4,"message_id":9,"extra":true}"#).unwrap();
        assert_eq!(a.ids.room().unwrap(), 4);
        assert_eq!(a.body.message_id, Some(9));
        let a: Args<SendMessage> = serde_json::from_str(r#"{"content":"hi"}"#).unwrap();
        assert_eq!(a.ids.room().unwrap_err().code(), "validation_failed");
        assert!(serde_json::from_str::<Args<SendMessage>>(r#"{"room_id":1}"#).is_err());
        assert!(
            serde_json::from_str::<Args<SendMessage>>(r#"{"room_id":"x","content":"a"}"#).is_err()
        );
        let zero = Ids {
            room_id: Some(0),
            ..Ids::default()
        };
        assert!(zero.room().is_err());
    }
}
