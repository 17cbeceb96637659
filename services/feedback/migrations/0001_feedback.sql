-- Feedback given by staff (HTTP) or survey tools (intake topic).
CREATE TABLE feedback (
    feedback_id     uuid        PRIMARY KEY,
    rollout_id      text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('survey', 'issue', 'comment')),
    csat            smallint    CHECK (csat BETWEEN 1 AND 5),
    nps             smallint    CHECK (nps BETWEEN 0 AND 10),
    severity        text        CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    category        text,
    text            text,
    anonymous       boolean     NOT NULL,
    staff_id        text,       -- NULL whenever anonymous
    department_id   text,
    respondent_key  text        NOT NULL,
    status          text        NOT NULL DEFAULT 'open',
    submitted_at    timestamptz NOT NULL,
    CHECK (NOT anonymous OR staff_id IS NULL)
);
CREATE INDEX feedback_rollout ON feedback (rollout_id, submitted_at);

-- Directory projection: only what feedback needs (a submitter's department).
CREATE TABLE staff (
    staff_id       text        PRIMARY KEY,
    department_id  text,
    updated_at     timestamptz NOT NULL
);
