-- Job postings (春送岗位), applications with their status history, bookmarks.

CREATE TABLE job_postings (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id          INTEGER NOT NULL REFERENCES orgs (id),
    title           TEXT NOT NULL,
    employer        TEXT NOT NULL,
    category        TEXT NOT NULL,
    district        TEXT NOT NULL,
    address         TEXT NOT NULL,
    lat             REAL,
    lng             REAL,
    salary_min      INTEGER NOT NULL CHECK (salary_min >= 0),
    salary_max      INTEGER NOT NULL,
    headcount       INTEGER NOT NULL CHECK (headcount >= 1),
    employment_type TEXT NOT NULL CHECK (employment_type IN ('full_time', 'part_time', 'gig')),
    description     TEXT NOT NULL,
    contact_phone   TEXT NOT NULL,
    valid_until     TIMESTAMP NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('draft', 'published', 'closed')),
    published_at    TIMESTAMP,
    created_by      INTEGER NOT NULL REFERENCES users (id),
    created_at      TIMESTAMP NOT NULL,
    CHECK (salary_max >= salary_min)
);
CREATE INDEX job_postings_listing ON job_postings (status, published_at, id);
CREATE INDEX job_postings_org ON job_postings (org_id);

CREATE TABLE job_applications (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    posting_id INTEGER NOT NULL REFERENCES job_postings (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    message    TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('submitted', 'viewed', 'interview', 'hired', 'rejected')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (posting_id, user_id)
);
CREATE INDEX job_applications_user ON job_applications (user_id);

CREATE TABLE job_application_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id INTEGER NOT NULL REFERENCES job_applications (id),
    status         TEXT NOT NULL,
    actor_id       INTEGER REFERENCES users (id),
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX job_application_events_app ON job_application_events (application_id);

CREATE TABLE job_bookmarks (
    posting_id INTEGER NOT NULL REFERENCES job_postings (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (posting_id, user_id)
);
