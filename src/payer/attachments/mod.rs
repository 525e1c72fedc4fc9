//! The documents a request carries inline: each photo and the letter of medical necessity,
//! fetched from the clinic's document store (`attachments.sources`), checked (size, type sniffed
//! from the bytes) and hashed (SHA-1, base64, as FHIR's `Attachment.hash`) before submission.
//!
//! Memory is bounded by bytes, not by count: a request learns its documents' sizes first, then
//! waits for that much room in the worker-wide budget (`max_bytes_in_flight`), and holds it until
//! its payer calls are over. A resend of the same request compares the hashes against the ones
//! recorded at its first try, so a document that changed in the store is reported, never sent
//! under the same request identifier.

pub mod settings;
pub(crate) mod stores;

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::case::registry::{ATT_01, ATT_02, ATT_03, ATT_04, ATT_05, ATT_06};
use crate::case::{CaseEvent, Finding};
pub use settings::{AttachmentSettings, FolderMount, SourceSettings, StoreSettings};
pub use stores::StoreSettingError;
use stores::{Store, StoreError};

/// The content types a PAS payer accepts for photos and letters.
pub const ACCEPTED_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/tiff", "application/pdf"];

/// What a request holds of the bytes in flight: base64 in the bundle (4/3) beside the raw
/// bytes, so 7/3 of the raw size.
fn reservation_kib(raw: u64) -> u64 {
    raw.saturating_mul(7).div_ceil(3).div_ceil(1024).max(1)
}

/// How fetching a request's documents ended (`preauth_documents_total`'s `result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentsResult {
    Sent,
    Rejected,
    Unavailable,
}

impl DocumentsResult {
    pub const ALL: [DocumentsResult; 3] = [
        DocumentsResult::Sent,
        DocumentsResult::Rejected,
        DocumentsResult::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentsResult::Sent => "sent",
            DocumentsResult::Rejected => "rejected",
            DocumentsResult::Unavailable => "unavailable",
        }
    }
}

/// Room held in the byte budget; given back (and the gauge lowered) when dropped.
struct Room {
    _permit: OwnedSemaphorePermit,
    bytes: f64,
}

impl Room {
    fn new(permit: OwnedSemaphorePermit, kib: u64) -> Self {
        let bytes = (kib * 1024) as f64;
        metrics::gauge!("preauth_document_bytes_reserved").increment(bytes);
        Self {
            _permit: permit,
            bytes,
        }
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        metrics::gauge!("preauth_document_bytes_reserved").decrement(self.bytes);
    }
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Room({} bytes)", self.bytes)
    }
}

/// One fetched document.
pub struct Fetched {
    /// The type sniffed from the bytes, one of [`ACCEPTED_TYPES`].
    pub content_type: &'static str,
    pub data: Vec<u8>,
    /// base64(SHA-1(data)), FHIR's `Attachment.hash`.
    pub hash: String,
}

impl std::fmt::Debug for Fetched {
    /// Type, size and hash: never the bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched")
            .field("content_type", &self.content_type)
            .field("size", &self.data.len())
            .field("hash", &self.hash)
            .finish()
    }
}

/// The documents of one request, in the case's order, and the room they hold in the budget.
#[derive(Debug, Default)]
pub struct Documents {
    pub photos: Vec<Fetched>,
    pub letter: Option<Fetched>,
    _room: Option<Room>,
}

impl Documents {
    /// The hashes in order (photos, then the letter), comma-separated: what a resend compares.
    pub fn digest(&self) -> String {
        self.photos
            .iter()
            .chain(self.letter.iter())
            .map(|f| f.hash.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The bytes of every document together.
    pub fn total_bytes(&self) -> u64 {
        self.photos
            .iter()
            .chain(self.letter.iter())
            .map(|f| f.data.len() as u64)
            .sum()
    }
}

/// Why a request's documents could not be had.
#[derive(Debug)]
pub enum Problem {
    /// The case as it is cannot be sent: what is wrong, for each document, for staff to fix.
    Rejected(Vec<Finding>),
    /// A store did not answer: worth trying again.
    Unavailable(String),
}

/// base64(SHA-1(bytes)).
pub fn sha1_base64(bytes: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, bytes);
    STANDARD.encode(d.as_ref())
}

/// The accepted type the bytes are, by their signature.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let kind = infer::get(bytes)?;
    ACCEPTED_TYPES
        .iter()
        .copied()
        .find(|t| *t == kind.mime_type())
}

/// A declared content type in the form the payer expects: lower case, no parameters, `image/jpg`
/// read as `image/jpeg`. `None` when it is none of [`ACCEPTED_TYPES`].
fn accepted(declared: &str) -> Option<&'static str> {
    let base = declared.split(';').next().unwrap_or("").trim();
    let base = base.to_ascii_lowercase();
    let base = if base == "image/jpg" {
        "image/jpeg".to_owned()
    } else {
        base
    };
    ACCEPTED_TYPES.iter().copied().find(|t| *t == base)
}

struct Source {
    name: String,
    prefix: String,
    store: Store,
}

/// The stores and limits, built once at start.
pub struct Attachments {
    sources: Vec<Source>,
    max_attachment: u64,
    max_request: u64,
    budget: Arc<Semaphore>,
    budget_kib: u64,
}

/// One document of a case to fetch.
struct Wanted<'a> {
    /// `photo 2` (its position, 1-based) or `the letter of medical necessity`: how findings
    /// and log lines name it.
    label: String,
    path: String,
    uri: &'a str,
    declared: Option<&'a str>,
}

impl Attachments {
    pub fn build(settings: &AttachmentSettings) -> Result<Self, StoreSettingError> {
        let limit = |key: &str, message: &str| StoreSettingError {
            key: format!("attachments.{key}"),
            message: message.to_owned(),
        };
        if settings.max_attachment_bytes == 0 {
            return Err(limit("max_attachment_bytes", "must be above 0"));
        }
        if settings.max_request_bytes < settings.max_attachment_bytes {
            return Err(limit(
                "max_request_bytes",
                "must be at least max_attachment_bytes",
            ));
        }
        if settings.max_bytes_in_flight < settings.max_request_bytes {
            return Err(limit(
                "max_bytes_in_flight",
                "must be at least max_request_bytes",
            ));
        }
        let mut sources = Vec::new();
        for (name, s) in &settings.sources {
            if let Some(other) = sources.iter().find(|o: &&Source| o.prefix == s.prefix) {
                return Err(StoreSettingError {
                    key: format!("attachments.sources.{name}.prefix"),
                    message: format!(
                        "the same prefix as attachments.sources.{}: a URI must have one store",
                        other.name
                    ),
                });
            }
            if s.prefix.is_empty() {
                return Err(StoreSettingError {
                    key: format!("attachments.sources.{name}.prefix"),
                    message: "must not be empty".to_owned(),
                });
            }
            sources.push(Source {
                name: name.clone(),
                prefix: s.prefix.clone(),
                store: Store::build(name, &s.store, settings.timeout)?,
            });
        }
        // The longest prefix first: it wins over a shorter one that also matches.
        sources.sort_by_key(|s| std::cmp::Reverse(s.prefix.len()));
        // The budget is what requests hold in memory, so a request reserves its documents' bytes
        // and their base64 ([`reservation_kib`]) against it.
        let budget_kib = settings.max_bytes_in_flight.div_ceil(1024).max(1);
        Ok(Self {
            sources,
            max_attachment: settings.max_attachment_bytes,
            max_request: settings.max_request_bytes,
            budget: Arc::new(Semaphore::new(
                usize::try_from(budget_kib).unwrap_or(Semaphore::MAX_PERMITS),
            )),
            budget_kib,
        })
    }

    /// The source names and prefixes, for `config check`.
    pub fn sources(&self) -> impl Iterator<Item = (&str, &str)> {
        self.sources
            .iter()
            .map(|s| (s.name.as_str(), s.prefix.as_str()))
    }

    /// KiB of the budget free right now (metrics and tests).
    pub fn budget_free_kib(&self) -> usize {
        self.budget.available_permits()
    }

    fn wanted(case: &CaseEvent) -> Vec<Wanted<'_>> {
        let doc = &case.documentation;
        let mut wanted: Vec<Wanted<'_>> = doc
            .photos
            .iter()
            .enumerate()
            .map(|(i, p)| Wanted {
                // By position, never by its id: findings repeat no value of the case (the path
                // says which photo).
                label: format!("photo {}", i + 1),
                path: format!("documentation.photos[{i}].uri"),
                uri: &p.uri,
                declared: Some(&p.content_type),
            })
            .collect();
        if let Some(letter) = &doc.letter_of_medical_necessity {
            wanted.push(Wanted {
                label: "the letter of medical necessity".to_owned(),
                path: "documentation.letter_of_medical_necessity.uri".to_owned(),
                uri: &letter.uri,
                declared: None,
            });
        }
        wanted
    }

    /// The same stores and limits, with every folder (shares too) read in place through a held
    /// root: for `process`, whose cases wait for their documents anyway.
    pub fn reading_folders_in_place(mut self) -> Self {
        for source in &mut self.sources {
            if let Store::Folder { reads, .. } = &mut source.store {
                *reads = stores::FolderReads::InPlace(stores::HeldRoot::default());
            }
        }
        self
    }

    fn source<'u>(&self, uri: &'u str) -> Option<(&Source, &'u str)> {
        self.sources
            .iter()
            .find_map(|s| uri.strip_prefix(&s.prefix).map(|key| (s, key)))
    }

    /// Fetches and checks every photo and the letter of `case`. `carried` is the digest recorded
    /// when this request was first sent ([`Documents::digest`]), for a resend.
    pub async fn resolve(
        &self,
        case: &CaseEvent,
        carried: Option<&str>,
    ) -> Result<Documents, Problem> {
        let wanted = Self::wanted(case);
        if wanted.is_empty() {
            return Ok(Documents::default());
        }
        let result = self.fetch_all(case, wanted, carried).await;
        let label = match &result {
            Ok(docs) => {
                metrics::counter!("preauth_document_bytes_total").increment(docs.total_bytes());
                DocumentsResult::Sent
            }
            Err(Problem::Rejected(_)) => DocumentsResult::Rejected,
            Err(Problem::Unavailable(_)) => DocumentsResult::Unavailable,
        };
        metrics::counter!("preauth_documents_total", "result" => label.as_str()).increment(1);
        result
    }

    async fn fetch_all(
        &self,
        case: &CaseEvent,
        wanted: Vec<Wanted<'_>>,
        carried: Option<&str>,
    ) -> Result<Documents, Problem> {
        // 1. Which store, and how large: every problem of every document is reported at once.
        let mut findings = Vec::new();
        let mut unavailable = None;
        let mut planned = Vec::new();
        let asks: Vec<_> = wanted
            .iter()
            .map(|w| self.source(w.uri).map(|(source, key)| (&source.store, key)))
            .collect();
        let mut sizes = stores::folder_sizes(&asks).await;
        for (i, w) in wanted.iter().enumerate() {
            let Some((source, key)) = self.source(w.uri) else {
                findings.push(ATT_01.finding(
                    &w.path,
                    format!("no document store is configured for the URI of {}", w.label),
                ));
                continue;
            };
            let size = match sizes.get_mut(i).and_then(Option::take) {
                Some(size) => size,
                None => source.store.size(key).await,
            };
            match size {
                Ok(Some(size)) if size > self.max_attachment => findings.push(ATT_04.finding(
                    &w.path,
                    format!(
                        "{} is {size} bytes; the limit is {} bytes (attachments.max_attachment_bytes)",
                        w.label, self.max_attachment
                    ),
                )),
                Ok(size) => planned.push((w, source, key, size)),
                Err(e) => match self.store_problem(w, source, e, &mut findings) {
                    Some(detail) => unavailable = unavailable.or(Some(detail)),
                    None => continue,
                },
            }
        }
        if !findings.is_empty() {
            return Err(Problem::Rejected(findings));
        }
        if let Some(detail) = unavailable {
            return Err(Problem::Unavailable(detail));
        }
        let planned_bytes: u64 = planned
            .iter()
            .map(|(_, _, _, size)| size.unwrap_or(self.max_attachment))
            .sum();
        let known_bytes: u64 = planned.iter().filter_map(|(_, _, _, s)| *s).sum();
        if known_bytes > self.max_request {
            return Err(Problem::Rejected(vec![self.request_too_large(known_bytes)]));
        }
        // 2. Room in the budget, all at once (never piecemeal: two requests holding half each
        //    would wait for each other forever).
        let kib = reservation_kib(planned_bytes.min(self.max_request)).min(self.budget_kib);
        let waited = std::time::Instant::now();
        let permit = Arc::clone(&self.budget)
            .acquire_many_owned(u32::try_from(kib).unwrap_or(u32::MAX))
            .await
            .map_err(|_| Problem::Unavailable("the attachment budget is closed".to_owned()))?;
        metrics::histogram!("preauth_document_budget_wait_seconds")
            .record(waited.elapsed().as_secs_f64());
        let room = Room::new(permit, kib);
        // 3. The bytes, checked and hashed.
        let mut fetched = Vec::with_capacity(planned.len());
        let mut total = 0u64;
        let cap = |size: Option<u64>| size.unwrap_or(self.max_attachment).min(self.max_attachment);
        let asks: Vec<_> = planned
            .iter()
            .map(|(_, source, key, size)| Some((&source.store, *key, cap(*size))))
            .collect();
        let mut read = stores::folder_reads(&asks).await;
        for (i, (w, source, key, size)) in planned.into_iter().enumerate() {
            let data = match read.get_mut(i).and_then(Option::take) {
                Some(data) => data,
                None => source.store.fetch(key, cap(size)).await,
            };
            let data = match data {
                Ok(data) => data,
                Err(StoreError::TooLarge) if size.is_some() => {
                    // Larger than the store said a moment ago: being written. Try again later.
                    return Err(Problem::Unavailable(format!(
                        "{} changed size while it was read",
                        w.label
                    )));
                }
                Err(StoreError::TooLarge) => {
                    findings.push(ATT_04.finding(
                        &w.path,
                        format!(
                            "{} is larger than the limit of {} bytes (attachments.max_attachment_bytes)",
                            w.label, self.max_attachment
                        ),
                    ));
                    continue;
                }
                Err(e) => match self.store_problem(w, source, e, &mut findings) {
                    Some(detail) => return Err(Problem::Unavailable(detail)),
                    None => continue,
                },
            };
            total += data.len() as u64;
            if total > self.max_request {
                return Err(Problem::Rejected(vec![self.request_too_large(total)]));
            }
            match check_type(w, &data) {
                Ok(content_type) => fetched.push(Fetched {
                    content_type,
                    hash: sha1_base64(&data),
                    data,
                }),
                Err(f) => findings.push(f),
            }
        }
        if !findings.is_empty() {
            return Err(Problem::Rejected(findings));
        }
        // 4. A resend carries what the first try carried.
        if let Some(carried) = carried {
            let before: Vec<&str> = carried.split(',').collect();
            let changed: Vec<Finding> = wanted
                .iter()
                .zip(&fetched)
                .enumerate()
                .filter(|(i, (_, f))| before.get(*i) != Some(&f.hash.as_str()))
                .map(|(_, (w, _))| {
                    ATT_06.finding(
                        &w.path,
                        format!(
                            "{} changed in the document store since this request was first sent; publish a new case event to submit the new version",
                            w.label
                        ),
                    )
                })
                .collect();
            if !changed.is_empty() {
                return Err(Problem::Rejected(changed));
            }
        }
        let letter = case
            .documentation
            .letter_of_medical_necessity
            .is_some()
            .then(|| fetched.pop())
            .flatten();
        Ok(Documents {
            photos: fetched,
            letter,
            _room: Some(room),
        })
    }

    fn request_too_large(&self, bytes: u64) -> Finding {
        ATT_04.finding(
            "documentation",
            format!(
                "the photos and the letter are {bytes} bytes together; the limit is {} bytes (attachments.max_request_bytes)",
                self.max_request
            ),
        )
    }

    /// Adds the finding a store's answer means for the case, or returns the transient detail.
    fn store_problem(
        &self,
        w: &Wanted<'_>,
        source: &Source,
        e: StoreError,
        findings: &mut Vec<Finding>,
    ) -> Option<String> {
        match e {
            StoreError::NotFound => findings.push(ATT_02.finding(
                &w.path,
                format!(
                    "the document store `{}` has no file for {}",
                    source.name, w.label
                ),
            )),
            StoreError::Refused(why) => findings
                .push(ATT_03.finding(&w.path, format!("the URI of {} is refused: {why}", w.label))),
            StoreError::TooLarge => findings.push(ATT_04.finding(
                &w.path,
                format!(
                    "{} is larger than the limit of {} bytes",
                    w.label, self.max_attachment
                ),
            )),
            StoreError::Unavailable(detail) => {
                return Some(format!(
                    "document store `{}` unavailable for {}: {detail}",
                    source.name, w.label
                ))
            }
        }
        None
    }
}

/// The document's type, sniffed from its bytes: one the payer accepts, and the one the case
/// declares when it declares one.
fn check_type(w: &Wanted<'_>, data: &[u8]) -> Result<&'static str, Finding> {
    let Some(sniffed) = sniff(data) else {
        return Err(ATT_05.finding(
            &w.path,
            format!("the bytes of {} are not JPEG, PNG, TIFF or PDF", w.label),
        ));
    };
    match w.declared.map(|d| (d, accepted(d))) {
        None => Ok(sniffed),
        Some((_, Some(declared))) if declared == sniffed => Ok(sniffed),
        Some((_, Some(declared))) => Err(ATT_05.finding(
            &w.path.replace(".uri", ".content_type"),
            format!(
                "{} is declared {declared} but its bytes are {sniffed}",
                w.label
            ),
        )),
        Some((_, None)) => Err(ATT_05.finding(
            &w.path.replace(".uri", ".content_type"),
            format!(
                "{} declares a content type the payer does not accept (JPEG, PNG, TIFF or PDF); its bytes are {sniffed}",
                w.label
            ),
        )),
    }
}

#[cfg(test)]
mod tests;
