//! The TCP connection under a WebSocket, so that a session can really end it.
//!
//! Dropping every actix-ws `Session` ends the response body, but when the client does not read,
//! actix-web's dispatcher waits forever to write what it already holds: the connection stays
//! ESTABLISHED with megabytes in the kernel's send queue. So, for every accepted connection,
//! [`on_connect`] (installed with `HttpServer::on_connect`) stores a [`TcpLink`] in the
//! connection's extensions: a duplicate of the socket's file descriptor and a channel whose
//! sender lives as long as the dispatcher keeps the connection (the extensions are dropped with
//! it). A session takes a [`TcpHandle`] from it at the upgrade and, when it gives up on a client,
//! calls [`TcpHandle::kill`]: `SO_LINGER` 0 and `shutdown(Both)`. The shutdown wakes the
//! dispatcher, whose pending write then fails, so it drops the connection; when the last
//! descriptor is closed, the zero linger makes the kernel send a reset and free the socket and
//! its queued bytes at once. [`TcpHandle::gone`] tells when the dispatcher has let go.
//!
//! The duplicate descriptor keeps the socket open while a session holds it, so a session must
//! drop its handle as soon as it is done. On non-Unix targets `kill` does nothing.

use actix_web::dev::Extensions;
use std::any::Any;
use tokio::sync::watch;

#[cfg(unix)]
use std::os::fd::{AsFd, OwnedFd};
#[cfg(unix)]
use std::sync::Arc;

/// What [`on_connect`] keeps in a connection's extensions.
pub struct TcpLink {
    #[cfg(unix)]
    fd: Option<Arc<OwnedFd>>,
    /// Dropped with the connection's extensions, i.e. when the dispatcher is done with it.
    alive: watch::Sender<()>,
}

/// `HttpServer::on_connect` callback: remembers the accepted TCP stream of every connection.
pub fn on_connect(io: &dyn Any, ext: &mut Extensions) {
    ext.insert(TcpLink::new(io));
}

impl TcpLink {
    fn new(_io: &dyn Any) -> TcpLink {
        TcpLink {
            #[cfg(unix)]
            fd: _io
                .downcast_ref::<actix_web::rt::net::TcpStream>()
                .and_then(|s| s.as_fd().try_clone_to_owned().ok())
                .map(Arc::new),
            alive: watch::channel(()).0,
        }
    }

    /// A handle for the session living on this connection.
    pub fn handle(&self) -> TcpHandle {
        TcpHandle {
            #[cfg(unix)]
            fd: self.fd.clone(),
            alive: Some(self.alive.subscribe()),
        }
    }
}

/// A session's hold on its TCP connection. The default handle knows no connection: it is gone
/// at once and cannot be killed.
#[derive(Default)]
pub struct TcpHandle {
    #[cfg(unix)]
    fd: Option<Arc<OwnedFd>>,
    alive: Option<watch::Receiver<()>>,
}

impl TcpHandle {
    /// Resolves once actix-web has dropped the connection.
    pub async fn gone(&mut self) {
        if let Some(rx) = &mut self.alive {
            while rx.changed().await.is_ok() {}
        }
    }

    /// Cuts the connection: zero linger (a reset instead of a drawn-out close; queued bytes are
    /// discarded) and shutdown in both directions, which makes the dispatcher's reads and
    /// writes fail so that it lets go of the connection.
    pub fn kill(&self) {
        #[cfg(unix)]
        if let Some(fd) = &self.fd {
            let sock = socket2::SockRef::from(fd.as_ref());
            let _ = sock.set_linger(Some(std::time::Duration::ZERO));
            let _ = sock.shutdown(std::net::Shutdown::Both);
        }
    }
}
