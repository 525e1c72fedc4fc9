//! The response side of the model: a PAS response Bundle and its ClaimResponse (with the PAS
//! extensions a payer's decision travels in), an OperationOutcome and a Parameters wrapper, both
//! ways. The worker reads them ([`crate::payer::pas::read`]) from a parsed `serde_json::Value`
//! whose strings they borrow; the payer simulator writes them. Reading is lenient as FHIR
//! readers must be: every element is optional and one of the wrong JSON type counts as absent
//! (see [`crate::payer::pas::json`]), so reading never fails; what a decision needs is checked
//! by the reader. Elements marked `skip_deserializing` are written but not read: the reader has
//! no use for them (an issue's diagnostics, which payers fill with submitted values, least of
//! all), and skipping them keeps the parse as fast as reading the Value by hand was.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Coding, Meta};
use crate::payer::pas::json::{self, Scalar};

/// A resource of an answer, as the payer simulator writes it. The reader dispatches on [`Head`]
/// and reads the resource's own type from the same value, which costs no intermediate copy.
#[derive(Serialize)]
#[serde(tag = "resourceType")]
pub(crate) enum AnyResource<'a> {
    ClaimResponse(Box<ClaimResponse<'a>>),
    OperationOutcome(OperationOutcome<'a>),
    Bundle(Box<ResponseBundle<'a>>),
    CommunicationRequest(Box<CommunicationRequest<'a>>),
    /// A resource of the request, echoed as it was sent.
    #[serde(untagged)]
    Echo(&'a Value),
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ResponseBundle<'a> {
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(crate) meta: Option<Meta<'a>>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(crate) identifier: Option<PlainIdentifier<'a>>,
    #[serde(
        skip_deserializing,
        rename = "type",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) kind: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) timestamp: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) entry: Vec<ResponseEntry<'a>>,
}

/// `resourceType` alone: what a resource is, before it is read as that.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Head<'a> {
    #[serde(borrow, deserialize_with = "json::text")]
    pub(crate) resource_type: Option<&'a str>,
}

/// The identifiers a resource carries: its own, and the request's it answers.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Identified<'a> {
    #[serde(borrow, deserialize_with = "json::objects")]
    pub(crate) identifier: Vec<PlainIdentifier<'a>>,
    #[serde(borrow, deserialize_with = "json::object")]
    pub(crate) request: Option<PartyReference<'a>>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ResponseEntry<'a> {
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(crate) full_url: Option<String>,
    /// The resource written.
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(crate) resource: Option<AnyResource<'a>>,
    /// The fullUrl read (references in the bundle resolve to it).
    #[serde(
        rename = "fullUrl",
        borrow,
        deserialize_with = "json::text",
        skip_serializing
    )]
    pub(crate) url: Option<&'a str>,
    /// The type of the resource read.
    #[serde(
        rename = "resource",
        borrow,
        deserialize_with = "json::object",
        skip_serializing
    )]
    pub(crate) head: Option<Head<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Parameters<'a> {
    #[serde(borrow, deserialize_with = "json::objects")]
    pub(crate) parameter: Vec<Parameter<'a>>,
}

/// A parameter: its name, and whether it holds a resource (of any JSON type).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Parameter<'a> {
    #[serde(borrow, deserialize_with = "json::text")]
    pub(crate) name: Option<&'a str>,
    #[serde(borrow, deserialize_with = "json::present")]
    pub(crate) resource: Option<Scalar<'a>>,
}

// ---------------------------------------------------------------------------------------------
// Datatypes, read leniently.

#[derive(Serialize, Deserialize, Default, Clone)]
#[serde(default)]
pub(crate) struct CodeableConcept<'a> {
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) coding: Vec<Coding<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) text: Option<&'a str>,
}

impl<'a> CodeableConcept<'a> {
    pub(crate) fn of(coding: Coding<'a>) -> Self {
        Self {
            coding: vec![coding],
            text: None,
        }
    }

    /// The first coding in `system`, else the first coding.
    pub(crate) fn coding_in(&self, system: &str) -> Option<&Coding<'a>> {
        self.coding
            .iter()
            .find(|c| c.system == Some(system))
            .or_else(|| self.coding.first())
    }
}

#[derive(Serialize, Deserialize, Default, Clone, Copy)]
#[serde(default)]
pub(crate) struct PlainIdentifier<'a> {
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) system: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) value: Option<&'a str>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub(crate) struct PartyReference<'a> {
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) reference: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) identifier: Option<PlainIdentifier<'a>>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub(crate) struct Period<'a> {
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) start: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) end: Option<&'a str>,
}

/// An extension with its nested extensions (PAS's complex extensions: reviewAction,
/// documentInformation) or one value.
#[derive(Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ExtensionTree<'a> {
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) url: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) extension: Vec<ExtensionTree<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) value_codeable_concept: Option<CodeableConcept<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) value_string: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) value_period: Option<Period<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) value_date: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) value_date_time: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) value_identifier: Option<PlainIdentifier<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) value_reference: Option<PartyReference<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) value_quantity: Option<AuthorizedQuantity<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) value_positive_int: Option<Scalar<'a>>,
}

impl<'a> ExtensionTree<'a> {
    pub(crate) fn concept(url: &'a str, concept: CodeableConcept<'a>) -> Self {
        Self {
            url: Some(url),
            value_codeable_concept: Some(concept),
            ..Self::default()
        }
    }

    pub(crate) fn string(url: &'a str, value: &'a str) -> Self {
        Self {
            url: Some(url),
            value_string: Some(value),
            ..Self::default()
        }
    }
}

/// The extensions of a list with the given url.
pub(crate) fn extensions<'x, 'a>(
    list: &'x [ExtensionTree<'a>],
    url: &'x str,
) -> impl Iterator<Item = &'x ExtensionTree<'a>> + 'x {
    list.iter().filter(move |e| e.url == Some(url))
}

// ---------------------------------------------------------------------------------------------
// ClaimResponse.

#[derive(Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ClaimResponse<'a> {
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
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<&'a str>,
    #[serde(
        skip_deserializing,
        rename = "type",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) kind: Option<CodeableConcept<'a>>,
    #[serde(
        skip_deserializing,
        rename = "use",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) purpose: Option<&'a str>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(crate) patient: Option<PartyReference<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) created: Option<&'a str>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(crate) insurer: Option<PartyReference<'a>>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(crate) requestor: Option<PartyReference<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) request: Option<PartyReference<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) outcome: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) pre_auth_ref: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) pre_auth_period: Option<Period<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) item: Vec<ResponseItem<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) add_item: Vec<AddItem<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) adjudication: Vec<Adjudication<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) process_note: Vec<ProcessNote<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) error: Vec<ClaimError<'a>>,
    /// The payer's requests for more information (PASCommunicationRequest entries).
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) communication_request: Vec<PartyReference<'a>>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ResponseItem<'a> {
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) extension: Vec<ExtensionTree<'a>>,
    #[serde(borrow, deserialize_with = "json::present")]
    pub(crate) item_sequence: Option<Scalar<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::scalars",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) note_number: Vec<Scalar<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) adjudication: Vec<Adjudication<'a>>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Adjudication<'a> {
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) extension: Vec<ExtensionTree<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) category: Option<CodeableConcept<'a>>,
    /// Kept as found: a value that is there but not a whole number is an error, not absent.
    #[serde(
        borrow,
        deserialize_with = "json::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) value: Option<Scalar<'a>>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct AddItem<'a> {
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) extension: Vec<ExtensionTree<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::scalars",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) item_sequence: Vec<Scalar<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) provider: Vec<PartyReference<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) product_or_service: Option<CodeableConcept<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) modifier: Vec<CodeableConcept<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) quantity: Option<AuthorizedQuantity<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) adjudication: Vec<Adjudication<'a>>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub(crate) struct AuthorizedQuantity<'a> {
    #[serde(
        borrow,
        deserialize_with = "json::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) value: Option<Scalar<'a>>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub(crate) struct ProcessNote<'a> {
    #[serde(
        borrow,
        deserialize_with = "json::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) number: Option<Scalar<'a>>,
    #[serde(
        skip_deserializing,
        rename = "type",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) kind: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) text: Option<&'a str>,
}

/// `ClaimResponse.error`: an X12 AAA reject reason, with where it applies.
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub(crate) struct ClaimError<'a> {
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) extension: Vec<ExtensionTree<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) code: Option<CodeableConcept<'a>>,
}

// ---------------------------------------------------------------------------------------------
// OperationOutcome.

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub(crate) struct OperationOutcome<'a> {
    #[serde(
        borrow,
        deserialize_with = "json::objects",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) issue: Vec<Issue<'a>>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
pub(crate) struct Issue<'a> {
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) severity: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::text",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) code: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) details: Option<CodeableConcept<'a>>,
    #[serde(skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub(crate) diagnostics: Option<&'a str>,
    #[serde(
        borrow,
        deserialize_with = "json::scalars",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) expression: Vec<Scalar<'a>>,
    #[serde(
        borrow,
        deserialize_with = "json::scalars",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) location: Vec<Scalar<'a>>,
}

mod information;
pub(crate) use information::*;
