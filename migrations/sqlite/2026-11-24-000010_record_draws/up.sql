-- Postgres records a batch of draws in one function call (record_draws); SQLite, in
-- process, runs the same steps as statements of its own (draws::store). Kept so both
-- migration lists stay in step.
SELECT 1;
