//! Ledger rows for the console's tests and its page-time benchmark, written with SQL as the
//! ledger's ingest would leave them: `ledger_events` (one row per outcome or progress message)
//! and `ledger_case_events` (the current state per case event).

#![allow(dead_code)]

use sqlx::PgPool;

/// One case event's current state and its messages, in the order they happened.
struct Seeded<'a> {
    case_id: &'a str,
    event_id: &'a str,
    payer: &'a str,
    status: Option<&'a str>,
    /// Hours before now the event was received.
    received_h: f64,
    /// Hours after receipt it was submitted to the payer (None: never).
    submitted_after_h: Option<f64>,
    /// Hours after receipt the outcome was decided.
    decided_after_h: Option<f64>,
    urgency: &'a str,
    extra: &'a str,
}

async fn insert(pool: &PgPool, s: &Seeded<'_>) -> Result<(), sqlx::Error> {
    let sql = format!(
        "WITH t AS (SELECT now() - make_interval(secs => $5 * 3600) AS received) \
         INSERT INTO ledger_case_events (event_id, case_id, status, sequence, outcome_id, payer_id, \
           request_identifier, received_at, submitted_at, decided_at, urgency, attempts \
           {extra_cols}) \
         SELECT $1, $2, $3, CASE WHEN $3::text IS NULL THEN -1 ELSE 3 END, 'out-' || $1, $4, \
           'req-' || $1, t.received, t.received + make_interval(secs => $6 * 3600), \
           t.received + make_interval(secs => $7 * 3600), $8, CASE WHEN $6 IS NULL THEN 0 ELSE 1 END \
           {extra_vals} FROM t",
        extra_cols = if s.extra.is_empty() { "" } else { ", payer_reference, review_action, authorization_number, valid_from, valid_to, approved_units, partial, patient_responsibility, appeal_deadline, appeal_required, findings, reasons" },
        extra_vals = s.extra,
    );
    sqlx::query(&sql)
        .bind(s.event_id)
        .bind(s.case_id)
        .bind(s.status)
        .bind(s.payer)
        .bind(s.received_h)
        .bind(s.submitted_after_h)
        .bind(s.decided_after_h)
        .bind(s.urgency)
        .execute(pool)
        .await?;
    // The timeline: received, submitted, the outcome; what the case event's row says.
    sqlx::query(
        "INSERT INTO ledger_events (message_id, kind, event_id, case_id, step, sequence, at, payer_id, \
           request_identifier, payer_reference, body) \
         SELECT 'p-rec-' || c.event_id, 'progress', c.event_id, c.case_id, 'received', 0, c.received_at, \
           c.payer_id, NULL, NULL, jsonb_build_object('attempt', 0, 'replays', 0) \
         FROM ledger_case_events c WHERE c.event_id = $1 \
         UNION ALL \
         SELECT 'p-sub-' || c.event_id, 'progress', c.event_id, c.case_id, 'submitted', 1, c.submitted_at, \
           c.payer_id, c.request_identifier, NULL, \
           jsonb_build_object('attempt', 1, 'replays', 0, 'urgency', c.urgency, 'operation', 'submit') \
         FROM ledger_case_events c WHERE c.event_id = $1 AND c.submitted_at IS NOT NULL \
         UNION ALL \
         SELECT c.outcome_id, 'outcome', c.event_id, c.case_id, c.status, c.sequence, c.decided_at, \
           c.payer_id, c.request_identifier, c.payer_reference, \
           jsonb_build_object('status', c.status, 'findings', c.findings, 'reasons', c.reasons) \
         FROM ledger_case_events c WHERE c.event_id = $1 AND c.status IS NOT NULL",
    )
    .bind(s.event_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// A retry between submission and decision, on the timeline of `event_id`.
async fn retry(pool: &PgPool, event_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ledger_events (message_id, kind, event_id, case_id, step, sequence, at, payer_id, body) \
         SELECT 'p-retry-' || event_id, 'progress', event_id, case_id, 'retry-scheduled', 1, \
           submitted_at + interval '1 minute', payer_id, \
           jsonb_build_object('attempt', 3, 'replays', 0, 'retry', \
             jsonb_build_object('tier', '5m', 'reason', 'payer-unavailable', 'retry_at', \
               to_char(submitted_at + interval '6 minutes', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))) \
         FROM ledger_case_events WHERE event_id = $1",
    )
    .bind(event_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// The named cases the console tests look for:
/// - `C-2026-000125` rejected (two findings), the newest event of its case;
/// - `C-2026-000130` rejected first, then sent again and approved: not to fix;
/// - `C-2026-000200` appeal-needed, deadline in 10 days, two required items;
/// - `C-2026-000300` pended expedited 30 hours ago; `C-2026-000301` pended standard 8 days ago
///   (its clock has run out);
/// - `C-2026-000400` approved with authorization `AUTH-88231`, a period, units and a copay, a
///   retry on its timeline;
/// - `C-2026-000500` failed (payer unavailable);
///
/// and 240 more decided case events over eight weeks and three payers for the analytics.
pub async fn examples(pool: &PgPool) -> Result<(), sqlx::Error> {
    let none = "";
    let rejected = ", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '[]'::jsonb, \
        '[{\"rule\":\"COD-02\",\"severity\":\"error\",\"path\":\"service.procedures[0].code\",\"message\":\"The procedure code is not billable for milia removal; use 10040.\"},\
          {\"rule\":\"DOC-04\",\"severity\":\"error\",\"path\":\"documentation.notes[0]\",\"message\":\"The clinical note does not state the number of lesions.\"}]'::jsonb, '[]'::jsonb";
    insert(
        pool,
        &Seeded {
            case_id: "C-2026-000125",
            event_id: "E-125-1",
            payer: "acme",
            status: Some("rejected"),
            received_h: 5.0,
            submitted_after_h: None,
            decided_after_h: Some(0.001),
            urgency: "standard",
            extra: rejected,
        },
    )
    .await?;
    let rejected_old = ", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '[]'::jsonb, \
        '[{\"rule\":\"SITE-01\",\"severity\":\"error\",\"path\":\"service.site\",\"message\":\"The treatment site is missing.\"}]'::jsonb, '[]'::jsonb";
    insert(
        pool,
        &Seeded {
            case_id: "C-2026-000130",
            event_id: "E-130-1",
            payer: "acme",
            status: Some("rejected"),
            received_h: 50.0,
            submitted_after_h: None,
            decided_after_h: Some(0.001),
            urgency: "standard",
            extra: rejected_old,
        },
    )
    .await?;
    insert(pool, &Seeded { case_id: "C-2026-000130", event_id: "E-130-2", payer: "acme", status: Some("approved"), received_h: 20.0, submitted_after_h: Some(0.01), decided_after_h: Some(2.0), urgency: "standard", extra: ", 'ACME-REF-130', 'A1', 'AUTH-13000', current_date, current_date + 90, 1, false, NULL, NULL, '[]'::jsonb, '[]'::jsonb, '[]'::jsonb" }).await?;
    insert(pool, &Seeded { case_id: "C-2026-000200", event_id: "E-200-1", payer: "northwind-health", status: Some("appeal-needed"), received_h: 72.0, submitted_after_h: Some(0.01), decided_after_h: Some(30.0), urgency: "standard",
        extra: ", 'NW-77120', 'A3', NULL, NULL, NULL, NULL, NULL, NULL, current_date + 10, '[\"Operative note signed by the surgeon\",\"Photographs of the lesions\"]'::jsonb, '[]'::jsonb, '[{\"code\":\"MED-NEC\",\"text\":\"Medical necessity not established\"}]'::jsonb" }).await?;
    insert(pool, &Seeded { case_id: "C-2026-000300", event_id: "E-300-1", payer: "bluestone", status: Some("pended"), received_h: 30.5, submitted_after_h: Some(0.5), decided_after_h: Some(0.6), urgency: "expedited", extra: ", 'BS-3001', 'A4', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '[]'::jsonb, '[]'::jsonb, '[]'::jsonb" }).await?;
    insert(
        pool,
        &Seeded {
            case_id: "C-2026-000301",
            event_id: "E-301-1",
            payer: "acme",
            status: Some("pended"),
            received_h: 200.0,
            submitted_after_h: Some(8.0),
            decided_after_h: Some(9.0),
            urgency: "standard",
            extra: none,
        },
    )
    .await?;
    insert(pool, &Seeded { case_id: "C-2026-000400", event_id: "E-400-1", payer: "acme", status: Some("approved"), received_h: 100.0, submitted_after_h: Some(0.01), decided_after_h: Some(26.0), urgency: "standard",
        extra: ", 'ACME-REF-400', 'A1', 'AUTH-88231', current_date - 4, current_date + 86, 2, false, '$40 copay', NULL, '[]'::jsonb, '[]'::jsonb, '[]'::jsonb" }).await?;
    retry(pool, "E-400-1").await?;
    insert(pool, &Seeded { case_id: "C-2026-000500", event_id: "E-500-1", payer: "bluestone", status: Some("failed"), received_h: 12.0, submitted_after_h: Some(0.01), decided_after_h: Some(3.0), urgency: "standard",
        extra: ", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '[]'::jsonb, '[]'::jsonb, '[{\"code\":\"payer-unavailable\",\"text\":\"The payer did not answer after every retry\"}]'::jsonb" }).await?;
    // The analytics' background: 240 decided events, 8 weeks, 3 payers.
    sqlx::query(
        "INSERT INTO ledger_case_events (event_id, case_id, status, sequence, payer_id, received_at, \
           submitted_at, decided_at, urgency, reasons, findings) \
         SELECT 'E-bg-' || g, 'C-2025-' || lpad(g::text, 6, '0'), \
           (ARRAY['approved','approved','approved','denied','appeal-needed','approved'])[1 + g % 6], 3, \
           (ARRAY['acme','northwind-health','bluestone'])[1 + g % 3], \
           now() - make_interval(hours => g * 5 + 2), now() - make_interval(hours => g * 5 + 1), \
           now() - make_interval(hours => g * 5 + 1) + make_interval(mins => 30 + (g % 7) * 200), \
           'standard', \
           CASE WHEN g % 6 IN (3, 4) THEN jsonb_build_array(jsonb_build_object('code', \
             (ARRAY['MED-NEC','NOT-COVERED','INFO-MISSING'])[1 + g % 3], 'text', 'reason')) ELSE '[]'::jsonb END, \
           '[]'::jsonb \
         FROM generate_series(1, 240) g",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The benchmark's ledger: `cases` case events (4 messages each: received, submitted, and an
/// outcome, with a retry or a second progress for some), spread over 12 weeks, six statuses and
/// five payers, written by two `INSERT … SELECT generate_series` statements.
pub async fn bulk(pool: &PgPool, cases: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ledger_case_events (event_id, case_id, status, sequence, outcome_id, payer_id, \
           request_identifier, payer_reference, authorization_number, valid_from, valid_to, \
           approved_units, partial, appeal_deadline, appeal_required, findings, reasons, attempts, \
           decided_at, received_at, submitted_at, urgency) \
         SELECT 'EV-' || g, 'C-2026-' || lpad(g::text, 7, '0'), st, 3, 'OUT-' || g, \
           (ARRAY['acme','northwind-health','bluestone','harbor','summit'])[1 + g % 5], 'REQ-' || g, \
           'REF-' || g, CASE WHEN st = 'approved' THEN 'AUTH-' || g END, \
           CASE WHEN st = 'approved' THEN (r - interval '1 day')::date END, \
           CASE WHEN st = 'approved' THEN (r + interval '90 days')::date END, \
           CASE WHEN st = 'approved' THEN 1 + g % 3 END, false, \
           CASE WHEN st = 'appeal-needed' THEN (r + interval '30 days')::date END, \
           CASE WHEN st = 'appeal-needed' THEN '[\"Operative note\",\"Photographs\"]'::jsonb ELSE '[]'::jsonb END, \
           CASE WHEN st = 'rejected' THEN jsonb_build_array(jsonb_build_object('rule', \
             (ARRAY['COD-02','DOC-04','SITE-01','NEC-01'])[1 + g % 4], 'severity', 'error', 'path', \
             'service.procedures[0].code', 'message', 'The procedure code is not billable.')) ELSE '[]'::jsonb END, \
           CASE WHEN st IN ('denied','appeal-needed','failed') THEN jsonb_build_array(jsonb_build_object('code', \
             (ARRAY['MED-NEC','NOT-COVERED','INFO-MISSING'])[1 + g % 3], 'text', 'reason')) ELSE '[]'::jsonb END, \
           1 + g % 3, CASE WHEN st <> 'pended' THEN r + make_interval(mins => (30 + g % 2000)::int) END, \
           r, r + interval '2 seconds', CASE WHEN g % 4 = 0 THEN 'expedited' ELSE 'standard' END \
         FROM (SELECT g, now() - make_interval(secs => g * 29) AS r, \
                 (ARRAY['approved','approved','denied','appeal-needed','rejected','pended','failed','approved'])[1 + g % 8] AS st \
               FROM generate_series(1, $1::bigint) g) s",
    )
    .bind(cases)
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO ledger_events (message_id, kind, event_id, case_id, step, sequence, at, payer_id, \
           request_identifier, payer_reference, body) \
         SELECT c.event_id || '-' || k, CASE WHEN k = 4 THEN 'outcome' ELSE 'progress' END, c.event_id, \
           c.case_id, (ARRAY['received','submitted','retry-scheduled', coalesce(c.status, 'submitted')])[k], \
           CASE WHEN k = 4 THEN 3 ELSE k - 1 END, \
           c.received_at + make_interval(secs => (k - 1) * 60), c.payer_id, c.request_identifier, \
           CASE WHEN k = 4 THEN c.payer_reference END, \
           CASE WHEN k = 3 THEN '{\"attempt\":1,\"replays\":0,\"retry\":{\"tier\":\"5m\",\"reason\":\"payer-unavailable\"}}'::jsonb \
                ELSE jsonb_build_object('attempt', k - 1, 'replays', 0) END \
         FROM ledger_case_events c, generate_series(1, 4) k WHERE c.event_id LIKE 'EV-%'",
    )
    .execute(pool)
    .await?;
    sqlx::query("ANALYZE ledger_case_events")
        .execute(pool)
        .await?;
    sqlx::query("ANALYZE ledger_events").execute(pool).await?;
    Ok(())
}
