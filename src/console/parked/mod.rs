//! Parked messages: the list (reason, detail, the worker's own headers, ids, fingerprint) for
//! everyone signed in; a message's body and every header for operators; replay and delete for
//! operators, each through a confirmation page and a POST carrying the session's CSRF token.
//!
//! A message is named by its fingerprint (`amqp::parked::fingerprint`, as `parked list` shows it).
//! Two parked copies of the same body share it, and an action on it acts on both (a replayed
//! case twice is harmless: the outcome ids make it so).

mod broker;
pub(crate) mod queue;

pub use broker::BrokerParkedQueue;
pub use queue::{ParkedError, ParkedListing, ParkedMessage, ParkedQueue};

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Form;

use super::audit::{self, Action};
use super::auth::{CsrfForm, Session};
use super::views::{ConfirmView, ParkedBodyView, ParkedListView};
use super::web::{self, Fail};
use super::ConsoleState;

/// Messages shown on the list page at most.
const LIST_LIMIT: usize = 500;

fn valid_fingerprint(fp: &str) -> Result<(), Fail> {
    if fp.len() == 16
        && fp
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        Ok(())
    } else {
        Err(Fail::NotFound)
    }
}

impl From<ParkedError> for Fail {
    fn from(e: ParkedError) -> Self {
        Fail::Broker(e.0)
    }
}

pub(crate) async fn list_page(
    State(state): State<ConsoleState>,
    session: Session,
) -> Result<Response, Fail> {
    let listing = state.parked.list(LIST_LIMIT).await?;
    audit::record(
        &state.pool,
        &session.user,
        Action::ViewParked,
        None,
        Some(&listing.items.len().to_string()),
    )
    .await?;
    web::page(&ParkedListView {
        nav: session.nav(),
        operator: session.is_operator(),
        limit: LIST_LIMIT,
        items: listing.items,
    })
}

pub(crate) async fn body_page(
    State(state): State<ConsoleState>,
    session: Session,
    Path(fp): Path<String>,
) -> Result<Response, Fail> {
    session.require_operator()?;
    valid_fingerprint(&fp)?;
    let message = state.parked.peek(&fp).await?.ok_or(Fail::NotFound)?;
    audit::record(
        &state.pool,
        &session.user,
        Action::ViewParkedBody,
        Some(&fp),
        message.case_id.as_deref(),
    )
    .await?;
    let body = match serde_json::from_str::<serde_json::Value>(&message.body) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(_) => message.body.clone(),
    };
    web::page(&ParkedBodyView {
        nav: session.nav(),
        body,
        message,
    })
}

async fn confirm(
    state: &ConsoleState,
    session: &Session,
    fp: &str,
    action: &'static str,
) -> Result<Response, Fail> {
    session.require_operator()?;
    valid_fingerprint(fp)?;
    let message = state.parked.peek(fp).await?.ok_or(Fail::NotFound)?;
    web::page(&ConfirmView {
        nav: session.nav(),
        action,
        message,
    })
}

pub(crate) async fn confirm_replay(
    State(state): State<ConsoleState>,
    session: Session,
    Path(fp): Path<String>,
) -> Result<Response, Fail> {
    confirm(&state, &session, &fp, "replay").await
}

pub(crate) async fn confirm_delete(
    State(state): State<ConsoleState>,
    session: Session,
    Path(fp): Path<String>,
) -> Result<Response, Fail> {
    confirm(&state, &session, &fp, "delete").await
}

pub(crate) async fn replay(
    State(state): State<ConsoleState>,
    session: Session,
    Path(fp): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Fail> {
    act(&state, &session, &fp, &form, Action::Replay).await
}

pub(crate) async fn delete(
    State(state): State<ConsoleState>,
    session: Session,
    Path(fp): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Fail> {
    act(&state, &session, &fp, &form, Action::Delete).await
}

/// A confirmed replay or delete: this session's form, an operator, a fingerprint; done, audited
/// with how many messages it took, then back to the list.
async fn act(
    state: &ConsoleState,
    session: &Session,
    fp: &str,
    form: &CsrfForm,
    action: Action,
) -> Result<Response, Fail> {
    session.check_csrf(form.csrf.as_deref())?;
    session.require_operator()?;
    valid_fingerprint(fp)?;
    // Carried out in a task of its own, audit row included: a request that times out or a
    // browser that goes away cannot leave a replay or a deletion done but unrecorded.
    let (state, user, fp) = (state.clone(), session.user.clone(), fp.to_owned());
    let task = tokio::spawn(async move {
        let (n, done) = if action == Action::Replay {
            (state.parked.replay(&fp).await?, "replayed")
        } else {
            (state.parked.delete(&fp).await?, "deleted")
        };
        audit::record(&state.pool, &user, action, Some(&fp), Some(&n.to_string())).await?;
        Ok::<_, Fail>(format!("/parked?done={done}-{n}"))
    });
    let to = task
        .await
        .map_err(|_| Fail::Broker("the parked-message action ended abnormally".into()))??;
    Ok(web::see_other(&to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_the_parking_queues_16_hex_digits_and_nothing_else_passes() {
        let fp = |body: &[u8]| crate::amqp::parked::fingerprint(body, None, Some("not-json"));
        let a = fp(b"{\"case_id\":\"C-1\"}");
        assert_eq!(a.len(), 16);
        assert!(valid_fingerprint(&a).is_ok());
        assert_ne!(a, fp(b"{\"case_id\":\"C-2\"}"));
        assert!(valid_fingerprint("../../etc").is_err());
        assert!(valid_fingerprint(&a.to_uppercase()).is_err());
    }
}
