-- The outbox becomes a queue, cheap to write and to drain (docs/performance.md):
--
-- 1. The relay deletes the rows it published instead of marking them sent. The mark wrote a
--    second copy of every event to the write-ahead log (a new row version), and a sent row kept
--    for a day was a copy of what the topic keeps for a week anyway.
-- 2. A process that runs its own outbox relay wakes it itself once a commit staged a row
--    (shared.outbox): its connections set onramp.outbox_notify = off, and only the others (an
--    API-only process, a script, psql) NOTIFY the relays that LISTEN. A NOTIFY per commit was a
--    sixth of a busy service's CPU: PostgreSQL queues it under a database-wide lock at commit
--    and wakes every listening connection, whatever channel it listens on.
DELETE FROM outbox WHERE sent_at IS NOT NULL;
DROP INDEX outbox_unsent;
DROP INDEX outbox_sent_at;
ALTER TABLE outbox DROP COLUMN sent_at;

CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('onramp.outbox_notify', true) IS DISTINCT FROM 'off' THEN
        PERFORM pg_notify(TG_TABLE_SCHEMA || '.outbox', '');
    END IF;
    RETURN NULL;
END $$;
