-- Rest stations for outdoor workers (户外劳动者驿站): stations, riders' visits, reviews and
-- reports. Coordinates are GCJ-02. SQL is the truth; the nearby index (Redis GEO or the
-- in-process grid) is rebuilt from `stations`.

CREATE TABLE stations (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id         INTEGER NOT NULL REFERENCES orgs (id),
    name           TEXT NOT NULL,
    address        TEXT NOT NULL,
    lat            DOUBLE NOT NULL CHECK (lat BETWEEN -85 AND 85),
    lng            DOUBLE NOT NULL CHECK (lng BETWEEN -180 AND 180),
    -- bit i set: amenity i of stations::rules::Amenity::ALL
    amenities      INTEGER NOT NULL CHECK (amenities >= 0),
    -- "24/7" or the weekly rules as JSON, in the station's time zone
    opening_hours  TEXT NOT NULL,
    time_zone      TEXT NOT NULL,
    phone          TEXT NOT NULL,
    active         BOOLEAN NOT NULL,
    -- kept with the reviews and reports in the same transactions
    rating_sum     INTEGER NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
    rating_count   INTEGER NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    open_closed    INTEGER NOT NULL DEFAULT 0 CHECK (open_closed >= 0),
    open_broken    INTEGER NOT NULL DEFAULT 0 CHECK (open_broken >= 0),
    open_other     INTEGER NOT NULL DEFAULT 0 CHECK (open_other >= 0),
    created_by     INTEGER NOT NULL REFERENCES users (id),
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX stations_org ON stations (org_id);

-- A rider's check-in; one per member, station and local day.
CREATE TABLE station_visits (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    station_id INTEGER NOT NULL REFERENCES stations (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    day        TEXT NOT NULL,
    distance_m DOUBLE NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (station_id, user_id, day)
);
CREATE INDEX station_visits_day ON station_visits (day);

CREATE TABLE station_reviews (
    station_id INTEGER NOT NULL REFERENCES stations (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    rating     INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment    TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (station_id, user_id)
);

CREATE TABLE station_reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    station_id  INTEGER NOT NULL REFERENCES stations (id),
    user_id     INTEGER NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL CHECK (kind IN ('closed', 'broken', 'other')),
    detail      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    resolved_by INTEGER REFERENCES users (id)
);
CREATE INDEX station_reports_station ON station_reports (station_id, resolved_at);
