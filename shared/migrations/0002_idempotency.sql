-- Answers to commands sent with an Idempotency-Key, kept so that a repeat gets the first answer.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,  -- who and which route: a key is only unique per caller
    key          text        NOT NULL,
    fingerprint  text        NOT NULL,  -- hash of the request body
    status       integer,
    body         jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Fixed-window request counters for per-person rate limits, shared by every instance.
CREATE TABLE rate_limits (
    bucket        text        NOT NULL,
    window_start  timestamptz NOT NULL,
    hits          integer     NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
