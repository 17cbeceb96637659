-- Directory projection: who can be notified, and how.
CREATE TABLE staff (
    staff_id       text        PRIMARY KEY,
    name           text        NOT NULL,
    email          text,
    department_id  text,
    manager_id     text,
    roles          text[]      NOT NULL DEFAULT '{}',
    timezone       text,
    locale         text,
    active         boolean     NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX staff_roles ON staff USING gin (roles);

-- The in-app inbox. One notification per (source event, recipient, template).
CREATE TABLE notifications (
    notification_id  uuid        PRIMARY KEY,
    recipient_id     text        NOT NULL,
    template         text        NOT NULL,
    source_event_id  text        NOT NULL,
    subject          text        NOT NULL,
    body             text        NOT NULL,
    data             jsonb       NOT NULL DEFAULT '{}',
    priority         text        NOT NULL DEFAULT 'normal',
    created_at       timestamptz NOT NULL DEFAULT now(),
    read_at          timestamptz,
    UNIQUE (source_event_id, recipient_id, template)
);
CREATE INDEX notifications_inbox ON notifications (recipient_id, created_at DESC);
