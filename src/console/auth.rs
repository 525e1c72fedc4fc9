//! Signing in and out, sessions, CSRF and roles.
//!
//! - Passwords: argon2 PHC strings in `ledger_users.password_hash`. An unknown or disabled user
//!   is checked against a hash all the same, so the answer takes as long either way.
//! - Sessions: the cookie `preauth_session` holds 32 random bytes (base64url); the database holds
//!   only their SHA-256, with the user, the session's CSRF token and `expires_at`
//!   (`console.session_ttl`). HttpOnly, SameSite=Strict, Path=/, Secure unless
//!   `console.secure_cookies = false`.
//! - CSRF: every form carries the session's token in a hidden field `csrf`; every POST is checked
//!   in constant time and refused with 403 without it. The sign-in form, before any session, is a
//!   double-submit: a random `preauth_login` cookie and the same value in the form.
//! - Roles: `staff` views and exports; `operator` also replays and deletes parked messages, reads
//!   parked bodies and the audit log.

use std::num::NonZeroU32;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;

use super::audit::{self, Action};
use super::views::{LoginView, Nav};
use super::web::{self, Fail};
use super::ConsoleState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "preauth_session";
/// The sign-in form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "preauth_login";

/// What a signed-in user may do: the account's role (`ledger user add --role`).
pub use crate::ledger::users::Role;

/// The signed-in user of a request. Extracting it from a request without a live session
/// answers 303 to `/login?next=<the path asked for>`.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    pub csrf: String,
}

impl Session {
    pub fn is_operator(&self) -> bool {
        self.role == Role::Operator
    }

    /// The navigation bar of this user's pages.
    pub(crate) fn nav(&self) -> Nav {
        Nav {
            user: self.user.clone(),
            role: self.role.as_str(),
            operator: self.is_operator(),
            csrf: self.csrf.clone(),
        }
    }

    /// Operators only: 403 for staff.
    pub(crate) fn require_operator(&self) -> Result<(), Fail> {
        if self.is_operator() {
            Ok(())
        } else {
            Err(Fail::Forbidden)
        }
    }

    /// The form's `csrf` field is this session's token (constant time); 403 otherwise.
    pub(crate) fn check_csrf(&self, given: Option<&str>) -> Result<(), Fail> {
        match given {
            Some(g) if crate::security::same_secret(g.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(Fail::Forbidden),
        }
    }
}

impl FromRequestParts<ConsoleState> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ConsoleState,
    ) -> Result<Self, Self::Rejection> {
        let token = web::cookie(&parts.headers, SESSION_COOKIE);
        if let Some(token) = token {
            match lookup(state, &token).await {
                Ok(Some(session)) => return Ok(session),
                Ok(None) => {}
                Err(e) => return Err(e.into_response()),
            }
        }
        let asked = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        Err(web::see_other(&format!(
            "/login?next={}",
            web::encode(&web::local_path(Some(asked)))
        )))
    }
}

/// SHA-256 of a session token, as stored.
fn token_hash(token: &str) -> Vec<u8> {
    crate::security::digest(token.as_bytes())
}

/// `n` random bytes from the system generator, base64url without padding.
fn random_token() -> Result<String, Fail> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Fail::BadRequest("no randomness"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

async fn lookup(state: &ConsoleState, token: &str) -> Result<Option<Session>, Fail> {
    // A cookie that is not one of ours is not looked up at all.
    if token.len() != 43 {
        return Ok(None);
    }
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT s.user_name, u.role, s.csrf_token FROM ledger_sessions s \
         JOIN ledger_users u ON u.name = s.user_name \
         WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT u.disabled",
    )
    .bind(token_hash(token))
    .fetch_optional(&state.pool)
    .await?;
    Ok(row
        .and_then(|(user, role, csrf)| Role::parse(&role).map(|role| Session { user, role, csrf })))
}

/// Sign-in attempts per user name: 5 at once, then one every 12 seconds.
pub struct LoginLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl LoginLimiter {
    pub(crate) fn new() -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: RateLimiter::keyed(quota),
        }
    }

    /// True when `name` may try again now.
    fn allow(&self, name: &str) -> bool {
        // Names nobody tried for a while are forgotten: the map stays small whatever is sent.
        if self.limiter.len() > 10_000 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&name.to_owned()).is_ok()
    }
}

/// The user `name` with its role when `password` is theirs and the account is enabled. Takes as
/// long for an unknown user as for a wrong password.
async fn check_password(
    state: &ConsoleState,
    name: &str,
    password: &str,
) -> Result<Option<Role>, Fail> {
    // One check for every way in: the account's argon2 hash, enabled, the same work for an
    // unknown name (`ledger::users::verify`).
    crate::ledger::users::verify(&state.pool, name, password)
        .await
        .map(|user| user.map(|u| u.role))
        .map_err(|e| Fail::Accounts(e.to_string()))
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    name: Option<String>,
    password: Option<String>,
    next: Option<String>,
    csrf: Option<String>,
}

fn login_cookie(state: &ConsoleState, value: &str) -> String {
    format!(
        "{LOGIN_COOKIE}={value}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        secure(state)
    )
}

fn secure(state: &ConsoleState) -> &'static str {
    if state.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    }
}

fn login_view(
    state: &ConsoleState,
    next: &str,
    error: Option<&'static str>,
    status: StatusCode,
) -> Result<Response, Fail> {
    let token = random_token()?;
    let mut response = web::page(&LoginView {
        next: next.to_owned(),
        csrf: token.clone(),
        error,
    })?;
    *response.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&login_cookie(state, &token)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

pub(crate) async fn login_page(
    State(state): State<ConsoleState>,
    Query(q): Query<LoginQuery>,
) -> Result<Response, Fail> {
    login_view(
        &state,
        &web::local_path(q.next.as_deref()),
        None,
        StatusCode::OK,
    )
}

pub(crate) async fn login(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, Fail> {
    let expected = web::cookie(&headers, LOGIN_COOKIE);
    let fresh = matches!((&expected, &form.csrf), (Some(e), Some(g))
        if crate::security::same_secret(e.as_bytes(), g.as_bytes()));
    if !fresh {
        return Err(Fail::Forbidden);
    }
    let next = web::local_path(form.next.as_deref());
    let name = form.name.unwrap_or_default();
    let password = form.password.unwrap_or_default();
    if name.is_empty() || name.len() > 64 || password.len() > 1024 {
        return login_view(
            &state,
            &next,
            Some("Wrong name or password."),
            StatusCode::UNAUTHORIZED,
        );
    }
    if !state.logins.allow(&name) {
        audit::record(
            &state.pool,
            &name,
            Action::LoginFailed,
            None,
            Some("rate-limited"),
        )
        .await?;
        return login_view(
            &state,
            &next,
            Some("Too many attempts for this name; wait a minute."),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let Some(_role) = check_password(&state, &name, &password).await? else {
        audit::record(&state.pool, &name, Action::LoginFailed, None, None).await?;
        return login_view(
            &state,
            &next,
            Some("Wrong name or password."),
            StatusCode::UNAUTHORIZED,
        );
    };
    let token = random_token()?;
    let csrf = random_token()?;
    let ttl = state.settings.session_ttl;
    sqlx::query(
        "INSERT INTO ledger_sessions (token_hash, user_name, csrf_token, expires_at) \
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(token_hash(&token))
    .bind(&name)
    .bind(&csrf)
    .bind(ttl.as_secs_f64())
    .execute(&state.pool)
    .await?;
    // Expired sessions go as new ones come.
    sqlx::query("DELETE FROM ledger_sessions WHERE expires_at < now()")
        .execute(&state.pool)
        .await?;
    audit::record(&state.pool, &name, Action::Login, None, None).await?;
    let mut response = web::see_other(&next);
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        ttl.as_secs(),
        secure(&state)
    );
    let cleared = format!(
        "{LOGIN_COOKIE}=; Path=/login; HttpOnly; SameSite=Strict; Max-Age=0{}",
        secure(&state)
    );
    for c in [cookie, cleared] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    pub(crate) csrf: Option<String>,
}

pub(crate) async fn logout(
    State(state): State<ConsoleState>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Fail> {
    session.check_csrf(form.csrf.as_deref())?;
    if let Some(token) = web::cookie(&headers, SESSION_COOKIE) {
        sqlx::query("DELETE FROM ledger_sessions WHERE token_hash = $1")
            .bind(token_hash(&token))
            .execute(&state.pool)
            .await?;
    }
    audit::record(&state.pool, &session.user, Action::Logout, None, None).await?;
    let mut response = web::see_other("/login");
    let cleared = format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        secure(&state)
    );
    if let Ok(v) = HeaderValue::from_str(&cleared) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_token_is_32_random_bytes_in_base64url() {
        let a = random_token().expect("token");
        let b = random_token().expect("token");
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn a_wrong_or_missing_csrf_token_is_forbidden() {
        let s = Session {
            user: "u".into(),
            role: Role::Staff,
            csrf: "abc".into(),
        };
        assert!(s.check_csrf(Some("abc")).is_ok());
        assert!(s.check_csrf(Some("abd")).is_err());
        assert!(s.check_csrf(None).is_err());
        assert!(s.require_operator().is_err());
    }

    #[test]
    fn sign_in_attempts_are_limited_per_name() {
        let l = LoginLimiter::new();
        let allowed = (0..10).filter(|_| l.allow("someone")).count();
        assert_eq!(allowed, 5);
        assert!(l.allow("someone-else"));
    }
}
