#!/usr/bin/env bash
# One command: build, start the server on a stack, seed it, run the ceilings and the
# journeys back to back, print the table, stop the server.
#
#   bash load-tests/run.sh [embedded|postgres] [--seconds N] [--users N] [--rounds N] [--only NAME] [--smoke] [--debug]
#
# embedded: a fresh SQLite file + in-process hot store. postgres: a fresh database
# `huigong_load` on 127.0.0.1:5432 + Redis on 127.0.0.1:6379 (own key prefix).
# Seeds the demo data and 100k rest stations (5k with --smoke). Only loopback is ever
# targeted. --smoke: 2 s per scenario, fails on any error (CI).
set -euo pipefail
cd "$(dirname "$0")/.."

stack="${1:-embedded}"
shift || true
profile=release
stations=100000
seconds=10
users=32
args=()
prev=""
for a in "$@"; do
    case "$a" in
        --debug) profile=debug ;;
        --smoke) stations=5000; seconds=2; users=4; args+=("$a") ;;
        *) args+=("$a") ;;
    esac
    case "$prev" in
        --seconds) seconds="$a" ;;
        --users) users="$a" ;;
    esac
    prev="$a"
done
flag=(); [ "$profile" = release ] && flag=(--release)

cargo build -q "${flag[@]}" -p huigong
cargo build -q "${flag[@]}" --manifest-path load-tests/Cargo.toml
# HUIGONG_LOAD_SERVER: another build of the server to measure (an A/B on one machine).
server="${HUIGONG_LOAD_SERVER:-target/$profile/huigong}"
load="load-tests/target/$profile/huigong-load"

work="$(mktemp -d)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
wechat_port="$(free_port)"
# WeChat's jscode2session, stood in for on loopback (the login journey measures us, not it).
"$load" mock-wechat --port "$wechat_port" &
mock=$!
export HUIGONG_WECHAT_API_BASE="http://127.0.0.1:$wechat_port"
export HUIGONG_WECHAT_APPID="wx-load-test"
export HUIGONG_WECHAT_SECRET="load-test-wechat-secret"
export HUIGONG_LISTEN="127.0.0.1:$port"
export HUIGONG_BENCH_ENDPOINTS=true
export HUIGONG_LOG="${HUIGONG_LOG:-warn}"
export HUIGONG_JWT_SECRET="load-test-secret-load-test-secret-0123"
export HUIGONG_DATA_KEY="$(printf "ab%.0s" $(seq 1 32))"
export HUIGONG_DRAW_RECONCILE_SECS=0
unset HUIGONG_REDIS_URL
case "$stack" in
    embedded)
        export HUIGONG_DATABASE_URL="sqlite://$work/huigong.db"
        ;;
    postgres)
        psql -q -h 127.0.0.1 -U postgres -d postgres -c 'DROP DATABASE IF EXISTS huigong_load' \
            -c 'CREATE DATABASE huigong_load' >/dev/null
        export HUIGONG_DATABASE_URL="postgres://postgres@127.0.0.1:5432/huigong_load?sslmode=disable"
        export HUIGONG_REDIS_URL="redis://127.0.0.1:6379"
        export HUIGONG_REDIS_PREFIX="hgload$$"
        ;;
    *) echo "usage: $0 [embedded|postgres] [--seconds N] [--users N] [--smoke] [--debug]" >&2; exit 2 ;;
esac

echo "seeding: demo data and $stations rest stations"
"$server" seed-demo --stations "$stations" >/dev/null
"$server" serve 2>"$work/server.log" &
pid=$!
cleanup() {
    kill "$mock" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    warnings="$(grep -E 'WARN|ERROR' "$work/server.log" | grep -vc BENCH_ENDPOINTS || true)"
    if [ "${warnings:-0}" != 0 ]; then
        echo "server logged $warnings warning(s)/error(s); the first ones:"
        grep -E 'WARN|ERROR' "$work/server.log" | grep -v BENCH_ENDPOINTS | head -n 5
    fi
    if [ "$stack" = postgres ]; then
        redis-cli -h 127.0.0.1 --scan --pattern "hgload$$:*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 50); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done

echo "stack: $stack ($profile build), machine: $(nproc) cores, $(uname -sr)"
"$load" --host "http://127.0.0.1:$port" "${args[@]}"
if [ "$stack" = postgres ]; then
    # The database's own ceiling without HTTP: pgbench committing one row per transaction
    # into the same table as `ceiling insert`, with as many clients as the generator has users.
    echo "INSERT INTO bench_rows (payload, created_at) VALUES ('x', now());" >"$work/insert.sql"
    tps="$(pgbench -n -h 127.0.0.1 -U postgres -c "$users" -j 2 -T "$seconds" -f "$work/insert.sql" huigong_load 2>/dev/null |
        awk '/^tps/ {printf "%.0f", $3}')"
    echo "pgbench one-row insert (no HTTP, $users clients, $seconds s): ${tps:-?} tps"
fi
