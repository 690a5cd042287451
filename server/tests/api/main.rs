//! The one integration-test binary: every suite talks HTTP to a spawned server, on the
//! embedded default, and on Postgres + Redis when `HUIGONG_TEST_DATABASE_URL` and
//! `HUIGONG_TEST_REDIS_URL` are set.

// A failed unwrap is a failed assertion here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod auth;
mod cli;
mod draws;
mod enrollment;
mod hot_store;
mod idempotency;
mod jobs;
mod migrations;
mod orgs;
mod quizzes;
mod reading;
mod stations;
mod system;
mod volunteering;
