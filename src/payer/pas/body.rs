//! Reading a payer's HTTP answer within a size limit (`payers.<id>.max_response_bytes`), for
//! the PAS operations and the token endpoint alike.

use crate::payer::PayerError;

/// Reads a response body of at most `limit` bytes, chunk by chunk: a larger one (announced or
/// not) is dropped unread past the limit and reported as a transient failure.
pub(super) async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, PayerError> {
    let too_large = || PayerError::Transient {
        retry_after: None,
        detail: format!("payer answer larger than {limit} bytes (payers.<id>.max_response_bytes)"),
    };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(PayerError::Transient {
                    retry_after: None,
                    detail: format!("payer answer cut off: {}", e.without_url()),
                })
            }
        }
    }
}
