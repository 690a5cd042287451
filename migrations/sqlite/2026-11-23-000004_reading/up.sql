-- Reading check-ins (读书打卡): campaigns, participants and one check-in per local day.
-- Calendar days are stored as 'YYYY-MM-DD' text in the campaign's time zone.

CREATE TABLE reading_campaigns (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id         INTEGER NOT NULL REFERENCES orgs (id),
    title          TEXT NOT NULL,
    description    TEXT NOT NULL,
    starts_on      TEXT NOT NULL,
    ends_on        TEXT NOT NULL,
    target_days    INTEGER NOT NULL CHECK (target_days >= 1),
    time_zone      TEXT NOT NULL,
    makeup_cards   INTEGER NOT NULL CHECK (makeup_cards >= 0),
    min_note_chars INTEGER NOT NULL CHECK (min_note_chars >= 0),
    min_minutes    INTEGER NOT NULL CHECK (min_minutes >= 1),
    created_by     INTEGER NOT NULL REFERENCES users (id),
    created_at     TIMESTAMP NOT NULL,
    CHECK (ends_on >= starts_on)
);
CREATE INDEX reading_campaigns_org ON reading_campaigns (org_id);

CREATE TABLE reading_participants (
    campaign_id  INTEGER NOT NULL REFERENCES reading_campaigns (id),
    user_id      INTEGER NOT NULL REFERENCES users (id),
    makeups_used INTEGER NOT NULL DEFAULT 0 CHECK (makeups_used >= 0),
    joined_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (campaign_id, user_id)
);

CREATE TABLE reading_checkins (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id INTEGER NOT NULL REFERENCES reading_campaigns (id),
    user_id     INTEGER NOT NULL REFERENCES users (id),
    day         TEXT NOT NULL,
    book_title  TEXT NOT NULL,
    minutes     INTEGER NOT NULL CHECK (minutes > 0),
    note        TEXT NOT NULL,
    makeup      BOOLEAN NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (campaign_id, user_id, day)
);
CREATE INDEX reading_checkins_day ON reading_checkins (campaign_id, day);
