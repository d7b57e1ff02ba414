//! Integration tests: the real server over real HTTP and WebSockets.

mod accounts;
mod helpers;
mod ws_auth;
