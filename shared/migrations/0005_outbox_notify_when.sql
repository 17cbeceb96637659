-- The outbox trigger decides in its WHEN condition whether to NOTIFY, so a connection that wakes
-- its own relay (onramp.outbox_notify = off, plumbing migration 0004) no longer calls a PL/pgSQL
-- function for every statement that stages a row only to learn there is nothing to do: that
-- call was about 3 % of PostgreSQL's time under a stream of submissions (docs/performance.md).
DROP TRIGGER outbox_notify ON outbox;

CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT
    WHEN (current_setting('onramp.outbox_notify', true) IS DISTINCT FROM 'off')
    EXECUTE FUNCTION outbox_notify();
