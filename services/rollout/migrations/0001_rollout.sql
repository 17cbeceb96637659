-- The rollout service's own state (rollouts, cohort members, approvals, timeline) and its
-- projections of other systems' events (directory, training, feedback).

-- Directory projection (onramp.directory): cohort membership, names for the gate report.
CREATE TABLE staff (
    staff_id       text        PRIMARY KEY,
    name           text        NOT NULL DEFAULT '',
    department_id  text,
    manager_id     text,
    active         boolean     NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX staff_department ON staff (department_id) WHERE active;

CREATE TABLE departments (
    department_id  text        PRIMARY KEY,
    name           text        NOT NULL,
    head_staff_id  text,
    active         boolean     NOT NULL DEFAULT true,
    updated_at     timestamptz NOT NULL
);

-- Training projection (onramp.training): courses a person completed or passed. A later
-- failed attempt does not take a completion back.
CREATE TABLE completions (
    staff_id      text        NOT NULL,
    course_id     text        NOT NULL,
    completed_at  timestamptz NOT NULL,
    PRIMARY KEY (staff_id, course_id)
);

-- Feedback projection (onramp.feedback): the latest CSAT answer per respondent and rollout.
-- staff_id is NULL for anonymous answers, which keep only their department.
CREATE TABLE survey_answers (
    rollout_id     text        NOT NULL,
    respondent     text        NOT NULL,
    feedback_id    text        NOT NULL,
    staff_id       text,
    department_id  text,
    csat           smallint    NOT NULL CHECK (csat BETWEEN 1 AND 5),
    submitted_at   timestamptz NOT NULL,
    PRIMARY KEY (rollout_id, respondent)
);
CREATE INDEX survey_answers_since ON survey_answers (rollout_id, submitted_at);

CREATE TABLE issues (
    feedback_id    text        PRIMARY KEY,
    rollout_id     text        NOT NULL,
    severity       text        NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    status         text        NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    staff_id       text,
    department_id  text,
    submitted_at   timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX issues_unresolved ON issues (rollout_id) WHERE status <> 'resolved';

-- Rollouts. stage is NULL before the start; epoch counts stage entries (advance, rollback),
-- so that approvals and the stored gate outcome belong to one visit of a stage.
CREATE TABLE rollouts (
    rollout_id        text        PRIMARY KEY,
    name              text        NOT NULL,
    description       text        NOT NULL DEFAULT '',
    system            text        NOT NULL DEFAULT '',
    owner_id          text        NOT NULL,
    plan              jsonb       NOT NULL,
    status            text        NOT NULL
                      CHECK (status IN ('planned', 'running', 'paused', 'completed')),
    stage             integer,
    epoch             integer     NOT NULL DEFAULT 0,
    stage_started_at  timestamptz,
    gate_outcome      text,
    gate_evaluated_at timestamptz,
    pause             jsonb,                       -- cause, reason, guardrail, actor, at
    guardrail_ack     jsonb       NOT NULL DEFAULT '{}',
    advance_request   jsonb,                       -- requested_by, at: waiting for approvals
    created_by        text        NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    completed_at      timestamptz
);
CREATE INDEX rollouts_active ON rollouts (status) WHERE status IN ('running', 'paused');
CREATE INDEX rollouts_created ON rollouts (created_at DESC, rollout_id);

-- Who each stage exposed, frozen when the stage started (the union is the exposed population).
CREATE TABLE rollout_members (
    rollout_id  text    NOT NULL REFERENCES rollouts ON DELETE CASCADE,
    staff_id    text    NOT NULL,
    stage       integer NOT NULL,
    PRIMARY KEY (rollout_id, staff_id)
);
CREATE INDEX rollout_members_stage ON rollout_members (rollout_id, stage);

-- Each approver's latest vote on leaving the stage visit ``epoch`` (every vote is also in
-- the timeline).
CREATE TABLE approvals (
    rollout_id   text        NOT NULL REFERENCES rollouts ON DELETE CASCADE,
    epoch        integer     NOT NULL,
    approver_id  text        NOT NULL,
    decision     text        NOT NULL CHECK (decision IN ('approve', 'reject')),
    comment      text        NOT NULL DEFAULT '',
    at           timestamptz NOT NULL,
    PRIMARY KEY (rollout_id, epoch, approver_id)
);

-- Every state change: who, when, why, and the evidence it was made on.
CREATE TABLE timeline (
    seq         bigserial   PRIMARY KEY,
    rollout_id  text        NOT NULL REFERENCES rollouts ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    kind        text        NOT NULL,
    actor       text        NOT NULL,
    stage       integer,
    reason      text        NOT NULL DEFAULT '',
    evidence    jsonb,
    data        jsonb       NOT NULL DEFAULT '{}',
    event_id    text
);
CREATE INDEX timeline_rollout ON timeline (rollout_id, seq);
