-- A batch of draws recorded in one call (group commit, see draws::store): the server sends
-- one statement per batch instead of ten round trips. The same guards as everywhere:
-- a chance is spent only while used < granted (else nothing is kept: check_violation
-- on "draw_chances_left"), stock only while remaining > 0 and the member is under the
-- prize's cap, one draw per idempotency key (the unique index fails the batch).
--
-- `arrivals`: [[quiz, member, key, picked, gate_won, max_per_user, code, created_at], ...]
-- in arrival order. Returns every draw's place in `arrivals`, its id and the prize it won.
-- Rows are locked in one order whatever the process: chance rows by (quiz, member),
-- then prize rows by id.
CREATE FUNCTION record_draws(arrivals json)
RETURNS TABLE (out_place integer, out_id bigint, out_won bigint)
LANGUAGE plpgsql
-- Every statement here finds a few rows by key, but Postgres cannot see how many elements
-- a JSON array holds (it guesses 100) and keeps a plan made while a new database's tables
-- were nearly empty: plan key look-ups whatever the statistics.
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET enable_bitmapscan = off
AS $$
DECLARE
    -- parsed once
    batch jsonb := arrivals::jsonb;
    c record;
    prize bigint;
    stock integer := 0;
    -- units taken per prize: {"<prize>": n}
    taken jsonb := '{}';
    prizes_taken integer;
    mine bigint;
    pair text;
    held jsonb := '{}';
    -- by place in `arrivals` (1-based): did the draw win its pick?
    winning boolean[] := array_fill(false, ARRAY[jsonb_array_length(batch)]);
    draw_ids regclass := pg_get_serial_sequence('draws', 'id')::regclass;
    spent integer;
    members integer;
BEGIN
    PERFORM 1 FROM draw_chances AS d
      WHERE (d.quiz_id, d.user_id) IN
            (SELECT (e ->> 0)::bigint, (e ->> 1)::bigint FROM jsonb_array_elements(batch) AS e)
      ORDER BY d.quiz_id, d.user_id
      FOR NO KEY UPDATE;
    UPDATE draw_chances AS d SET used = d.used + v.n
      FROM (SELECT (e ->> 0)::bigint AS quiz_id, (e ->> 1)::bigint AS user_id, count(*)::integer AS n
              FROM jsonb_array_elements(batch) AS e GROUP BY 1, 2) AS v
     WHERE d.quiz_id = v.quiz_id AND d.user_id = v.user_id AND d.used + v.n <= d.granted;
    GET DIAGNOSTICS spent = ROW_COUNT;
    SELECT count(*) INTO members
      FROM (SELECT DISTINCT e ->> 0, e ->> 1 FROM jsonb_array_elements(batch) AS e) AS m;
    IF spent <> members THEN
        RAISE EXCEPTION 'a draw chance the gate granted is not left in SQL'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'draw_chances_left';
    END IF;

    -- The stock the gate took, handed out again by SQL: by prize, then arrival; a draw wins
    -- while its prize has units left and its member is under the cap (counting this
    -- batch's earlier wins).
    FOR c IN
        SELECT (x.i - 1)::integer AS place, (x.e ->> 1)::bigint AS member,
               (x.e ->> 3)::bigint AS picked, (x.e ->> 5)::integer AS cap
          FROM jsonb_array_elements(batch) WITH ORDINALITY AS x(e, i)
         WHERE (x.e ->> 4)::boolean AND x.e ->> 3 IS NOT NULL
         ORDER BY 3, 1
    LOOP
        IF prize IS DISTINCT FROM c.picked THEN
            prize := c.picked;
            SELECT p.remaining INTO stock FROM prizes AS p WHERE p.id = prize FOR NO KEY UPDATE;
            stock := coalesce(stock, 0);
        END IF;
        pair := c.picked || ':' || c.member;
        mine := (held ->> pair)::bigint;
        IF mine IS NULL THEN
            SELECT count(*) INTO mine FROM prize_wins AS w
             WHERE w.prize_id = c.picked AND w.user_id = c.member;
        END IF;
        IF stock > 0 AND mine < c.cap THEN
            stock := stock - 1;
            taken := taken || jsonb_build_object(prize, coalesce((taken ->> prize::text)::integer, 0) + 1);
            mine := mine + 1;
            winning[c.place + 1] := true;
        END IF;
        held := held || jsonb_build_object(pair, mine);
    END LOOP;
    UPDATE prizes AS p SET remaining = p.remaining - t.value::integer
      FROM jsonb_each_text(taken) AS t
     WHERE p.id = t.key::bigint AND p.remaining >= t.value::integer;
    GET DIAGNOSTICS prizes_taken = ROW_COUNT;
    IF prizes_taken <> (SELECT count(*) FROM jsonb_object_keys(taken)) THEN
        RAISE EXCEPTION 'prize stock changed under its lock';
    END IF;

    -- Ids drawn up front, so the wins need no join back to the draws they belong to.
    RETURN QUERY
    WITH v AS (
        SELECT (x.i - 1)::integer AS place, nextval(draw_ids) AS id,
               (x.e ->> 0)::bigint AS quiz_id, (x.e ->> 1)::bigint AS user_id,
               x.e ->> 2 AS idem, (x.e ->> 3)::bigint AS picked,
               CASE WHEN winning[x.i] THEN (x.e ->> 3)::bigint END AS won,
               x.e ->> 6 AS code, (x.e ->> 7)::timestamp AS at
          FROM jsonb_array_elements(batch) WITH ORDINALITY AS x(e, i)
    ), d AS (
        INSERT INTO draws
               (id, quiz_id, user_id, idempotency_key, picked_prize_id, prize_id, created_at)
        SELECT v.id, v.quiz_id, v.user_id, v.idem, v.picked, v.won, v.at FROM v
    ), w AS (
        INSERT INTO prize_wins (draw_id, quiz_id, prize_id, user_id, redemption_code, won_at)
        SELECT v.id, v.quiz_id, v.won, v.user_id, v.code, v.at FROM v WHERE v.won IS NOT NULL
    )
    SELECT v.place, v.id, v.won FROM v ORDER BY v.place;
END
$$;
