-- The console's search by case id prefix (`C-2026-0001…`): a pattern index, since the default
-- collation's btree cannot serve LIKE 'prefix%'.
CREATE INDEX ledger_case_events_case_prefix ON ledger_case_events (case_id text_pattern_ops);
