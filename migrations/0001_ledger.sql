-- The case ledger: every outcome and progress event the worker published, and the current state
-- of each case event derived from them (docs/contract.md section 5: of two outcomes for one
-- event_id, the one with the higher sequence is the later word). Ids and codes only: the events
-- carry no patient data, and neither does anything here.

-- One row per message received from the outcomes exchange, keyed by its message id (outcome_id
-- or progress_id). A redelivery or a replay of the same message inserts nothing.
CREATE TABLE ledger_events (
    message_id          text        PRIMARY KEY,
    kind                text        NOT NULL CHECK (kind IN ('outcome', 'progress')),
    event_id            text        NOT NULL,
    case_id             text        NOT NULL,
    -- the outcome's status, or the progress step (received, submitted, retry-scheduled, ...)
    step                text        NOT NULL,
    sequence            bigint      NOT NULL,
    -- decided_at of an outcome, at of a progress event
    at                  timestamptz NOT NULL,
    payer_id            text,
    request_identifier  text,
    payer_reference     text,
    body                jsonb       NOT NULL,
    ingested_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_events_timeline ON ledger_events (event_id, at, sequence);
CREATE INDEX ledger_events_case ON ledger_events (case_id, at);
CREATE INDEX ledger_events_at ON ledger_events (at);

-- The current state of each case event: the outcome with the highest sequence, and what the
-- progress events add (when it was received, when the request first went to the payer).
CREATE TABLE ledger_case_events (
    event_id               text        PRIMARY KEY,
    case_id                text        NOT NULL,
    -- null until the first outcome arrives
    status                 text,
    -- the sequence of the outcome that set status (-1 before any)
    sequence               bigint      NOT NULL DEFAULT -1,
    outcome_id             text,
    payer_id               text,
    request_identifier     text,
    payer_reference        text,
    review_action          text,
    authorization_number   text,
    valid_from             date,
    valid_to               date,
    approved_units         integer,
    partial                boolean,
    patient_responsibility text,
    appeal_deadline        date,
    appeal_required        jsonb       NOT NULL DEFAULT '[]'::jsonb,
    findings               jsonb       NOT NULL DEFAULT '[]'::jsonb,
    reasons                jsonb       NOT NULL DEFAULT '[]'::jsonb,
    attempts               integer     NOT NULL DEFAULT 0,
    next_follow_up_at      timestamptz,
    decided_at             timestamptz,
    -- the earliest progress.received (or, without one, the first message seen for the event)
    received_at            timestamptz,
    -- the first progress.submitted: the payer's decision clock runs from it
    submitted_at           timestamptz,
    urgency                text,
    replays                integer     NOT NULL DEFAULT 0,
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_case_events_case ON ledger_case_events (case_id, received_at);
CREATE INDEX ledger_case_events_status ON ledger_case_events (status, decided_at DESC);
CREATE INDEX ledger_case_events_appeal ON ledger_case_events (appeal_deadline) WHERE status = 'appeal-needed';
CREATE INDEX ledger_case_events_reference ON ledger_case_events (payer_reference) WHERE payer_reference IS NOT NULL;
CREATE INDEX ledger_case_events_authorization ON ledger_case_events (authorization_number) WHERE authorization_number IS NOT NULL;
CREATE INDEX ledger_case_events_payer ON ledger_case_events (payer_id, decided_at);

-- Console accounts: argon2id PHC strings, never a password.
CREATE TABLE ledger_users (
    name           text        PRIMARY KEY,
    role           text        NOT NULL CHECK (role IN ('staff', 'operator')),
    password_hash  text        NOT NULL,
    disabled       boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Console sessions: the cookie holds a random token; only its SHA-256 is stored.
CREATE TABLE ledger_sessions (
    token_hash  bytea       PRIMARY KEY,
    user_name   text        NOT NULL REFERENCES ledger_users (name) ON DELETE CASCADE,
    csrf_token  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX ledger_sessions_expiry ON ledger_sessions (expires_at);

-- Who viewed which case and who did what.
CREATE TABLE ledger_audit (
    id         bigserial   PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    user_name  text        NOT NULL,
    action     text        NOT NULL,
    target     text,
    detail     text
);
CREATE INDEX ledger_audit_at ON ledger_audit (at DESC);
