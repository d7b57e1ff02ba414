//! The typed WebSocket protocol: client frames are one serde enum tagged by `type`
//! ([`ClientMsg`]), server frames another ([`ServerMsg`]). Every server frame is wrapped with
//! `request_id` and `timestamp` by [`ServerMsg::frame`], the only place frames are serialized.
//! Every request body and reply type lives here, below the services that use them.

pub mod args;
pub mod chat;
pub mod client;
pub mod close;
pub mod rest;
pub mod server;
pub mod tasks;

pub use args::{Args, Ids};
pub use client::{parse_request, request_id_of, ClientMsg, Request};
pub use close::Close;
pub use server::{CloseInfo, GuestInfo, Limits, ServerMsg};
