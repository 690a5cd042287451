-- Postgres keeps room on the pages of rows every draw batch updates (fillfactor); SQLite
-- rewrites a row in place and has no such setting. Kept so both migration lists stay in
-- step.
SELECT 1;
