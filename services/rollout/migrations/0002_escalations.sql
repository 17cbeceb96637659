-- Projection of notify's escalation cases (onramp.notify, escalation.*.v1) that concern a
-- rollout: what the dashboard lists as open escalations. Notify owns the cases; this table only
-- follows their events. status and level only move forward, so a late or replayed event
-- cannot reopen a closed case.
CREATE TABLE escalations (
    case_id          text        PRIMARY KEY,
    rollout_id       text        NOT NULL,
    feedback_id      text,
    policy           text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('open', 'acknowledged', 'closed')),
    level            integer     NOT NULL DEFAULT 0,
    reason           text        NOT NULL DEFAULT '',
    targets          jsonb       NOT NULL DEFAULT '[]',
    opened_at        timestamptz NOT NULL,
    acknowledged_by  text,
    closed_reason    text        NOT NULL DEFAULT '',
    updated_at       timestamptz NOT NULL
);
CREATE INDEX escalations_open ON escalations (rollout_id, opened_at) WHERE status <> 'closed';
