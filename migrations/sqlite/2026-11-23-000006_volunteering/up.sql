-- Volunteer activities (志愿服务), sign-ups with a FIFO waitlist, an append-only ledger of
-- credited minutes, and certificates anyone can verify.

CREATE TABLE volunteer_activities (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          INTEGER NOT NULL REFERENCES orgs (id),
    title           TEXT NOT NULL,
    description     TEXT NOT NULL,
    address         TEXT NOT NULL,
    lat             REAL NOT NULL,
    lng             REAL NOT NULL,
    starts_at       TIMESTAMP NOT NULL,
    ends_at         TIMESTAMP NOT NULL,
    capacity        INTEGER NOT NULL CHECK (capacity >= 1),
    -- Confirmed places taken: the database refuses more than the capacity, whatever the code does.
    confirmed       INTEGER NOT NULL DEFAULT 0 CHECK (confirmed >= 0 AND confirmed <= capacity),
    signup_deadline TIMESTAMP NOT NULL,
    code_secret     TEXT NOT NULL,
    created_by      INTEGER NOT NULL REFERENCES users (id),
    created_at      TIMESTAMP NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX volunteer_activities_org ON volunteer_activities (org_id);

CREATE TABLE volunteer_signups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_id INTEGER NOT NULL REFERENCES volunteer_activities (id),
    user_id     INTEGER NOT NULL REFERENCES users (id),
    status      TEXT NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'cancelled')),
    queued_at   TIMESTAMP NOT NULL,
    checkin_at  TIMESTAMP,
    checkout_at TIMESTAMP,
    UNIQUE (activity_id, user_id)
);

CREATE TABLE volunteer_hours (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_id INTEGER NOT NULL REFERENCES volunteer_activities (id),
    user_id     INTEGER NOT NULL REFERENCES users (id),
    -- A change of credited minutes: attendance credits, corrections add or remove.
    minutes     INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('attendance', 'pending', 'correction')),
    note        TEXT NOT NULL,
    actor_id    INTEGER REFERENCES users (id),
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX volunteer_hours_user ON volunteer_hours (user_id);
CREATE INDEX volunteer_hours_activity ON volunteer_hours (activity_id, user_id);

CREATE TABLE volunteer_certificates (
    code          TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    total_minutes INTEGER NOT NULL,
    issued_at     TIMESTAMP NOT NULL
);
