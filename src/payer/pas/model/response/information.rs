//! The resources a payer asks for more information with (a PASCommunicationRequest the
//! ClaimResponse points to, or a PASTask in the bundle), and the URLs of the response-side
//! extensions and code systems that only the answer uses. Read leniently like the rest of the
//! response model; the payer simulator writes the CommunicationRequest.

use serde::{Deserialize, Serialize};

use super::{CodeableConcept, ExtensionTree, Meta, Period, PlainIdentifier};
use crate::payer::pas::json;

macro_rules! pas_ext {
    ($name:literal) => {
        concat!(
            "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/",
            $name
        )
    };
}

pub(crate) const EXT_ERROR_FOLLOWUP_ACTION: &str = pas_ext!("extension-errorFollowupAction");
pub(crate) const EXT_ITEM_PRE_AUTH_ISSUE_DATE: &str = pas_ext!("extension-itemPreAuthIssueDate");
pub(crate) const EXT_ITEM_AUTHORIZED_PROVIDER: &str = pas_ext!("extension-itemAuthorizedProvider");
pub(crate) const EXT_ITEM_AUTHORIZED_DETAIL: &str = pas_ext!("extension-itemAuthorizedDetail");
pub(crate) const EXT_AUTHORIZATION_NUMBER: &str = pas_ext!("extension-authorizationNumber");
pub(crate) const EXT_CONTENT_MODIFIER: &str = pas_ext!("extension-contentModifier");
pub(crate) const COMMUNICATION_REQUEST_PROFILE: &str = pas_ext!("profile-communicationrequest");
/// X12 889 Follow-up Action Code (`ClaimResponse.error.extension[followupAction]`).
pub(crate) const X12_889_SYSTEM: &str = "https://codesystem.x12.org/005010/889";

/// A PASCommunicationRequest: what the payer wants (`category`, X12 PWK01 report type;
/// `payload.contentString`, a LOINC attachment code) and by when (`occurrence[x]`).
#[derive(Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct CommunicationRequest<'a> {
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(crate) meta: Option<Meta<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) extension: Vec<ExtensionTree<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) identifier: Vec<PlainIdentifier<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) status: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) category: Vec<CodeableConcept<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) payload: Vec<Payload<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) occurrence_date_time: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) occurrence_period: Option<Period<'a>>,
}

/// `CommunicationRequest.payload`: a LOINC code as a string (PAS), or a concept (as some payers
/// send), with content modifiers.
#[derive(Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Payload<'a> {
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) extension: Vec<ExtensionTree<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) content_string: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) content_codeable_concept: Option<CodeableConcept<'a>>,
}

/// A PASTask asking for attachments: `input[AttachmentsNeeded]` codes and
/// `restriction.period.end`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Task<'a> {
    #[serde(borrow, deserialize_with = "json::text")]
    pub(crate) status: Option<&'a str>,
    #[serde(borrow, deserialize_with = "json::objects")]
    pub(crate) input: Vec<TaskInput<'a>>,
    #[serde(borrow, deserialize_with = "json::object")]
    pub(crate) restriction: Option<TaskRestriction<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct TaskInput<'a> {
    #[serde(borrow, deserialize_with = "json::object", rename = "type")]
    pub(crate) kind: Option<CodeableConcept<'a>>,
    #[serde(borrow, deserialize_with = "json::object")]
    pub(crate) value_codeable_concept: Option<CodeableConcept<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct TaskRestriction<'a> {
    #[serde(borrow, deserialize_with = "json::object")]
    pub(crate) period: Option<Period<'a>>,
}
