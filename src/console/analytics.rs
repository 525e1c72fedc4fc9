//! Analytics: approval, denial and appeal-needed rates per payer per week, the top denial
//! reasons (of denied and appeal-needed outcomes), the top rule ids (findings of rejected ones),
//! time to decision per payer (decided_at − submitted_at: median and 90th percentile); charts
//! drawn here as SVG with plotters and shown as data: images; the weekly table as CSV.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::NaiveDate;
use plotters::prelude::*;
use serde::Deserialize;
use sqlx::PgPool;

use super::audit::{self, Action};
use super::auth::Session;
use super::views::{AnalyticsView, CountRow, RateRow, TimingRow};
use super::web::{self, Fail};
use super::ConsoleState;

#[derive(Debug, Deserialize)]
pub(crate) struct AnalyticsQuery {
    weeks: Option<i64>,
}

fn weeks(q: &AnalyticsQuery) -> i64 {
    q.weeks.unwrap_or(12).clamp(1, 104)
}

/// One payer's week.
struct Week {
    payer: String,
    week: NaiveDate,
    decided: i64,
    approved: i64,
    denied: i64,
    appeal: i64,
}

const SINCE: &str = "decided_at >= date_trunc('week', now()) - make_interval(weeks => $1::int)";

async fn rates(pool: &PgPool, weeks: i64) -> Result<Vec<Week>, sqlx::Error> {
    let rows: Vec<(String, NaiveDate, i64, i64, i64, i64)> = sqlx::query_as(&format!(
        "SELECT coalesce(payer_id, '(none)'), date_trunc('week', decided_at)::date, count(*), \
           count(*) FILTER (WHERE status = 'approved'), count(*) FILTER (WHERE status = 'denied'), \
           count(*) FILTER (WHERE status = 'appeal-needed') \
         FROM ledger_case_events \
         WHERE status IN ('approved', 'denied', 'appeal-needed') AND {SINCE} \
         GROUP BY 1, 2 ORDER BY 2, 1"
    ))
    .bind(weeks)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(payer, week, decided, approved, denied, appeal)| Week {
            payer,
            week,
            decided,
            approved,
            denied,
            appeal,
        })
        .collect())
}

async fn top(
    pool: &PgPool,
    weeks: i64,
    array: &str,
    key: &str,
    text: &str,
    statuses: &str,
) -> Result<Vec<CountRow>, sqlx::Error> {
    let rows: Vec<(Option<String>, Option<String>, i64)> = sqlx::query_as(&format!(
        "SELECT x->>'{key}', min(x->>'{text}'), count(*) \
         FROM ledger_case_events c, jsonb_array_elements(c.{array}) x \
         WHERE c.status IN ({statuses}) AND {SINCE} \
         GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 10"
    ))
    .bind(weeks)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(code, text, count)| CountRow {
            code: code.unwrap_or_default(),
            text: text.unwrap_or_default(),
            count,
        })
        .collect())
}

/// Per payer: decisions, median and 90th percentile of seconds from submission to decision.
async fn timings(pool: &PgPool, weeks: i64) -> Result<Vec<(String, i64, f64, f64)>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT coalesce(payer_id, '(none)'), count(*), \
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM decided_at - submitted_at))::float8, \
           percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM decided_at - submitted_at))::float8 \
         FROM ledger_case_events \
         WHERE status IN ('approved', 'denied', 'appeal-needed') AND submitted_at IS NOT NULL \
           AND decided_at >= submitted_at AND {SINCE} \
         GROUP BY 1 ORDER BY 1"
    ))
    .bind(weeks)
    .fetch_all(pool)
    .await
}

fn percent(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// A span of seconds in words: `45s`, `3h 12m`, `2d 4h`.
fn span(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as i64;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h {}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d {}h", s / 86_400, (s % 86_400) / 3600)
    }
}

fn data_uri(svg: &str) -> String {
    format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg))
}

/// Approval rate per payer per week, one line per payer.
fn rates_chart(weeks: &[Week]) -> Result<String, String> {
    let mut days: Vec<NaiveDate> = weeks.iter().map(|w| w.week).collect();
    days.sort();
    days.dedup();
    let mut payers: Vec<&str> = weeks.iter().map(|w| w.payer.as_str()).collect();
    payers.sort();
    payers.dedup();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let n = days.len().max(1) as i32;
        let mut chart = ChartBuilder::on(&root)
            .caption("Approval rate per week (%)", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0..n, 0f64..100f64)
            .map_err(|e| e.to_string())?;
        let label = |i: &i32| {
            days.get(usize::try_from(*i).unwrap_or(usize::MAX))
                .map(|d| d.format("%m-%d").to_string())
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .x_labels(days.len().clamp(1, 12))
            .x_label_formatter(&label)
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, payer) in payers.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(i32, f64)> = weeks
                .iter()
                .filter(|w| w.payer == *payer)
                .filter_map(|w| {
                    let x = days.iter().position(|d| *d == w.week)?;
                    Some((i32::try_from(x).ok()?, percent(w.approved, w.decided)))
                })
                .collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(payer.to_string())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(data_uri(&svg))
}

/// Bars: one per label, its value.
fn bar_chart(title: &str, bars: &[(String, f64)], unit: &str) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let top = bars.iter().map(|b| b.1).fold(1.0f64, f64::max) * 1.1;
        let n = bars.len().max(1) as i32;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d((0..n).into_segmented(), 0f64..top)
            .map_err(|e| e.to_string())?;
        let label = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => bars
                .get(usize::try_from(*i).unwrap_or(usize::MAX))
                .map(|b| b.0.clone())
                .unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(bars.len().max(1))
            .x_label_formatter(&label)
            .y_desc(unit)
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                let x = i32::try_from(i).unwrap_or(0);
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(x), 0.0),
                        (SegmentValue::Exact(x + 1), *v),
                    ],
                    Palette99::pick(i).filled(),
                );
                bar.set_margin(0, 0, 8, 8);
                bar
            }))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(data_uri(&svg))
}

fn chart_error(e: String) -> Fail {
    tracing::warn!(error = %e, "console: a chart could not be drawn");
    Fail::BadRequest("a chart could not be drawn")
}

pub(crate) async fn page(
    State(state): State<ConsoleState>,
    session: Session,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, Fail> {
    let weeks = weeks(&q);
    let pool = &state.pool;
    let weekly = rates(pool, weeks).await?;
    let reasons = top(
        pool,
        weeks,
        "reasons",
        "code",
        "text",
        "'denied', 'appeal-needed'",
    )
    .await?;
    let rules = top(pool, weeks, "findings", "rule", "message", "'rejected'").await?;
    let timing = timings(pool, weeks).await?;
    let rates_chart = rates_chart(&weekly).map_err(chart_error)?;
    let reason_bars: Vec<(String, f64)> = reasons
        .iter()
        .map(|r| (r.code.clone(), r.count as f64))
        .collect();
    let reasons_chart =
        bar_chart("Top denial reasons", &reason_bars, "outcomes").map_err(chart_error)?;
    let timing_bars: Vec<(String, f64)> = timing
        .iter()
        .map(|(payer, _, median, _)| (payer.clone(), median / 3600.0))
        .collect();
    let timing_chart = bar_chart("Median time to decision per payer", &timing_bars, "hours")
        .map_err(chart_error)?;
    web::page(&AnalyticsView {
        nav: session.nav(),
        weeks,
        rates_chart,
        reasons_chart,
        timing_chart,
        rates: weekly
            .iter()
            .map(|w| RateRow {
                payer: w.payer.clone(),
                week: w.week.to_string(),
                decided: w.decided,
                approved: format!("{:.1}%", percent(w.approved, w.decided)),
                denied: format!("{:.1}%", percent(w.denied, w.decided)),
                appeal: format!("{:.1}%", percent(w.appeal, w.decided)),
            })
            .collect(),
        reasons,
        rules,
        timings: timing
            .into_iter()
            .map(|(payer, decided, median, p90)| TimingRow {
                payer,
                decided,
                median: span(median),
                p90: span(p90),
            })
            .collect(),
    })
}

/// A CSV cell a spreadsheet will not run as a formula.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

pub(crate) async fn csv_export(
    State(state): State<ConsoleState>,
    session: Session,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, Fail> {
    let weeks = weeks(&q);
    let weekly = rates(&state.pool, weeks).await?;
    audit::record(
        &state.pool,
        &session.user,
        Action::Export,
        Some("analytics.csv"),
        Some(&format!("weeks={weeks}")),
    )
    .await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |_| Fail::BadRequest("the export could not be written");
    out.write_record([
        "payer",
        "week",
        "decided",
        "approved",
        "denied",
        "appeal_needed",
        "approval_rate",
        "denial_rate",
        "appeal_rate",
    ])
    .map_err(failed)?;
    for w in &weekly {
        out.write_record([
            cell(&w.payer),
            w.week.to_string(),
            w.decided.to_string(),
            w.approved.to_string(),
            w.denied.to_string(),
            w.appeal.to_string(),
            format!("{:.4}", percent(w.approved, w.decided) / 100.0),
            format!("{:.4}", percent(w.denied, w.decided) / 100.0),
            format!("{:.4}", percent(w.appeal, w.decided) / 100.0),
        ])
        .map_err(failed)?;
    }
    let body = out
        .into_inner()
        .map_err(|_| Fail::BadRequest("the export could not be written"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"preauth-analytics.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_of_seconds_reads_in_its_largest_units() {
        assert_eq!(span(45.0), "45s");
        assert_eq!(span(3.0 * 3600.0 + 720.0), "3h 12m");
        assert_eq!(span(2.0 * 86_400.0 + 4.0 * 3600.0), "2d 4h");
    }

    #[test]
    fn a_csv_cell_never_starts_a_formula() {
        assert_eq!(cell("=HYPERLINK()"), "'=HYPERLINK()");
        assert_eq!(cell("acme"), "acme");
    }

    #[test]
    fn a_chart_is_an_svg_data_uri() {
        let w = |payer: &str, day: u32, approved| Week {
            payer: payer.into(),
            week: NaiveDate::from_ymd_opt(2026, 3, day).unwrap_or_default(),
            decided: 10,
            approved,
            denied: 10 - approved,
            appeal: 0,
        };
        let uri =
            rates_chart(&[w("acme", 2, 7), w("acme", 9, 8), w("northwind", 2, 5)]).expect("chart");
        let svg = STANDARD
            .decode(uri.trim_start_matches("data:image/svg+xml;base64,"))
            .expect("base64");
        let svg = String::from_utf8(svg).expect("utf-8");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("northwind"));
        let bars = bar_chart("t", &[("CO-50".into(), 3.0)], "n").expect("chart");
        assert!(bars.starts_with("data:image/svg+xml;base64,"));
    }
}
