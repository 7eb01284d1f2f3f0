-- Session tokens carry the user's session version; bumping it (password change, logout) revokes
-- every token issued before, without a server-side session store.
ALTER TABLE users ADD COLUMN session_version integer NOT NULL DEFAULT 0;
