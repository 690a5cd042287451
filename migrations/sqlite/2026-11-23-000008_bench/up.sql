-- The load tests' "one committed row per request" ceiling writes here
-- (only with HUIGONG_BENCH_ENDPOINTS=true).
CREATE TABLE bench_rows (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    payload    TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
