-- Feedback received per rollout (a projection of onramp.feedback).
CREATE TABLE feedback_counts (
    rollout_id  text        PRIMARY KEY,
    received    bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Directory projection: cohort membership needs department and activity.
CREATE TABLE staff (
    staff_id       text        PRIMARY KEY,
    department_id  text,
    active         boolean     NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE departments (
    department_id  text        PRIMARY KEY,
    name           text        NOT NULL,
    head_staff_id  text,
    updated_at     timestamptz NOT NULL
);
