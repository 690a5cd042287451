-- Foundation: union organizations, users and their roles, sessions, SMS codes.

CREATE TABLE orgs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 2 AND 60),
    kind        TEXT NOT NULL CHECK (kind IN ('federation', 'district', 'grassroots', 'joint', 'industry')),
    parent_id   INTEGER REFERENCES orgs (id),
    region_code TEXT NOT NULL,
    -- Materialized path of ancestor ids and self, '/1/4/9/': a subtree is `path LIKE '/1/4/%'`.
    path        TEXT NOT NULL,
    depth       INTEGER NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX orgs_parent_name ON orgs (COALESCE(parent_id, 0), name);
CREATE INDEX orgs_parent ON orgs (parent_id);
CREATE INDEX orgs_path ON orgs (path);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    nickname      TEXT NOT NULL,
    avatar_url    TEXT,
    phone         TEXT UNIQUE,
    wechat_openid TEXT UNIQUE,
    username      TEXT UNIQUE,
    password_hash TEXT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  TIMESTAMP,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

CREATE TABLE user_roles (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('organizer', 'org_admin', 'platform_admin')),
    org_id     INTEGER REFERENCES orgs (id),
    granted_by INTEGER REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    CHECK ((role = 'platform_admin') = (org_id IS NULL))
);
CREATE UNIQUE INDEX user_roles_unique ON user_roles (user_id, role, COALESCE(org_id, 0));
CREATE INDEX user_roles_org ON user_roles (org_id);

CREATE TABLE refresh_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family     TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

CREATE TABLE sms_codes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- HMAC of the phone number: codes are looked up by phone without storing it again.
    phone_hash  TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    consumed_at TIMESTAMP
);
CREATE INDEX sms_codes_phone ON sms_codes (phone_hash, created_at);
