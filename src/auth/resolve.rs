//! Resolving a credential (a token, a guest token or a single-use ticket) to a [`Principal`]:
//! the second `impl` block of [`Auth`].

use super::{token, Auth, AuthFailure, Credential, Principal};
use crate::db::store::Tx;
use crate::db::tokens::{Kind, TokenRow};
use crate::error::AppResult;
use crate::time::Timestamp;

fn check_live(row: &TokenRow) -> Result<(), AuthFailure> {
    if row.revoked_at.is_some() {
        return Err(AuthFailure::Revoked);
    }
    if row.expires_at.is_some_and(|e| e <= Timestamp::now()) {
        return Err(AuthFailure::Expired);
    }
    Ok(())
}

fn principal_for(tx: &dyn Tx, row: &TokenRow) -> AppResult<Result<Principal, AuthFailure>> {
    Ok(match tx.user_by_id(row.user_id)? {
        Some(user) => Ok(Principal {
            user,
            token_id: row.id,
            expires_at: row.expires_at,
        }),
        None => Err(AuthFailure::Invalid),
    })
}

impl Auth {
    /// Resolves a reusable credential of `kind` (an access token or a guest token).
    async fn bearer(&self, kind: Kind, value: String) -> AppResult<Result<Principal, AuthFailure>> {
        self.store
            .read(
                move |tx| match tx.find_token(kind, &token::hash_token(&value))? {
                    None => Ok(Err(AuthFailure::Invalid)),
                    Some(row) => match check_live(&row) {
                        Err(f) => Ok(Err(f)),
                        Ok(()) => principal_for(tx, &row),
                    },
                },
            )
            .await
    }

    /// Resolves a credential. The outer error is a storage failure; the inner one says why the
    /// credential was refused. A ticket is consumed by this call, whatever happens next.
    pub async fn authenticate(
        &self,
        cred: Credential,
    ) -> AppResult<Result<Principal, AuthFailure>> {
        match cred {
            Credential::None => Ok(Err(AuthFailure::Missing)),
            Credential::Token(v) => self.bearer(Kind::Access, v).await,
            Credential::Guest(v) => self.bearer(Kind::Guest, v).await,
            Credential::Ticket(v) => {
                self.store
                    .write(move |tx| {
                        let Some(ticket) = tx.find_token(Kind::Ticket, &token::hash_token(&v))?
                        else {
                            return Ok(Err(AuthFailure::Invalid));
                        };
                        if ticket.used_at.is_some() || !tx.mark_token_used(ticket.id)? {
                            return Ok(Err(AuthFailure::Invalid));
                        }
                        if let Err(f) = check_live(&ticket) {
                            return Ok(Err(f));
                        }
                        let parent = match ticket.parent_id {
                            Some(p) => tx.token_by_id(p)?,
                            None => None,
                        };
                        let Some(parent) = parent else {
                            return Ok(Err(AuthFailure::Invalid));
                        };
                        if let Err(f) = check_live(&parent) {
                            return Ok(Err(f));
                        }
                        principal_for(tx, &parent)
                    })
                    .await
            }
        }
    }

    /// Resolves a credential or fails with `unauthenticated` (for REST).
    pub async fn require(&self, cred: Credential) -> AppResult<Principal> {
        Ok(self.authenticate(cred).await??)
    }
}
