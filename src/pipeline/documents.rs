//! The photos and the letter, fetched before a submission, an update or an appeal is sent: a store that
//! does not answer is tried again in process (the payer's in-process waits), then the case goes
//! to the delay tiers like a payer outage; a document that cannot be sent rejects the case.

use std::sync::Arc;

use tracing::debug;

use super::Pipeline;
use crate::case::CaseEvent;
use crate::payer::attachments::{Attachments, Documents, Problem};
use crate::payer::Operation;
use crate::retry::CaseState;

impl Pipeline {
    /// The documents to send with `operation`: none for a follow-up (it repeats no documents),
    /// for a cancellation (nothing is to be justified) or when fetching is switched off; `Err`
    /// as [`Attachments::resolve`] says.
    pub(super) async fn documents(
        &self,
        case: &CaseEvent,
        operation: Operation,
        state: &CaseState,
    ) -> Result<Option<Documents>, Problem> {
        let Some(attachments) = self.attachments.as_ref().map(Arc::as_ref) else {
            return Ok(None);
        };
        if matches!(operation, Operation::Inquire { .. } | Operation::Cancel) {
            return Ok(None);
        }
        fetch(attachments, self, case, state).await.map(Some)
    }
}

async fn fetch(
    attachments: &Attachments,
    pipeline: &Pipeline,
    case: &CaseEvent,
    state: &CaseState,
) -> Result<Documents, Problem> {
    let mut waits = pipeline.in_process.waits();
    loop {
        match attachments.resolve(case, state.documents.as_deref()).await {
            Err(Problem::Unavailable(detail)) => {
                let Some(wait) = waits.next() else {
                    return Err(Problem::Unavailable(detail));
                };
                debug!(case_id = %case.case_id, event_id = %case.event_id, wait_ms = wait.as_millis() as u64, %detail, "Document store unavailable; retrying in process.");
                pipeline.sleeper.sleep(wait).await;
            }
            other => return other,
        }
    }
}
