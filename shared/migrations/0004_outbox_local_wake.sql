-- A process that runs its own outbox relay wakes it itself once a commit staged a row
-- (shared.outbox): its connections set onramp.outbox_notify = off, and only the others (an API-only
-- process, a script, psql) NOTIFY the relays that LISTEN. A NOTIFY per commit was a sixth of a
-- busy service's CPU: PostgreSQL queues it under a database-wide lock at commit and wakes every
-- listening connection, whatever channel it listens on (docs/performance.md).
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('onramp.outbox_notify', true) IS DISTINCT FROM 'off' THEN
        PERFORM pg_notify(TG_TABLE_SCHEMA || '.outbox', '');
    END IF;
    RETURN NULL;
END $$;
