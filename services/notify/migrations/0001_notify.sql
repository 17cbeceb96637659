-- The notify service's own tables. Plumbing (outbox, inbox, timers) comes from shared/migrations.

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

CREATE TABLE departments (
    department_id  text        PRIMARY KEY,
    name           text        NOT NULL,
    head_staff_id  text,
    active         boolean     NOT NULL,
    updated_at     timestamptz NOT NULL
);

-- Training projection: the best result per person and course (a later failure does not undo a pass).
CREATE TABLE training (
    staff_id      text        NOT NULL,
    course_id     text        NOT NULL,
    done          boolean     NOT NULL,
    completed_at  timestamptz NOT NULL,
    PRIMARY KEY (staff_id, course_id)
);

-- Rollout projection: owner, current stage and cohort, gate state.
CREATE TABLE rollouts (
    rollout_id        text        PRIMARY KEY,
    name              text        NOT NULL,
    owner_id          text,
    status            text        NOT NULL DEFAULT 'created'
                      CHECK (status IN ('created', 'running', 'paused', 'completed')),
    stage_index       integer,
    stage_name        text,
    stage_started_at  timestamptz,
    cohort_member_ids text[]      NOT NULL DEFAULT '{}',
    gate_outcome      text,
    stall_since       timestamptz,  -- since when the gate has not passed (NULL: clock stopped)
    updated_at        timestamptz NOT NULL
);

-- Each stage's name and members as it started, so that a rollback knows the cohort it returns to.
CREATE TABLE rollout_stages (
    rollout_id   text        NOT NULL,
    stage_index  integer     NOT NULL,
    name         text        NOT NULL,
    member_ids   text[]      NOT NULL,
    started_at   timestamptz NOT NULL,
    PRIMARY KEY (rollout_id, stage_index)
);

-- Issues as notify needs them: who to tell when resolved (never for anonymous feedback, whose
-- staff_id is NULL here as everywhere) and whose manager or department head to escalate to.
CREATE TABLE feedback (
    feedback_id    text        PRIMARY KEY,
    rollout_id     text        NOT NULL,
    severity       text,
    category       text,
    staff_id       text,
    department_id  text,
    status         text        NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'acknowledged', 'resolved')),
    submitted_at   timestamptz NOT NULL
);

CREATE TABLE preferences (
    staff_id    text        PRIMARY KEY,
    prefs       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The in-app inbox. One notification per (source event, recipient, template).
CREATE TABLE notifications (
    seq                bigserial   NOT NULL UNIQUE,  -- the inbox's order and paging cursor
    notification_id    uuid        PRIMARY KEY,
    recipient_id       text        NOT NULL,
    template           text        NOT NULL,
    source_event_id    text        NOT NULL,
    source_event_type  text        NOT NULL,
    rollout_id         text,
    case_id            uuid,
    locale             text        NOT NULL,
    subject            text        NOT NULL,
    body               text        NOT NULL,
    data               jsonb       NOT NULL DEFAULT '{}',
    priority           text        NOT NULL
                       CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    read_at            timestamptz,
    UNIQUE (source_event_id, recipient_id, template)
);
CREATE INDEX notifications_inbox ON notifications (recipient_id, seq DESC);
CREATE INDEX notifications_unread ON notifications (recipient_id) WHERE read_at IS NULL;
CREATE INDEX notifications_case ON notifications (case_id, recipient_id) WHERE case_id IS NOT NULL;

-- External deliveries: one row per (notification, channel), or one per digest and channel.
--   pending   → due_at says when (quiet hours and retries move it), then sent or failed;
--   digest    → waits for the person's daily digest, then digested into a digest row;
--   cancelled → no longer worth sending (e.g. a reminder after the training was completed).
CREATE TABLE deliveries (
    delivery_id      bigserial   PRIMARY KEY,
    notification_id  uuid        REFERENCES notifications ON DELETE CASCADE,
    recipient_id     text        NOT NULL,
    channel          text        NOT NULL,
    address          text        NOT NULL,
    priority         text        NOT NULL,
    status           text        NOT NULL
                     CHECK (status IN ('pending', 'digest', 'digested', 'sent', 'failed',
                                       'cancelled')),
    shard            integer     NOT NULL,
    due_at           timestamptz,
    attempts         integer     NOT NULL DEFAULT 0,
    last_error       text,
    digest_id        bigint      REFERENCES deliveries,  -- the digest row that carried this one
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    CHECK (notification_id IS NOT NULL OR status <> 'digest'),
    UNIQUE (notification_id, channel)
);
CREATE INDEX deliveries_due ON deliveries (shard, due_at) WHERE status = 'pending';
CREATE INDEX deliveries_digest ON deliveries (recipient_id) WHERE status = 'digest';
CREATE INDEX deliveries_carried ON deliveries (digest_id) WHERE digest_id IS NOT NULL;

-- When each delivery shard's timer is armed for, so that arming never moves it later and the
-- consumers need not touch the timer row while a batch is being sent.
CREATE TABLE delivery_shards (
    shard     integer     PRIMARY KEY,
    next_due  timestamptz
);

-- Escalation policies set over the API; names without a row use the built-in default.
CREATE TABLE escalation_policies (
    name        text        PRIMARY KEY,
    policy      jsonb       NOT NULL,
    version     integer     NOT NULL,
    updated_at  timestamptz NOT NULL,
    updated_by  text        NOT NULL
);

-- Escalation cases. A case keeps the policy it opened with, so its timeline never shifts.
CREATE TABLE cases (
    case_id          uuid        PRIMARY KEY,
    kind             text        NOT NULL CHECK (kind IN ('issue', 'guardrail', 'override', 'stalled')),
    dedupe_key       text        NOT NULL UNIQUE,
    policy_name      text        NOT NULL,
    policy           jsonb       NOT NULL,
    status           text        NOT NULL CHECK (status IN ('open', 'acknowledged', 'closed')),
    reason           text        NOT NULL,
    facts            jsonb       NOT NULL DEFAULT '{}',  -- what its notifications show
    rollout_id       text,
    stage_index      integer,
    feedback_id      text,
    submitter_id     text,       -- NULL for anonymous feedback and for rollout cases
    department_id    text,
    opened_at        timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    closed_at        timestamptz,
    closed_by        text,
    close_reason     text,
    next_loop        integer,    -- the next step that can page, NULL when none is left
    next_level       integer,
    next_due_at      timestamptz
);
CREATE INDEX cases_status ON cases (status, opened_at DESC);
CREATE INDEX cases_rollout ON cases (rollout_id) WHERE status <> 'closed';
CREATE INDEX cases_feedback ON cases (feedback_id) WHERE feedback_id IS NOT NULL;

CREATE TABLE case_log (
    id          bigserial   PRIMARY KEY,
    case_id     uuid        NOT NULL REFERENCES cases,
    at          timestamptz NOT NULL,
    action      text        NOT NULL
                CHECK (action IN ('opened', 'paged', 'acknowledged', 'closed')),
    loop        integer,
    level       integer,
    due_at      timestamptz,
    targets     text[]      NOT NULL DEFAULT '{}',
    recipients  text[]      NOT NULL DEFAULT '{}',
    unresolved  text[]      NOT NULL DEFAULT '{}',
    actor       text,
    detail      text        NOT NULL DEFAULT ''
);
CREATE INDEX case_log_case ON case_log (case_id, id);

-- Training reminder ladders: one per (rollout, stage whose cohort must get trained).
CREATE TABLE reminder_ladders (
    rollout_id   text        NOT NULL,
    stage_index  integer     NOT NULL,
    started_at   timestamptz NOT NULL,
    member_ids   text[]      NOT NULL,
    course_ids   text[]      NOT NULL,
    context      jsonb       NOT NULL,
    next_step    integer     NOT NULL DEFAULT 0,
    status       text        NOT NULL CHECK (status IN ('active', 'done', 'cancelled')),
    PRIMARY KEY (rollout_id, stage_index)
);
CREATE INDEX reminder_ladders_members ON reminder_ladders USING gin (member_ids)
    WHERE status = 'active';
