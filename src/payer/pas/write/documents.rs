//! The DocumentReference entries of a request: the clinical notes, photos and the letter of
//! medical necessity (PASDocumentReference).

use chrono::NaiveDate;

use super::PasRequest;
use crate::payer::attachments::{sha1_base64, Fetched};
use crate::payer::pas::model::*;

impl<'a> PasRequest<'a> {
    fn document_reference(
        &self,
        loinc: &'static str,
        loinc_display: &'static str,
        attachment: Attachment<'a>,
    ) -> DocumentReference<'_> {
        DocumentReference {
            resource_type: "DocumentReference",
            meta: meta(DOCUMENT_REFERENCE_PROFILE),
            status: "current",
            kind: concept_display(LOINC_SYSTEM, loinc, loinc_display),
            category: [concept_display(
                DOCUMENT_CATEGORY_SYSTEM,
                "clinical-note",
                "Clinical Note",
            )],
            subject: reference(self.parties.patient),
            date: &self.created,
            content: [Content { attachment }],
            author: None,
            authenticator: None,
        }
    }

    /// The DocumentReference entries of the notes, photos and letter, in that order.
    pub(super) fn documents<'s>(&'s self, urls: &[Urn], entry: &mut Vec<Entry<'s>>) {
        let doc = &self.case.documentation;
        let mut urls = urls.iter().copied();
        for note in &doc.clinical_notes {
            let text = note.text.as_bytes();
            let mut resource = self.document_reference(
                LOINC_PROGRESS_NOTE,
                "Progress note",
                Attachment {
                    content_type: Some("text/plain; charset=utf-8"),
                    data: (!text.is_empty()).then_some(Base64(text)),
                    url: None,
                    size: (!text.is_empty()).then_some(text.len() as u64),
                    hash: (!text.is_empty()).then(|| sha1_base64(text)),
                    title: &note.id,
                    creation: Date(note.date),
                },
            );
            resource.author = note
                .author_npi
                .as_ref()
                .map(|n| [npi_reference(n.as_str())]);
            push_document(entry, urls.next(), resource);
        }
        let fetched = self.documents;
        for (i, photo) in doc.photos.iter().enumerate() {
            // PAS wants the document inline (attachment.data; url is 0..0 in its
            // DocumentReference profile). Without fetched bytes (fetching switched off) the
            // practice system's URI is all there is to send.
            let bytes = fetched.and_then(|d| d.photos.get(i));
            let resource = self.document_reference(
                LOINC_PHOTO,
                "Photographic image",
                attachment(
                    bytes,
                    Some(&photo.content_type),
                    &photo.uri,
                    &photo.id,
                    photo.taken_on,
                ),
            );
            push_document(entry, urls.next(), resource);
        }
        // Appeals carry the letter; a submission that already has one sends it too (it is
        // evidence, and the payer's review reads it either way). The case declares no type for
        // the letter: fetched, its bytes tell; unfetched, none is sent.
        if let Some(letter) = &doc.letter_of_medical_necessity {
            let bytes = fetched.and_then(|d| d.letter.as_ref());
            let mut resource = self.document_reference(
                LOINC_LETTER,
                "Letter",
                attachment(
                    bytes,
                    None,
                    &letter.uri,
                    "Letter of medical necessity",
                    letter.signed_on,
                ),
            );
            resource.author = Some([npi_reference(letter.signed_by_npi.as_str())]);
            resource.authenticator = Some(npi_reference(letter.signed_by_npi.as_str()));
            push_document(entry, urls.next(), resource);
        }
    }
}

/// A photo's or the letter's attachment: the fetched bytes inline (type sniffed, size, hash),
/// or, when none were fetched, the URI with the declared type.
fn attachment<'a>(
    fetched: Option<&'a Fetched>,
    declared: Option<&'a str>,
    uri: &'a str,
    title: &'a str,
    creation: NaiveDate,
) -> Attachment<'a> {
    match fetched {
        Some(f) => Attachment {
            content_type: Some(f.content_type),
            data: Some(Base64(&f.data)),
            url: None,
            size: Some(f.data.len() as u64),
            hash: Some(f.hash.clone()),
            title,
            creation: Date(creation),
        },
        None => Attachment {
            content_type: declared,
            data: None,
            url: Some(uri),
            size: None,
            hash: None,
            title,
            creation: Date(creation),
        },
    }
}

fn push_document<'a>(
    entry: &mut Vec<Entry<'a>>,
    url: Option<Urn>,
    resource: DocumentReference<'a>,
) {
    // `document_urls` gives one url per document, in this order.
    if let Some(full_url) = url {
        entry.push(Entry {
            full_url,
            resource: Resource::DocumentReference(resource),
        });
    }
}
