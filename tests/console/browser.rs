//! The console in headless Chromium (chromedriver, WebDriver): signing in, the work lists, a
//! case timeline, replaying a parked message, what staff may not do. A screenshot of each page
//! goes to target/console-screenshots/.

use fantoccini::{Client, Locator};

use crate::support::{screenshot, Console, Driver, Http, PASSWORD};

async fn sign_in(browser: &Client, c: &Console, name: &str, start: &str) {
    browser.goto(&c.url(start)).await.expect("goto");
    let url = browser.current_url().await.expect("url");
    assert_eq!(
        url.path(),
        "/login",
        "a signed-out visit goes to the login page"
    );
    browser
        .find(Locator::Id("name"))
        .await
        .expect("name field")
        .send_keys(name)
        .await
        .expect("type");
    browser
        .find(Locator::Id("password"))
        .await
        .expect("password field")
        .send_keys(PASSWORD)
        .await
        .expect("type");
    browser
        .find(Locator::Css("#login button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    // The click returns before the browser has followed the redirect: wait for it to leave the
    // login page (a loaded machine can take a while), then read the page.
    left(browser, "/login").await;
}

/// The browser's path once it has got to `path` (a click's navigation is asynchronous), or
/// where it is after 15 seconds.
async fn arrive(browser: &Client, path: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let now = browser.current_url().await.expect("url").path().to_owned();
        if now == path || std::time::Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits (up to 15 seconds) until the browser is no longer on `path`.
async fn left(browser: &Client, path: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while browser.current_url().await.expect("url").path() == path
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn texts(browser: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in browser.find_all(Locator::Css(css)).await.expect("find") {
        out.push(e.text().await.expect("text"));
    }
    out
}

#[tokio::test]
async fn staff_sign_in_see_what_to_fix_and_read_a_case_timeline_in_order() {
    let c = Console::start().await;
    let driver = Driver::start().await;
    let browser = driver.browser().await;
    browser.goto(&c.url("/work/to-fix")).await.expect("goto");
    screenshot(&browser, "01-login").await;
    sign_in(&browser, &c, "sam", "/work/to-fix").await;
    let url = browser.current_url().await.expect("url");
    assert_eq!(url.path(), "/work/to-fix", "back where the visit was going");
    let rows = texts(&browser, "#work-to-fix tbody tr").await;
    let row = rows
        .iter()
        .find(|r| r.contains("C-2026-000125"))
        .expect("the rejected case is to fix");
    for part in [
        "COD-02",
        "service.procedures[0].code",
        "not billable",
        "DOC-04",
    ] {
        assert!(row.contains(part), "{part} in {row}");
    }
    assert!(!rows.iter().any(|r| r.contains("C-2026-000130")));
    screenshot(&browser, "02-to-fix").await;
    for (slug, shot) in [
        ("to-appeal", "03-to-appeal"),
        ("waiting", "04-waiting"),
        ("failed", "05-failed"),
    ] {
        browser
            .goto(&c.url(&format!("/work/{slug}")))
            .await
            .expect("goto");
        screenshot(&browser, shot).await;
    }
    browser
        .goto(&c.url("/cases/C-2026-000400"))
        .await
        .expect("goto");
    let steps = texts(&browser, "#event-1 ol.timeline li").await;
    let names: Vec<&str> = steps
        .iter()
        .map(|s| s.split_whitespace().nth(3).unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        ["received", "submitted", "retry-scheduled", "approved"],
        "{steps:?}"
    );
    let facts = browser
        .find(Locator::Css("#event-1 dl.facts"))
        .await
        .expect("facts")
        .text()
        .await
        .expect("text");
    for part in ["AUTH-88231", "ACME-REF-400", "$40 copay", "Approved units"] {
        assert!(facts.contains(part), "{part} in {facts}");
    }
    screenshot(&browser, "06-case").await;
    browser
        .goto(&c.url("/search?q=C-2026-0001"))
        .await
        .expect("goto");
    screenshot(&browser, "07-search").await;
    browser.goto(&c.url("/analytics")).await.expect("goto");
    let charts = browser
        .find_all(Locator::Css("figure img"))
        .await
        .expect("charts");
    assert_eq!(charts.len(), 3);
    screenshot(&browser, "08-analytics").await;
    browser.close().await.expect("close");
    c.stop().await;
}

#[tokio::test]
async fn an_operator_replays_a_parked_message_from_the_page() {
    let c = Console::start().await;
    let fp = c.park("C-2026-000600", "E-600-1").await;
    let driver = Driver::start().await;
    let browser = driver.browser().await;
    sign_in(&browser, &c, "olivia", "/parked").await;
    assert_eq!(browser.current_url().await.expect("url").path(), "/parked");
    let row = texts(&browser, "#parked tbody tr").await.join("\n");
    assert!(row.contains(&fp) && row.contains("delivery-limit") && row.contains("C-2026-000600"));
    screenshot(&browser, "09-parked-operator").await;
    browser
        .goto(&c.url(&format!("/parked/{fp}")))
        .await
        .expect("goto");
    let body = browser
        .find(Locator::Id("body"))
        .await
        .expect("body")
        .text()
        .await
        .expect("text");
    assert!(body.contains("E-600-1"));
    screenshot(&browser, "10-parked-body").await;
    browser.goto(&c.url("/parked")).await.expect("goto");
    browser
        .find(Locator::Css("a.replay"))
        .await
        .expect("a Replay link")
        .click()
        .await
        .expect("click");
    assert_eq!(
        arrive(&browser, &format!("/parked/{fp}/replay")).await,
        format!("/parked/{fp}/replay"),
        "a confirmation page first"
    );
    assert_eq!(
        c.depth(&c.parking_queue).await,
        1,
        "nothing moved before confirming"
    );
    screenshot(&browser, "11-confirm-replay").await;
    browser
        .find(Locator::Css("#confirm button"))
        .await
        .expect("confirm button")
        .click()
        .await
        .expect("click");
    assert_eq!(arrive(&browser, "/parked").await, "/parked");
    assert!(
        browser.find(Locator::Id("parked-empty")).await.is_ok(),
        "the queue is empty"
    );
    assert_eq!(c.depth(&c.parking_queue).await, 0);
    assert_eq!(
        c.depth(&c.work_queue).await,
        1,
        "the message is back in the work queue"
    );
    browser.goto(&c.url("/audit")).await.expect("goto");
    let audit = texts(&browser, "#audit tbody tr").await.join("\n");
    assert!(audit.contains("replay") && audit.contains(&fp), "{audit}");
    screenshot(&browser, "12-audit").await;
    browser.close().await.expect("close");
    c.stop().await;
}

#[tokio::test]
async fn a_staff_user_cannot_replay_from_the_page_nor_by_a_forged_post() {
    let c = Console::start().await;
    let fp = c.park("C-2026-000601", "E-601-1").await;
    let driver = Driver::start().await;
    let browser = driver.browser().await;
    sign_in(&browser, &c, "sam", "/parked").await;
    let page = browser.source().await.expect("source");
    assert!(page.contains(&fp), "staff see the message");
    assert!(browser
        .find_all(Locator::Css("a.replay"))
        .await
        .expect("find")
        .is_empty());
    assert!(!page.contains("E-601-1\"}"), "no body for staff");
    screenshot(&browser, "13-parked-staff").await;
    // The browser's own session, its own CSRF token: the POST a page without the button would
    // have made.
    let cookie = browser
        .get_named_cookie("preauth_session")
        .await
        .expect("session cookie");
    let csrf = browser
        .find(Locator::Css("header input[name=csrf]"))
        .await
        .expect("csrf field")
        .attr("value")
        .await
        .expect("attr")
        .expect("value");
    let mut http = Http::new();
    http.cookies
        .push(("preauth_session".into(), cookie.value().to_owned()));
    let r = http
        .post(&c.url(&format!("/parked/{fp}/replay")), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), 403);
    browser
        .goto(&c.url(&format!("/parked/{fp}/replay")))
        .await
        .expect("goto");
    let text = browser
        .find(Locator::Css("h1"))
        .await
        .expect("h1")
        .text()
        .await
        .expect("text");
    assert_eq!(text, "Forbidden");
    assert_eq!(c.depth(&c.parking_queue).await, 1);
    assert_eq!(c.depth(&c.work_queue).await, 0);
    browser.close().await.expect("close");
    c.stop().await;
}
