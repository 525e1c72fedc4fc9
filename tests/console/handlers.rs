//! The console over plain HTTP: access, CSRF, roles, headers, audit, the CSV export.

use crate::support::{hidden, Console, Http, PASSWORD};

#[tokio::test]
async fn a_signed_out_request_is_sent_to_the_login_page_with_where_it_was_going() {
    let c = Console::start().await;
    let mut http = Http::new();
    for path in [
        "/work/to-fix",
        "/cases/C-2026-000125",
        "/parked",
        "/audit",
        "/analytics.csv",
    ] {
        let r = http.get(&c.url(path)).await;
        assert_eq!(r.status(), 303, "{path}");
        let to = r.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        assert!(to.starts_with("/login?next=%2F"), "{path} -> {to}");
    }
    // A forged session cookie is no session.
    http.cookies
        .push(("preauth_session".into(), "A".repeat(43)));
    assert_eq!(http.get(&c.url("/work/to-fix")).await.status(), 303);
    c.stop().await;
}

#[tokio::test]
async fn every_page_carries_the_security_headers_and_a_session_cookie_is_strict() {
    let c = Console::start().await;
    let mut http = Http::new();
    let r = http.get(&c.url("/login")).await;
    let h = r.headers();
    assert_eq!(
        h["content-security-policy"],
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    let page = r.text().await.expect("page");
    let csrf = hidden(&page, "csrf");
    let r = http
        .post(
            &c.url("/login"),
            &[
                ("csrf", &csrf),
                ("name", "sam"),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "/",
        "only a local path is followed"
    );
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .find(|v| v.starts_with("preauth_session="))
        .expect("a session cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(part), "{session}");
    }
    assert!(
        !session.contains("Secure"),
        "console.secure_cookies = false in tests"
    );
    let token = session["preauth_session=".len()..]
        .split(';')
        .next()
        .expect("value");
    assert_eq!(token.len(), 43);
    // Only the token's SHA-256 is stored.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM ledger_sessions")
        .fetch_one(&c.db.pool)
        .await
        .expect("one session");
    assert_eq!(stored.len(), 32);
    assert_ne!(stored, token.as_bytes());
    c.stop().await;
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let c = Console::start().await;
    let fp = c.park("C-2026-000777", "E-777-1").await;
    let mut http = Http::new();
    let csrf = http.sign_in(&c, "olivia").await;
    let replay = c.url(&format!("/parked/{fp}/replay"));
    assert_eq!(http.post(&replay, &[]).await.status(), 403, "no token");
    assert_eq!(
        http.post(&replay, &[("csrf", "wrong")]).await.status(),
        403,
        "a wrong token"
    );
    assert_eq!(
        http.post(&c.url("/logout"), &[]).await.status(),
        403,
        "sign-out too"
    );
    // The sign-in form without its double-submit token.
    let mut fresh = Http::new();
    let r = fresh
        .post(
            &c.url("/login"),
            &[("name", "olivia"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(c.depth(&c.parking_queue).await, 1, "nothing was replayed");
    // With the token, the same POST goes through.
    assert_eq!(http.post(&replay, &[("csrf", &csrf)]).await.status(), 303);
    assert_eq!(c.depth(&c.parking_queue).await, 0);
    assert_eq!(c.depth(&c.work_queue).await, 1);
    c.stop().await;
}

#[tokio::test]
async fn staff_may_not_replay_delete_read_bodies_or_the_audit_log() {
    let c = Console::start().await;
    let fp = c.park("C-2026-000778", "E-778-1").await;
    let mut http = Http::new();
    let csrf = http.sign_in(&c, "sam").await;
    let list = http
        .get(&c.url("/parked"))
        .await
        .text()
        .await
        .expect("page");
    assert!(list.contains(&fp), "staff see the fingerprint");
    assert!(list.contains("delivery-limit"));
    assert!(!list.contains("/replay"), "no replay link for staff");
    for action in ["replay", "delete"] {
        let r = http
            .post(
                &c.url(&format!("/parked/{fp}/{action}")),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status(), 403, "{action}");
    }
    assert_eq!(
        http.get(&c.url(&format!("/parked/{fp}"))).await.status(),
        403
    );
    assert_eq!(http.get(&c.url("/audit")).await.status(), 403);
    assert_eq!(c.depth(&c.parking_queue).await, 1);
    c.stop().await;
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_are_refused_and_audited() {
    let c = Console::start().await;
    for (name, password) in [("sam", "not the password"), ("nobody", PASSWORD)] {
        let mut http = Http::new();
        let page = http.get(&c.url("/login")).await.text().await.expect("page");
        let csrf = hidden(&page, "csrf");
        let r = http
            .post(
                &c.url("/login"),
                &[("csrf", &csrf), ("name", name), ("password", password)],
            )
            .await;
        assert_eq!(r.status(), 401, "{name}");
        assert!(!http.cookies.iter().any(|(k, _)| k == "preauth_session"));
    }
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ledger_audit WHERE action = 'login-failed'")
            .fetch_one(&c.db.pool)
            .await
            .expect("audit");
    assert_eq!(failed, 2);
    c.stop().await;
}

#[tokio::test]
async fn views_searches_and_exports_are_in_the_audit_log_for_operators() {
    let c = Console::start().await;
    let mut staff = Http::new();
    staff.sign_in(&c, "sam").await;
    assert_eq!(
        staff.get(&c.url("/cases/C-2026-000400")).await.status(),
        200
    );
    let found = staff
        .get(&c.url("/search?q=AUTH-88231"))
        .await
        .text()
        .await
        .expect("page");
    assert!(
        found.contains("C-2026-000400"),
        "search by authorization number"
    );
    let found = staff
        .get(&c.url("/search?q=NW-77120"))
        .await
        .text()
        .await
        .expect("page");
    assert!(found.contains("C-2026-000200"), "search by payer reference");
    let found = staff
        .get(&c.url("/search?q=C-2026-0001"))
        .await
        .text()
        .await
        .expect("page");
    assert!(
        found.contains("C-2026-000125") && found.contains("C-2026-000130"),
        "by prefix"
    );
    let csv = staff.get(&c.url("/analytics.csv")).await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.expect("csv");
    assert!(
        csv.starts_with("payer,week,decided,approved,denied,appeal_needed"),
        "{csv}"
    );
    assert!(csv.contains("northwind-health"));
    let mut operator = Http::new();
    operator.sign_in(&c, "olivia").await;
    let audit = operator
        .get(&c.url("/audit"))
        .await
        .text()
        .await
        .expect("page");
    for action in ["login", "view-case", "search", "export"] {
        assert!(
            audit.contains(&format!("<td>{action}</td>")),
            "{action} in {audit}"
        );
    }
    assert!(audit.contains("C-2026-000400"));
    c.stop().await;
}

#[tokio::test]
async fn the_work_lists_hold_the_newest_event_of_each_case_only() {
    let c = Console::start().await;
    let mut http = Http::new();
    http.sign_in(&c, "sam").await;
    let to_fix = http
        .get(&c.url("/work/to-fix"))
        .await
        .text()
        .await
        .expect("page");
    assert!(to_fix.contains("C-2026-000125"));
    assert!(to_fix.contains("COD-02") && to_fix.contains("service.procedures[0].code"));
    assert!(
        !to_fix.contains("C-2026-000130"),
        "sent again and approved: not to fix"
    );
    let appeal = http
        .get(&c.url("/work/to-appeal"))
        .await
        .text()
        .await
        .expect("page");
    assert!(appeal.contains("10 days left") && appeal.contains("Photographs of the lesions"));
    let waiting = http
        .get(&c.url("/work/waiting"))
        .await
        .text()
        .await
        .expect("page");
    assert!(waiting.contains("C-2026-000300") && waiting.contains("C-2026-000301"));
    assert!(
        waiting.contains("overdue by"),
        "the standard request's 7 days ran out"
    );
    let first = waiting.find("C-2026-000301").expect("301");
    assert!(
        first < waiting.find("C-2026-000300").expect("300"),
        "the nearest clock first"
    );
    let failed = http
        .get(&c.url("/work/failed"))
        .await
        .text()
        .await
        .expect("page");
    assert!(failed.contains("payer-unavailable"));
    assert_eq!(http.get(&c.url("/work/nothing")).await.status(), 404);
    c.stop().await;
}
