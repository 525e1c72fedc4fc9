-- The console's search by case id prefix (`C-2026-0001…`): a pattern index, since the default
-- collation's btree cannot serve LIKE 'prefix%'.
CREATE INDEX ledger_case_events_case_prefix ON ledger_case_events (case_id text_pattern_ops);

-- When the payer's regulatory decision clock runs out: 72 hours after the first submission of
-- an expedited request, 7 days (168 hours) for a standard one. Whole hours only, so the result
-- does not depend on the session's time zone: immutable, and indexable.
CREATE FUNCTION ledger_payer_clock_end(submitted timestamptz, urgency text) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN submitted + CASE WHEN urgency = 'expedited' THEN interval '72 hours' ELSE interval '168 hours' END;

-- "Waiting on the payer", the nearest clock first.
CREATE INDEX ledger_case_events_payer_clock ON ledger_case_events (ledger_payer_clock_end(submitted_at, urgency), event_id)
    WHERE status = 'pended';
-- "To fix" and "Failed", the latest first, in a stable order across pages.
CREATE INDEX ledger_case_events_status_latest ON ledger_case_events (status, decided_at DESC, event_id);
