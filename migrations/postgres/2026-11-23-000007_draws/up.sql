-- Prize draws (抽奖) and verifiable raffles (公开抽签).
-- SQL is the truth: the hot store's draw gate is rebuilt from these tables.

CREATE TABLE prizes (
    id              BIGSERIAL PRIMARY KEY,
    quiz_id         BIGINT NOT NULL REFERENCES quizzes (id),
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('physical', 'voucher', 'points')),
    quantity        INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000000),
    -- never below zero, never above what was stocked: the last line against oversell
    remaining       INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= quantity),
    probability_ppm INTEGER NOT NULL CHECK (probability_ppm BETWEEN 1 AND 1000000),
    max_per_user    INTEGER NOT NULL CHECK (max_per_user BETWEEN 1 AND 1000),
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX prizes_quiz ON prizes (quiz_id);

-- One row per spent chance. The idempotency key makes a retried draw the same draw.
CREATE TABLE draws (
    id              BIGSERIAL PRIMARY KEY,
    quiz_id         BIGINT NOT NULL REFERENCES quizzes (id),
    user_id         BIGINT NOT NULL REFERENCES users (id),
    idempotency_key TEXT NOT NULL,
    -- what the random pick chose (NULL: the "no prize" part of the million) ...
    picked_prize_id BIGINT REFERENCES prizes (id),
    -- ... and what was won (NULL when the pick was "no prize", sold out or over the cap)
    prize_id        BIGINT REFERENCES prizes (id),
    created_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX draws_one_per_key ON draws (quiz_id, user_id, idempotency_key);
CREATE INDEX draws_quiz ON draws (quiz_id, id);

CREATE TABLE prize_wins (
    id              BIGSERIAL PRIMARY KEY,
    draw_id         BIGINT NOT NULL UNIQUE REFERENCES draws (id),
    quiz_id         BIGINT NOT NULL REFERENCES quizzes (id),
    prize_id        BIGINT NOT NULL REFERENCES prizes (id),
    user_id         BIGINT NOT NULL REFERENCES users (id),
    redemption_code TEXT NOT NULL UNIQUE,
    won_at          TIMESTAMP NOT NULL,
    redeemed_at     TIMESTAMP,
    redeemed_by     BIGINT REFERENCES users (id)
);
CREATE INDEX prize_wins_user ON prize_wins (user_id, id);
CREATE INDEX prize_wins_prize_user ON prize_wins (prize_id, user_id);
CREATE INDEX prize_wins_quiz ON prize_wins (quiz_id, id);

CREATE TABLE raffles (
    id              BIGSERIAL PRIMARY KEY,
    org_id          BIGINT NOT NULL REFERENCES orgs (id),
    title           TEXT NOT NULL,
    pool_kind       TEXT NOT NULL CHECK (pool_kind IN ('quiz_passers', 'reading_completers', 'volunteers')),
    pool_ref_id     BIGINT NOT NULL,
    min_minutes     INTEGER NOT NULL DEFAULT 0 CHECK (min_minutes >= 0),
    winners         INTEGER NOT NULL CHECK (winners BETWEEN 1 AND 10000),
    draw_at         TIMESTAMP NOT NULL,
    -- the secret seed, encrypted with the data key until it is revealed at the draw
    seed_sealed     TEXT NOT NULL,
    seed_commitment TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('scheduled', 'drawn')),
    seed            TEXT,
    pool_size       INTEGER,
    pool_digest     TEXT,
    drawn_at        TIMESTAMP,
    created_by      BIGINT NOT NULL REFERENCES users (id),
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX raffles_org ON raffles (org_id);

-- The frozen pool, in its published order (ascending user id).
CREATE TABLE raffle_entries (
    raffle_id BIGINT NOT NULL REFERENCES raffles (id),
    user_id   BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (raffle_id, user_id)
);

CREATE TABLE raffle_winners (
    raffle_id BIGINT NOT NULL REFERENCES raffles (id),
    place     INTEGER NOT NULL,
    user_id   BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (raffle_id, place)
);
