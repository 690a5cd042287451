-- Enrollment (入会): applications that become memberships, their history, member numbers,
-- membership transfers (会员关系转接) and the audit log of personal-data access.

CREATE TABLE enrollments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    org_id          INTEGER NOT NULL REFERENCES orgs (id),
    real_name       TEXT NOT NULL,
    -- AES-256-GCM (base64 of nonce || ciphertext) under data key `id_key_version`.
    id_number_enc   TEXT NOT NULL,
    id_key_version  INTEGER NOT NULL,
    -- HMAC of the ID number: uniqueness without the plaintext.
    id_blind_index  TEXT NOT NULL,
    id_masked       TEXT NOT NULL,
    phone           TEXT NOT NULL,
    employer        TEXT NOT NULL,
    occupation      TEXT NOT NULL,
    employment_form TEXT NOT NULL CHECK (employment_form IN
        ('standard', 'courier', 'food_delivery', 'truck_driver', 'ride_hailing', 'domestic_service', 'other_gig')),
    consent_version TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
    reject_reason   TEXT,
    member_no       TEXT UNIQUE,
    joined_at       TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    CHECK ((status = 'approved') = (member_no IS NOT NULL))
);
-- One pending or active membership per person, and per account.
CREATE UNIQUE INDEX enrollments_live_person ON enrollments (id_blind_index) WHERE status IN ('pending', 'approved');
CREATE UNIQUE INDEX enrollments_live_user ON enrollments (user_id) WHERE status IN ('pending', 'approved');
CREATE INDEX enrollments_org_status ON enrollments (org_id, status);

CREATE TABLE enrollment_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    enrollment_id INTEGER NOT NULL REFERENCES enrollments (id),
    status        TEXT NOT NULL,
    reason        TEXT,
    org_id        INTEGER REFERENCES orgs (id),
    actor_id      INTEGER REFERENCES users (id),
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX enrollment_events_enrollment ON enrollment_events (enrollment_id);

CREATE TABLE member_no_counters (
    federation_id INTEGER PRIMARY KEY REFERENCES orgs (id),
    last_value    INTEGER NOT NULL
);

CREATE TABLE membership_transfers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    enrollment_id   INTEGER NOT NULL REFERENCES enrollments (id),
    from_org_id     INTEGER NOT NULL REFERENCES orgs (id),
    to_org_id       INTEGER NOT NULL REFERENCES orgs (id),
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decision_reason TEXT,
    decided_by      INTEGER REFERENCES users (id),
    created_at      TIMESTAMP NOT NULL,
    decided_at      TIMESTAMP
);
CREATE UNIQUE INDEX membership_transfers_one_pending ON membership_transfers (enrollment_id) WHERE status = 'pending';
CREATE INDEX membership_transfers_to ON membership_transfers (to_org_id, status);

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id     INTEGER NOT NULL REFERENCES users (id),
    action       TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id   INTEGER NOT NULL,
    org_id       INTEGER REFERENCES orgs (id),
    purpose      TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_type, subject_id);
