-- Dashboard sessions: the login cookie holds a random session id (only its
-- SHA-256 is kept), not the API token; a session expires and ends at logout
-- or when its token is revoked.
CREATE TABLE dashboard_sessions (
    id_hash    TEXT PRIMARY KEY,
    token_id   INTEGER NOT NULL REFERENCES api_tokens (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
