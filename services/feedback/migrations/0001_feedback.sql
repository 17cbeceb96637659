-- Feedback given by staff (HTTP) or survey tools (onramp.feedback.intake). Every survey answer
-- is kept; the newest per (rollout_id, respondent_key) is the one that counts.
CREATE TABLE feedback (
    feedback_id      uuid        PRIMARY KEY,
    rollout_id       text        NOT NULL,
    kind             text        NOT NULL CHECK (kind IN ('survey', 'issue', 'comment')),
    csat             smallint    CHECK (csat BETWEEN 1 AND 5),
    nps              smallint    CHECK (nps BETWEEN 0 AND 10),
    severity         text        CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    category         text,
    text             text        NOT NULL DEFAULT '',
    anonymous        boolean     NOT NULL,
    staff_id         text,       -- NULL whenever anonymous
    department_id    text,
    respondent_key   text        NOT NULL,  -- keyed hash, see services/feedback/domain/privacy.py
    channel          text        NOT NULL CHECK (channel IN ('http', 'intake')),
    source           text        NOT NULL,  -- CloudEvents source of the producer
    external_id      text,       -- the survey tool's own feedback id
    submitted_at     timestamptz NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    -- The case of an issue: open -> acknowledged -> resolved, with its SLA due times.
    status           text        CHECK (status IN ('open', 'acknowledged', 'resolved')),
    ack_due_at       timestamptz,
    resolve_due_at   timestamptz,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    resolved_at      timestamptz,
    resolved_by      text,
    resolution       text,
    CHECK (NOT anonymous OR staff_id IS NULL),
    CHECK ((kind = 'issue') = (status IS NOT NULL)),
    CHECK (status IS DISTINCT FROM 'resolved' OR resolution IS NOT NULL),
    UNIQUE (source, external_id)
);
CREATE INDEX feedback_newest ON feedback (submitted_at DESC, feedback_id DESC);
CREATE INDEX feedback_rollout ON feedback (rollout_id, submitted_at DESC, feedback_id DESC);
CREATE INDEX feedback_respondent ON feedback (rollout_id, respondent_key, submitted_at DESC, feedback_id DESC)
    WHERE kind = 'survey';

-- Rollouts the service knows from onramp.rollout: feedback for any other is refused.
CREATE TABLE rollouts (
    rollout_id   text        PRIMARY KEY,
    name         text,       -- NULL until rollout.created has been seen
    known_since  timestamptz NOT NULL
);

-- Directory projection, keyed by a pseudonym of the staff id (privacy.person_key), so that no
-- table here names a person who gave anonymous feedback.
CREATE TABLE people (
    person_key     text        PRIMARY KEY,
    department_id  text,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE departments (
    department_id  text        PRIMARY KEY,
    name           text        NOT NULL,
    updated_at     timestamptz NOT NULL
);
