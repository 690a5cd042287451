-- Quiz campaigns (答题): questions, timed attempts with their dealt layout, per-question
-- results, daily attempt counters and the draw chances passing grants.

CREATE TABLE quizzes (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id                INTEGER NOT NULL REFERENCES orgs (id),
    title                 TEXT NOT NULL,
    description           TEXT NOT NULL,
    starts_at             TIMESTAMP NOT NULL,
    ends_at               TIMESTAMP NOT NULL,
    time_zone             TEXT NOT NULL,
    questions_per_attempt INTEGER NOT NULL CHECK (questions_per_attempt BETWEEN 1 AND 50),
    time_limit_secs       INTEGER NOT NULL CHECK (time_limit_secs BETWEEN 10 AND 3600),
    pass_score            INTEGER NOT NULL CHECK (pass_score >= 0),
    max_attempts_per_day  INTEGER NOT NULL CHECK (max_attempts_per_day BETWEEN 1 AND 100),
    draws_per_pass        INTEGER NOT NULL CHECK (draws_per_pass BETWEEN 0 AND 10),
    audience              TEXT NOT NULL CHECK (audience IN ('members', 'everyone')),
    status                TEXT NOT NULL CHECK (status IN ('draft', 'published')),
    published_at          TIMESTAMP,
    created_by            INTEGER NOT NULL REFERENCES users (id),
    created_at            TIMESTAMP NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX quizzes_org ON quizzes (org_id);
CREATE INDEX quizzes_status_ends ON quizzes (status, ends_at);

CREATE TABLE quiz_questions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    quiz_id     INTEGER NOT NULL REFERENCES quizzes (id),
    kind        TEXT NOT NULL CHECK (kind IN ('single', 'multiple', 'true_false')),
    text        TEXT NOT NULL,
    -- JSON: [{"key":"A","text":"..."}, ...]
    options     TEXT NOT NULL,
    -- JSON: ["A", "C"], sorted
    answer      TEXT NOT NULL,
    points      INTEGER NOT NULL CHECK (points BETWEEN 1 AND 100),
    explanation TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX quiz_questions_quiz ON quiz_questions (quiz_id);

CREATE TABLE quiz_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    quiz_id       INTEGER NOT NULL REFERENCES quizzes (id),
    user_id       INTEGER NOT NULL REFERENCES users (id),
    status        TEXT NOT NULL CHECK (status IN ('open', 'submitted', 'abandoned', 'expired')),
    -- JSON: [{"question_id":1,"options":["C","A","B","D"]}, ...], as dealt
    layout        TEXT NOT NULL,
    local_date    TEXT NOT NULL,
    started_at    TIMESTAMP NOT NULL,
    deadline      TIMESTAMP NOT NULL,
    submitted_at  TIMESTAMP,
    score         INTEGER,
    passed        BOOLEAN,
    duration_ms   INTEGER,
    draws_granted INTEGER NOT NULL DEFAULT 0,
    -- JSON of the answers as submitted
    answers       TEXT
);
CREATE UNIQUE INDEX quiz_attempts_one_open ON quiz_attempts (quiz_id, user_id) WHERE status = 'open';
CREATE INDEX quiz_attempts_quiz_user ON quiz_attempts (quiz_id, user_id);

CREATE TABLE quiz_answer_results (
    attempt_id  INTEGER NOT NULL REFERENCES quiz_attempts (id),
    question_id INTEGER NOT NULL REFERENCES quiz_questions (id),
    quiz_id     INTEGER NOT NULL REFERENCES quizzes (id),
    correct     BOOLEAN NOT NULL,
    PRIMARY KEY (attempt_id, question_id)
);
CREATE INDEX quiz_answer_results_quiz ON quiz_answer_results (quiz_id, question_id);

CREATE TABLE quiz_daily_attempts (
    quiz_id    INTEGER NOT NULL REFERENCES quizzes (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    local_date TEXT NOT NULL,
    started    INTEGER NOT NULL,
    PRIMARY KEY (quiz_id, user_id, local_date)
);

-- Draw chances per member and campaign: granted by passed attempts, used by draws.
CREATE TABLE draw_chances (
    quiz_id INTEGER NOT NULL REFERENCES quizzes (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    granted INTEGER NOT NULL CHECK (granted >= 0),
    used    INTEGER NOT NULL CHECK (used >= 0 AND used <= granted),
    PRIMARY KEY (quiz_id, user_id)
);
