//! Accounts and credentials: register, login, logout, refresh, tickets, and resolving a
//! credential to a [`Principal`]. Each operation is one function used by every transport.

pub mod credential;
pub mod events;
pub mod forms;
pub mod hasher;
pub mod password;
mod resolve;
pub mod token;

use crate::db::store::{Store, Tx};
use crate::db::tokens::Kind;
use crate::db::users::User;
use crate::error::{AppError, AppResult};
use crate::hub::Hub;
use crate::protocol::Close;
use crate::quota::Quota;
use crate::time::Timestamp;
pub use forms::{
    parse_display_name, LoginRequest, RegisterRequest, SessionGrant, TicketGrant, TokenGrant,
};
use forms::{Password, Username};
use hasher::Hasher;
use std::sync::Arc;
use std::time::Duration;

/// Who is calling, and with which credential.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user (a guest user for support visitors).
    pub user: User,
    /// The access (or guest) token behind this call. For a socket opened with a ticket, the
    /// access token that minted the ticket: logging that token out closes the socket.
    pub token_id: i64,
    /// When that token expires (`None`: never, as for guest tokens).
    pub expires_at: Option<Timestamp>,
}

/// Why a credential was refused. The `Display` text is the contract's close reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No credential at all.
    #[error("missing token")]
    Missing,
    /// Unknown token or ticket, or a ticket already used.
    #[error("invalid token")]
    Invalid,
    /// Past its expiry.
    #[error("expired token")]
    Expired,
    /// Logged out or refreshed away.
    #[error("revoked token")]
    Revoked,
}

impl From<AuthFailure> for AppError {
    fn from(f: AuthFailure) -> Self {
        AppError::Unauthenticated(f.to_string())
    }
}

/// A credential as presented by a client, before it is checked.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// Nothing presented.
    None,
    /// A bearer token.
    Token(String),
    /// A single-use WebSocket ticket.
    Ticket(String),
    /// A support visitor's guest token.
    Guest(String),
}

impl std::fmt::Debug for Credential {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::None => "Credential::None",
            Credential::Token(_) => "Credential::Token(..)",
            Credential::Ticket(_) => "Credential::Ticket(..)",
            Credential::Guest(_) => "Credential::Guest(..)",
        })
    }
}

/// What the account operations need to know of the configuration.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Whether `register` is open.
    pub registration_open: bool,
    /// Lifetime of an access token.
    pub token_ttl: Duration,
    /// Lifetime of a WebSocket ticket.
    pub ticket_ttl: Duration,
}

/// The account service: a cheap `Clone` holding the database, the hub (to close a revoked
/// token's sockets), the hashing pool and the quotas (kept in the database, see
/// [`crate::quota`]).
#[derive(Clone)]
pub struct Auth {
    store: Store,
    hub: Arc<dyn Hub>,
    hasher: Arc<Hasher>,
    dummy_hash: Arc<str>,
    logins: Quota,
    register: Quota,
    settings: Arc<AuthSettings>,
}

fn mint_access(
    tx: &dyn Tx,
    user_id: i64,
    ttl: std::time::Duration,
) -> AppResult<(String, Timestamp)> {
    let value = token::random_token();
    let expires_at = Timestamp::now().plus(ttl);
    tx.insert_token(
        user_id,
        Kind::Access,
        &token::hash_token(&value),
        None,
        Some(expires_at),
    )?;
    Ok((value, expires_at))
}

/// Creates an account from the command line (staff or not), outside any runtime: hashes on
/// the calling thread.
pub fn create_user_blocking(
    store: &Store,
    username: &str,
    password: &str,
    is_staff: bool,
) -> AppResult<User> {
    let username = Username::parse(username)?;
    let password = Password::parse(password)?;
    let hash = password::hash_password(
        &password.0,
        crate::config::Config::default().argon2_memory_kib,
    )?;
    store.write_blocking(|tx| {
        tx.insert_user(
            username.as_str(),
            username.as_str(),
            Some(&hash),
            is_staff,
            false,
        )
    })
}

impl Auth {
    /// The account service. `logins` limits failed logins per username, `register`
    /// registrations per client address (both in the database, shared by every node).
    /// Computes the dummy hash that unknown usernames are checked against, in the hashing pool.
    pub async fn start(
        store: Store,
        hub: Arc<dyn Hub>,
        hasher: Hasher,
        logins: Quota,
        register: Quota,
        settings: AuthSettings,
    ) -> AppResult<Auth> {
        let dummy_hash = hasher.hash(password::DUMMY_PASSWORD.into()).await?;
        Ok(Auth {
            store,
            hub,
            hasher: Arc::new(hasher),
            dummy_hash: dummy_hash.into(),
            logins,
            register,
            settings: Arc::new(settings),
        })
    }

    /// The hashing pool (for `/api/health` and the command line).
    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// Creates an account and signs it in. Limited per client address (`peer`); the password is
    /// hashed in the hashing pool before the short database transaction, never inside it.
    pub async fn register(
        &self,
        req: RegisterRequest,
        peer: Option<&str>,
    ) -> AppResult<SessionGrant> {
        if !self.settings.registration_open {
            return Err(AppError::Forbidden("registration is closed".into()));
        }
        let username = Username::parse(&req.username)?;
        let password = Password::parse(&req.password)?;
        let display_name = match req.display_name.as_deref() {
            Some(d) => parse_display_name(d)?,
            None => username.as_str().to_string(),
        };
        let key = peer.unwrap_or("unknown");
        self.register
            .try_acquire(key)
            .await?
            .map_err(|wait| AppError::RateLimited {
                message: "too many registrations from this address; try again later".into(),
                retry_after: wait,
            })?;
        let hash = match self.hasher.hash(password.0).await {
            Ok(hash) => hash,
            Err(e) => {
                // Nothing was registered (the pool was busy): the attempt does not count.
                self.register.release(key).await;
                return Err(e);
            }
        };
        let ttl = self.settings.token_ttl;
        let result = self
            .store
            .write(move |tx| {
                let user =
                    tx.insert_user(username.as_str(), &display_name, Some(&hash), false, false)?;
                let (token, expires_at) = mint_access(tx, user.id, ttl)?;
                Ok(SessionGrant {
                    token,
                    expires_at,
                    user,
                })
            })
            .await;
        if let Err(AppError::Internal(_)) = result {
            self.register.release(key).await;
        }
        result
    }

    /// Signs in. Unknown users and wrong passwords get the same answer, in about the same time.
    /// Every attempt is counted per username before its password is checked, so at most
    /// `login_max_failures` passwords are checked per window however many arrive at once, on
    /// every node sharing the database (the count is kept there, see [`crate::quota`]). No
    /// database connection is held while hashing: one short write that counts the attempt, one
    /// short lookup, the check in the hashing pool, then (on success) one short write that
    /// clears the count and one for the token.
    pub async fn login(&self, req: LoginRequest) -> AppResult<SessionGrant> {
        let key = req.username.clone();
        self.logins
            .try_acquire(&key)
            .await?
            .map_err(|wait| AppError::RateLimited {
                message: "too many failed logins for this username; try again later".into(),
                retry_after: wait,
            })?;
        let user = match self.check_password(req).await {
            Ok(Some(user)) => user,
            // A checked, wrong password: the attempt stays counted.
            Ok(None) => {
                return Err(AppError::Unauthenticated(
                    "invalid username or password".into(),
                ))
            }
            // Never checked (pool busy, storage error): the attempt does not count.
            Err(e) => {
                self.logins.release(&key).await;
                return Err(e);
            }
        };
        self.logins.clear(&key).await?;
        let ttl = self.settings.token_ttl;
        let user_id = user.id;
        let (token, expires_at) = self
            .store
            .write(move |tx| mint_access(tx, user_id, ttl))
            .await?;
        Ok(SessionGrant {
            token,
            expires_at,
            user,
        })
    }

    /// The user whose password this is, or `None`; an unknown user is checked against the dummy
    /// hash so that it costs the same.
    async fn check_password(&self, req: LoginRequest) -> AppResult<Option<User>> {
        let found = if req.username.len() <= 64 && req.password.len() <= 4096 {
            let name = req.username;
            self.store
                .read(move |tx| tx.user_by_username_with_hash(&name))
                .await?
        } else {
            None
        };
        let (user, phc) = match found {
            Some((user, Some(hash))) => (Some(user), hash),
            _ => (None, self.dummy_hash.to_string()),
        };
        let ok = self.hasher.verify(req.password, phc).await?;
        Ok(user.filter(|_| ok))
    }

    /// Revokes the caller's token and closes every socket that uses it.
    pub async fn logout(&self, who: &Principal) -> AppResult<()> {
        let id = who.token_id;
        self.store.write(move |tx| tx.revoke_token(id)).await?;
        self.hub
            .close_token(id, Close::unauthenticated(AuthFailure::Revoked));
        Ok(())
    }

    /// Issues a new token for the caller and revokes the old one (closing its sockets).
    pub async fn refresh(&self, who: &Principal) -> AppResult<TokenGrant> {
        let (old, user_id, ttl) = (who.token_id, who.user.id, self.settings.token_ttl);
        let grant = self
            .store
            .write(move |tx| {
                tx.revoke_token(old)?;
                let (token, expires_at) = mint_access(tx, user_id, ttl)?;
                Ok(TokenGrant { token, expires_at })
            })
            .await?;
        self.hub
            .close_token(old, Close::unauthenticated(AuthFailure::Revoked));
        Ok(grant)
    }

    /// Mints a single-use WebSocket ticket bound to the caller's token.
    pub async fn ws_ticket(&self, who: &Principal) -> AppResult<TicketGrant> {
        let (parent, user_id) = (who.token_id, who.user.id);
        let expires_at = Timestamp::now().plus(self.settings.ticket_ttl);
        self.store
            .write(move |tx| {
                let value = token::random_token();
                tx.insert_token(
                    user_id,
                    Kind::Ticket,
                    &token::hash_token(&value),
                    Some(parent),
                    Some(expires_at),
                )?;
                if rand::random_range(0..100) == 0 {
                    tx.purge_stale_tickets()?;
                }
                Ok(TicketGrant {
                    ticket: value,
                    expires_at,
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_debug_hides_secret() {
        let s = format!("{:?}", Credential::Token("secret-value".into()));
        assert!(!s.contains("secret"));
    }
}
