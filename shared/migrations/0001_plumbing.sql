-- Plumbing tables every service schema has: outbox, inbox and durable timers.

CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    event_id    text        NOT NULL UNIQUE,
    topic       text        NOT NULL,
    key         bytea,
    value       bytea       NOT NULL,
    headers     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

CREATE TABLE inbox (
    consumer     text        NOT NULL,
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, source, event_id)
);

CREATE TABLE timers (
    id          bigserial   PRIMARY KEY,
    kind        text        NOT NULL,
    key         text        NOT NULL,
    due_at      timestamptz NOT NULL,
    payload     jsonb       NOT NULL DEFAULT '{}',
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, key)
);
CREATE INDEX timers_due ON timers (due_at);

CREATE FUNCTION timers_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.timers', '');
    RETURN NULL;
END $$;
CREATE TRIGGER timers_notify AFTER INSERT OR UPDATE OF due_at ON timers
    FOR EACH STATEMENT EXECUTE FUNCTION timers_notify();
