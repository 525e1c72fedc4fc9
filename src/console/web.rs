//! The web plumbing of the console: security headers on every answer, the stylesheet, error
//! pages, rendering a template, reading a cookie.

use askama::Template;
use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use super::views::ErrorView;

/// The one stylesheet, compiled in.
const STYLESHEET: &str = include_str!("../../templates/console.css");

/// Content-Security-Policy of every answer: nothing but this origin's stylesheet and inline
/// (data:) images, forms only to this origin, never framed.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'";

pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

pub(crate) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

pub(crate) async fn not_found() -> Response {
    Fail::NotFound.into_response()
}

/// Why a request was not answered with its page. The page says so in general words; the cause
/// of a database or broker failure goes to the log (ids and codes only: neither carries input).
#[derive(Debug)]
pub(crate) enum Fail {
    NotFound,
    Forbidden,
    BadRequest(&'static str),
    Database(sqlx::Error),
    Broker(String),
    /// The ledger's account check failed (the database, or its password-hashing task).
    Accounts(String),
    Render(askama::Error),
}

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Self {
        Fail::Database(e)
    }
}

impl From<askama::Error> for Fail {
    fn from(e: askama::Error) -> Self {
        Fail::Render(e)
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            Fail::NotFound => (StatusCode::NOT_FOUND, "Not found", "There is no such page."),
            Fail::Forbidden => (
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Your role may not do this, or the form was not this session's.",
            ),
            Fail::BadRequest(what) => (StatusCode::BAD_REQUEST, "Bad request", *what),
            Fail::Database(e) => {
                tracing::warn!(error = %e, "console: the ledger database failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Ledger unavailable",
                    "The ledger database did not answer; try again shortly.",
                )
            }
            Fail::Broker(e) => {
                tracing::warn!(error = %e, "console: the broker failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Broker unavailable",
                    "The parking queue could not be read; try again shortly.",
                )
            }
            Fail::Accounts(e) => {
                tracing::warn!(error = %e, "console: the account check failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Ledger unavailable",
                    "Signing in could not be checked; try again shortly.",
                )
            }
            Fail::Render(e) => {
                tracing::warn!(error = %e, "console: a page could not be rendered");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Error",
                    "The page could not be rendered.",
                )
            }
        };
        let body = ErrorView { title, message }
            .render()
            .unwrap_or_else(|_| message.to_owned());
        (status, Html(body)).into_response()
    }
}

/// A rendered page.
pub(crate) fn page(t: &impl Template) -> Result<Response, Fail> {
    Ok(Html(t.render()?).into_response())
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A 303 to `location` (a local path the console built).
pub(crate) fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// `next` when it is a path of this site (`/cases/C-1?x=y`), else `/`: never another origin
/// (`//evil`, `/\evil`, `https://…`), never a control character.
pub(crate) fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 512
                && n.chars().all(|c| c.is_ascii_graphic()) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_local_path_is_followed_after_signing_in() {
        assert_eq!(local_path(Some("/cases/C-1?x=1")), "/cases/C-1?x=1");
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "evil",
            "/a b",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn a_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; preauth_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, "preauth_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn a_query_value_is_percent_encoded() {
        assert_eq!(encode("/cases/C 1&x"), "%2Fcases%2FC%201%26x");
    }
}
