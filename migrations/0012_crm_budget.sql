-- 0012_crm_budget.sql: one CRM API budget per HubSpot portal and per Salesforce org, shared by
-- every synkro instance on this database (issue 17; db/budget_store.c holds every statement,
-- crm/shared_budget.c is the client side).
--
-- crm_budget has one row per (account, limit): account is 'hubspot:<portal>' or
-- 'salesforce:<org>', limit_name 'burst', 'search' or 'daily'. A row is a rolling-window token
-- bucket: capacity tokens per interval_ms. Instances lease tokens in small chunks
-- (crm_budget_leases); a lease's tokens may be spent until holds_until and count against the
-- window until holds_until + interval_ms, so however late in the lease a token is spent, no
-- rolling window of the CRM sees more than capacity calls. Unspent tokens are given back with
-- the next take. paused_until is the shared pause after a 429 / REQUEST_LIMIT_EXCEEDED seen by
-- any instance. Every time is the database's clock (clock_timestamp()), so the instances' clocks
-- need not agree.

CREATE TABLE crm_budget (
    account      text NOT NULL CHECK (length(account) BETWEEN 1 AND 200),
    limit_name   text NOT NULL CHECK (limit_name ~ '^[a-z_]{1,32}$'),
    capacity     integer NOT NULL CHECK (capacity > 0),
    interval_ms  bigint NOT NULL CHECK (interval_ms > 0),
    paused_until timestamptz,
    pause_reason text,
    taken        bigint NOT NULL DEFAULT 0, -- tokens leased (less those given back)
    refusals     bigint NOT NULL DEFAULT 0, -- takes that found no free token
    pauses       bigint NOT NULL DEFAULT 0, -- pauses set (429s / REQUEST_LIMIT_EXCEEDED)
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (account, limit_name)
);

CREATE TABLE crm_budget_leases (
    id          bigserial PRIMARY KEY,
    account     text NOT NULL,
    limit_name  text NOT NULL,
    tokens      integer NOT NULL CHECK (tokens >= 0),
    holds_until timestamptz NOT NULL,
    FOREIGN KEY (account, limit_name) REFERENCES crm_budget ON DELETE CASCADE
);
CREATE INDEX crm_budget_leases_limit ON crm_budget_leases (account, limit_name, holds_until);

-- Takes up to p_want tokens of one limit (creating its row, or updating its capacity and
-- interval, as the caller's configuration says), after giving back p_return_tokens unspent tokens
-- of the caller's lease p_return_lease (0: none). Answers granted (0..p_want), lease_id (0 when
-- nothing was granted), wait_ms (when granted is 0: how long until a token can be free), and
-- paused_ms (> 0 while the limit is paused: nothing is granted). The row lock serialises takes of
-- one limit across instances; each statement below sees the leases committed before the lock was
-- had (READ COMMITTED takes a snapshot per statement in a function).
CREATE FUNCTION crm_budget_take(p_account text, p_limit text, p_capacity integer,
                                p_interval_ms bigint, p_want integer, p_hold_ms integer,
                                p_return_lease bigint, p_return_tokens integer,
                                OUT granted integer, OUT lease_id bigint, OUT wait_ms bigint,
                                OUT paused_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_now    timestamptz;
    v_pause  timestamptz;
    v_used   bigint;
    v_next   timestamptz;
    v_window interval := make_interval(secs => p_interval_ms / 1000.0);
BEGIN
    granted := 0; lease_id := 0; wait_ms := 0; paused_ms := 0;
    INSERT INTO crm_budget AS b (account, limit_name, capacity, interval_ms)
        VALUES (p_account, p_limit, p_capacity, p_interval_ms)
        ON CONFLICT (account, limit_name) DO UPDATE
        SET capacity = EXCLUDED.capacity, interval_ms = EXCLUDED.interval_ms
        RETURNING b.paused_until INTO v_pause;
    v_now := clock_timestamp();
    IF p_return_lease > 0 AND p_return_tokens > 0 THEN
        UPDATE crm_budget_leases l SET tokens = greatest(l.tokens - p_return_tokens, 0)
            WHERE l.id = p_return_lease AND l.account = p_account AND l.limit_name = p_limit;
        IF FOUND THEN
            UPDATE crm_budget b SET taken = b.taken - p_return_tokens
                WHERE b.account = p_account AND b.limit_name = p_limit;
        END IF;
    END IF;
    IF v_pause IS NOT NULL AND v_pause > v_now THEN
        paused_ms := ceil(extract(epoch FROM v_pause - v_now) * 1000)::bigint;
        RETURN;
    END IF;
    DELETE FROM crm_budget_leases l
        WHERE l.account = p_account AND l.limit_name = p_limit
          AND (l.holds_until + v_window <= v_now OR l.tokens = 0);
    SELECT coalesce(sum(l.tokens), 0), min(l.holds_until) INTO v_used, v_next
        FROM crm_budget_leases l WHERE l.account = p_account AND l.limit_name = p_limit;
    granted := least(p_want, p_capacity - v_used)::integer;
    IF granted <= 0 THEN
        granted := 0;
        wait_ms := greatest(ceil(extract(epoch FROM v_next + v_window - v_now) * 1000), 1)::bigint;
        UPDATE crm_budget b SET refusals = b.refusals + 1
            WHERE b.account = p_account AND b.limit_name = p_limit;
        RETURN;
    END IF;
    INSERT INTO crm_budget_leases (account, limit_name, tokens, holds_until)
        VALUES (p_account, p_limit, granted, v_now + make_interval(secs => p_hold_ms / 1000.0))
        RETURNING id INTO lease_id;
    UPDATE crm_budget b SET taken = b.taken + granted, updated_at = v_now
        WHERE b.account = p_account AND b.limit_name = p_limit;
END;
$$;
