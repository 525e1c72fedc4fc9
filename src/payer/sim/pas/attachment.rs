//! The integrity of a document sent inline. A DocumentReference attachment that carries `data`
//! (standard base64) must also carry `size` (the decoded byte count, a JSON number) and `hash`
//! (standard base64 of the SHA-1 of the decoded bytes, as FHIR R4 `Attachment.hash` defines):
//! the payer simulator refuses a request whose inline documents do not check out. An
//! attachment that carries only a `url` (a document the worker could not fetch) has nothing to
//! check. What is wrong is named; the document's content never is.

use aws_lc_rs::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

use crate::payer::pas::json::array_of;

/// What is wrong with an attachment that carries data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flaw {
    /// `data` is not a string of standard base64.
    NotBase64,
    /// `data` without `size`.
    NoSize,
    /// `data` without `hash`.
    NoHash,
    /// `size` is not a whole number.
    SizeNotANumber,
    /// `size` is not the decoded length of the data.
    WrongSize { declared: u64, actual: u64 },
    /// `hash` is not base64 of the SHA-1 of the decoded data.
    WrongHash,
}

impl std::fmt::Display for Flaw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Flaw::NotBase64 => f.write_str("data is not standard base64"),
            Flaw::NoSize => f.write_str("data without a size"),
            Flaw::NoHash => f.write_str("data without a hash"),
            Flaw::SizeNotANumber => f.write_str("size is not a whole number"),
            Flaw::WrongSize { declared, actual } => {
                write!(f, "size is {declared} but the data holds {actual} bytes")
            }
            Flaw::WrongHash => f.write_str("hash is not the SHA-1 of the data"),
        }
    }
}

/// Checks one attachment: `Ok(true)` when it carries data that checks out, `Ok(false)` when it
/// carries no data (a `url` only, say).
pub(crate) fn verify(attachment: &Value) -> Result<bool, Flaw> {
    let Some(data) = attachment.get("data") else {
        return Ok(false);
    };
    let size = attachment.get("size").ok_or(Flaw::NoSize)?;
    let hash = attachment.get("hash").ok_or(Flaw::NoHash)?;
    let bytes = data
        .as_str()
        .and_then(|d| STANDARD.decode(d).ok())
        .ok_or(Flaw::NotBase64)?;
    let declared = size.as_u64().ok_or(Flaw::SizeNotANumber)?;
    let actual = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if declared != actual {
        return Err(Flaw::WrongSize { declared, actual });
    }
    let sha1 = STANDARD.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, &bytes));
    if hash.as_str() != Some(sha1.as_str()) {
        return Err(Flaw::WrongHash);
    }
    Ok(true)
}

/// Checks every attachment of a DocumentReference: `Ok(true)` when at least one carries data
/// that checks out, else the first flaw with the attachment's number (1 for the first).
pub(crate) fn verify_document(document: &Value) -> Result<bool, String> {
    let mut with_data = false;
    for (k, content) in array_of(document, "content").iter().enumerate() {
        let Some(attachment) = content.get("attachment") else {
            continue;
        };
        match verify(attachment) {
            Ok(data) => with_data |= data,
            Err(flaw) => return Err(format!("attachment {}: {flaw}", k + 1)),
        }
    }
    Ok(with_data)
}

#[cfg(test)]
mod tests;
