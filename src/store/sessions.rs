//! Dashboard sessions. The login cookie holds a random session id, not the
//! API token it was opened with: a stolen cookie is worth one session, which
//! expires, ends at logout, and ends with its token's revocation. Only the
//! id's SHA-256 is stored.

use super::reports::{TokenInfo, token_hash};
use super::value::DbTime;
use super::{Context, Store, StoreError};
use chrono::NaiveDateTime;

type SessionRow = (i64, String, String, DbTime, Option<DbTime>);

impl Store {
    /// Opens a session for a live token until `expires_at`; returns its id
    /// (for the cookie). Expired sessions are removed on the way.
    pub async fn open_session(
        &self,
        token_id: i64,
        now: NaiveDateTime,
        expires_at: NaiveDateTime,
    ) -> Result<String, StoreError> {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let id = format!("ts_{}", hex::encode(bytes));
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1")
                .bind(DbTime(now)).execute(pool).await.ctx("removing expired sessions")?;
            sqlx::query("INSERT INTO dashboard_sessions (id_hash, token_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(token_hash(&id)).bind(token_id).bind(DbTime(now)).bind(DbTime(expires_at))
                .execute(pool).await.ctx("opening a session")?;
        });
        Ok(id)
    }

    /// The token behind a session that has not expired and whose token is
    /// not revoked.
    pub async fn session(
        &self,
        id: &str,
        now: NaiveDateTime,
    ) -> Result<Option<TokenInfo>, StoreError> {
        let row: Option<SessionRow> = with_pool!(self, pool => {
            sqlx::query_as("SELECT t.id, t.name, t.role, t.created_at, t.revoked_at FROM dashboard_sessions s \
                            JOIN api_tokens t ON t.id = s.token_id \
                            WHERE s.id_hash = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL")
                .bind(token_hash(id)).bind(DbTime(now)).fetch_optional(pool).await.ctx("checking a session")?
        });
        Ok(row.map(super::reports::token_info))
    }

    /// Ends a session (logout); true if it was open.
    pub async fn close_session(&self, id: &str) -> Result<bool, StoreError> {
        let n = with_pool!(self, pool => {
            sqlx::query("DELETE FROM dashboard_sessions WHERE id_hash = $1")
                .bind(token_hash(id)).execute(pool).await.ctx("closing a session")?.rows_affected()
        });
        Ok(n > 0)
    }
}
