//! How a WebSocket is closed: the code, the reason and the contract's final `error` frame.

use super::{CloseInfo, ServerMsg};
use bytestring::ByteString;

/// How and why a connection is being closed. The first close requested wins.
#[derive(Debug, Clone)]
pub struct Close {
    /// WebSocket close code.
    pub code: u16,
    /// Close reason (cut to 123 bytes on the wire).
    pub reason: String,
    /// The last frame sent before the close (the contract's final `error` frame).
    pub last_frame: Option<ByteString>,
    /// Whether queued frames are sent before closing (not for a slow consumer).
    pub drain: bool,
}

impl Close {
    /// A close without a final frame.
    pub fn plain(code: u16, reason: &str) -> Close {
        Close {
            code,
            reason: reason.to_string(),
            last_frame: None,
            drain: true,
        }
    }

    /// A close preceded by the contract's final `error` frame.
    pub fn with_error(
        code: u16,
        error_code: &'static str,
        reason: &str,
        retry: &'static str,
        retry_after_ms: Option<u64>,
    ) -> Close {
        Close::closing(code, error_code, reason, retry, retry_after_ms, None)
    }

    /// The one builder of closing `error` frames; `request_id` is echoed when the close answers
    /// a request.
    fn closing(
        code: u16,
        error_code: &'static str,
        reason: &str,
        retry: &'static str,
        retry_after_ms: Option<u64>,
        request_id: Option<&serde_json::Value>,
    ) -> Close {
        let frame = ServerMsg::Error {
            code: error_code,
            message: reason.to_string(),
            fields: None,
            retry_after_ms: None,
            close: Some(CloseInfo {
                close_code: code,
                retry,
                retry_after_ms,
            }),
        }
        .frame(request_id);
        Close {
            code,
            reason: reason.to_string(),
            last_frame: Some(frame),
            drain: true,
        }
    }

    /// 4401 with `unauthenticated` / `reauthenticate`; `why` is the reason (e.g. an expired
    /// token).
    pub fn unauthenticated(why: impl std::fmt::Display) -> Close {
        Close::with_error(
            4401,
            "unauthenticated",
            &why.to_string(),
            "reauthenticate",
            None,
        )
    }

    /// 4401 with a custom reason, answering a request: the final frame echoes its id.
    pub fn unauthenticated_reply(reason: &str, request_id: Option<&serde_json::Value>) -> Close {
        Close::closing(
            4401,
            "unauthenticated",
            reason,
            "reauthenticate",
            None,
            request_id,
        )
    }

    /// 4403 with `forbidden` / `never`.
    pub fn forbidden(reason: &str) -> Close {
        Close::with_error(4403, "forbidden", reason, "never", None)
    }

    /// 4429 with `rate_limited` / `backoff`.
    pub fn rate_limited(reason: &str, retry_after_ms: u64) -> Close {
        Close::with_error(
            4429,
            "rate_limited",
            reason,
            "backoff",
            Some(retry_after_ms),
        )
    }

    /// 4008 with `slow_consumer` / `backoff`; queued frames are dropped.
    pub fn slow_consumer() -> Close {
        let mut c = Close::with_error(
            4008,
            "slow_consumer",
            "outbound queue overflowed; reconnect and sync",
            "backoff",
            Some(1000),
        );
        c.drain = false;
        c
    }
}
