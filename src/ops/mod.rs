//! Operations as both transports see them: each is declared once in [`table`], and the
//! WebSocket dispatch (`table::dispatch`) and the REST routes (`table::rest_routes`) are both generated
//! from that declaration by [`operations!`](crate::operations), so neither can drift from the
//! other.
//!
//! A declaration names the endpoint, the client frame (`ClientMsg` variant, whose name is the
//! frame's `type`) with its id-free body type, the REST method and path (path parameters are
//! named after the ids: `{room_id}`, `{message_id}`, `{task_id}`), where REST reads the body
//! from, and one expression that calls the service and shapes the typed [`Reply`]. The reply's
//! `ServerMsg` is the WebSocket frame, and the same value without `type` is the REST body.

pub mod table;

use crate::app::AppState;
use crate::chat::Actor;
use crate::db::users::User;
use crate::error::{AppError, AppResult};
use crate::hub::Endpoint;
use crate::protocol::{Ids, ServerMsg};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// Which transport an operation was called over (for the rare difference, e.g. `sync`'s
/// long-poll `wait`, which only REST honours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A WebSocket frame.
    Ws,
    /// A REST call.
    Rest,
}

/// The REST status of a successful reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 200
    Ok,
    /// 201
    Created,
    /// 202
    Accepted,
}

/// What an operation answers: the frame (none for `typing`, which answers nothing over a
/// socket and 204 over REST) and the REST status.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The reply frame; its fields without `type` are the REST body.
    pub msg: Option<ServerMsg>,
    /// The REST status.
    pub status: Status,
}

impl Reply {
    /// 200 with `msg`.
    pub fn ok(msg: ServerMsg) -> Reply {
        Reply {
            msg: Some(msg),
            status: Status::Ok,
        }
    }

    /// 201 with `msg`.
    pub fn created(msg: ServerMsg) -> Reply {
        Reply {
            msg: Some(msg),
            status: Status::Created,
        }
    }

    /// 201 when `new`, else 200 (a repeated `client_id`).
    pub fn created_if(new: bool, msg: ServerMsg) -> Reply {
        if new {
            Reply::created(msg)
        } else {
            Reply::ok(msg)
        }
    }

    /// 202 with `msg`.
    pub fn accepted(msg: ServerMsg) -> Reply {
        Reply {
            msg: Some(msg),
            status: Status::Accepted,
        }
    }

    /// No reply frame; 204 over REST.
    pub fn none() -> Reply {
        Reply {
            msg: None,
            status: Status::Ok,
        }
    }
}

/// Who acts, given the endpoint: staff act from the console on the admin endpoint (and its
/// REST mirror), everyone else acts as themself.
pub fn actor(endpoint: Endpoint, user: &User) -> Actor {
    if endpoint == Endpoint::Admin {
        Actor::staff(user)
    } else {
        Actor::user(user)
    }
}

/// HTTP methods the operations use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

/// Where REST reads an operation's body from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A required JSON body (`max_message_bytes`).
    Json,
    /// A required JSON body that may be large (`max_task_body_bytes`).
    LargeJson,
    /// An optional JSON body: empty means `{}`.
    OptJson,
    /// The query string.
    Query,
    /// Nothing: the body type is read from `{}`.
    Nothing,
}

/// A REST call, read by the REST transport and handed to a declared operation.
pub struct RestCall {
    /// The application.
    pub app: Arc<AppState>,
    /// The authenticated caller.
    pub user: User,
    /// Ids from the path.
    pub ids: Ids,
    /// The body as read, per the route's [`Source`]: `None` for an empty body.
    pub body: Option<Vec<u8>>,
    /// The query string.
    pub query: String,
    /// Where the body comes from.
    pub source: Source,
}

impl RestCall {
    /// The typed body, with the contract's errors: `invalid_json` for a missing required body
    /// or bad syntax, `validation_failed` for the wrong shape or a bad query string.
    pub fn body<T: DeserializeOwned>(&self) -> AppResult<T> {
        match (self.source, &self.body) {
            (Source::Json | Source::LargeJson, None) => {
                Err(AppError::InvalidJson("a JSON body is required".into()))
            }
            (Source::Json | Source::LargeJson | Source::OptJson, Some(b)) => {
                Ok(serde_json::from_slice(b)?)
            }
            (Source::Query, _) => serde_urlencoded::from_str(&self.query)
                .map_err(|e| AppError::invalid(format!("query string: {e}"))),
            (Source::OptJson | Source::Nothing, None) | (Source::Nothing, Some(_)) => {
                Ok(serde_json::from_str("{}")?)
            }
        }
    }
}

/// One REST route of a declared operation.
#[derive(Clone, Copy)]
pub struct RestRoute {
    /// The endpoint whose operation it mirrors (decides the credential and the actor).
    pub endpoint: Endpoint,
    /// The frame `type` of the operation.
    pub name: &'static str,
    /// Method.
    pub method: Method,
    /// Path, with `{room_id}`, `{message_id}` or `{task_id}` parameters.
    pub path: &'static str,
    /// Where the body comes from.
    pub source: Source,
    /// Runs the operation.
    pub call: fn(RestCall) -> LocalBoxFuture<'static, AppResult<Reply>>,
}

/// Declares the operations: generates `dispatch` (WebSocket) and `rest_routes` (REST) from one
/// table. Each row:
///
/// `Endpoint Variant(BodyType) METHOD "/path/{id}" Source => |app, actor, ids, body, transport| expr;`
///
/// where `expr` is an `AppResult<Reply>` and may use `?` and `.await`.
#[macro_export]
macro_rules! operations {
    ($(
        $ep:ident $variant:ident($body:ty) $method:ident $path:literal $src:ident
            => |$s:ident, $a:ident, $ids:ident, $b:ident, $t:ident| $e:expr;
    )*) => {
        /// Runs the operation a client frame names on `endpoint` over the WebSocket transport.
        /// `Err(UnknownType)` when the endpoint has no such operation.
        pub async fn dispatch(
            app: &$crate::app::AppState,
            endpoint: $crate::hub::Endpoint,
            user: &$crate::db::users::User,
            msg: $crate::protocol::ClientMsg,
        ) -> $crate::error::AppResult<$crate::ops::Reply> {
            let actor = $crate::ops::actor(endpoint, user);
            match (endpoint, msg) {
                $(
                    ($crate::hub::Endpoint::$ep, $crate::protocol::ClientMsg::$variant(args)) => {
                        let $s: &$crate::app::AppState = app;
                        let $a: &$crate::chat::Actor = &actor;
                        let $ids: $crate::protocol::Ids = args.ids;
                        let $b: $body = args.body;
                        let $t = $crate::ops::Transport::Ws;
                        let _ = (&$s, &$a, &$ids, &$b, &$t);
                        $e
                    }
                )*
                _ => Err($crate::error::AppError::UnknownType(String::new())),
            }
        }

        /// The REST routes of every declared operation, in declaration order (literal paths
        /// are declared before parameters that would match them).
        pub fn rest_routes() -> Vec<$crate::ops::RestRoute> {
            vec![$(
                $crate::ops::RestRoute {
                    endpoint: $crate::hub::Endpoint::$ep,
                    name: stringify!($variant),
                    method: $crate::ops::Method::$method,
                    path: $path,
                    source: $crate::ops::Source::$src,
                    call: |call: $crate::ops::RestCall| {
                        Box::pin(async move {
                            let actor = $crate::ops::actor($crate::hub::Endpoint::$ep, &call.user);
                            let $b: $body = call.body()?;
                            let $s: &$crate::app::AppState = &call.app;
                            let $a: &$crate::chat::Actor = &actor;
                            let $ids: $crate::protocol::Ids = call.ids;
                            let $t = $crate::ops::Transport::Rest;
                            let _ = (&$s, &$a, &$ids, &$b, &$t);
                            $e
                        })
                    },
                },
            )*]
        }
    };
}
