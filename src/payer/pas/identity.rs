//! Who a PAS payer is, as the payer and the worker agreed it: the names and identifiers a request
//! bundle carries for the payer (the insurer Organization, the member id system) and the X12
//! envelope identifiers an intermediary builds the 278's ISA and GS segments from.
//!
//! Each comes from the payer's `[payers.ID]` table. Unset, the writer falls back to the worker's
//! own names (the payer id of the case under `urn:preauth-worker:…`), which a test payer accepts
//! and a real one does not: set `payer_name`, `payer_identifier`, `payer_identifier_system` and `member_id_system` for
//! every real payer (the worker warns at start when a `fhir-pas` payer lacks them).

use serde::{Deserialize, Serialize};

/// A payer's identity settings (all optional; see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct PayerIdentity {
    /// The insurer Organization's name (US Core requires one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_name: Option<String>,
    /// The payer's identifier (the insurer's `PI` identifier, e.g. its X12 payer id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_identifier: Option<String>,
    /// The system URI of `payer_identifier` (e.g. the clearinghouse's payer id list, or NAIC
    /// `urn:oid:2.16.840.1.113883.6.300` for an NAIC company code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_identifier_system: Option<String>,
    /// The identifier system URI the payer agreed for its member ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id_system: Option<String>,
    /// X12 ISA06, the interchange sender id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interchange_sender_id: Option<String>,
    /// X12 ISA08, the interchange receiver id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interchange_receiver_id: Option<String>,
    /// X12 GS02, the application sender's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_sender_code: Option<String>,
    /// X12 GS03, the application receiver's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_receiver_code: Option<String>,
}

impl PayerIdentity {
    /// The keys a real payer needs that are unset, by name.
    pub fn missing(&self) -> Vec<&'static str> {
        [
            ("payer_name", &self.payer_name),
            ("payer_identifier", &self.payer_identifier),
            ("payer_identifier_system", &self.payer_identifier_system),
            ("member_id_system", &self.member_id_system),
        ]
        .into_iter()
        .filter(|(_, v)| v.as_deref().is_none_or(|v| v.trim().is_empty()))
        .map(|(k, _)| k)
        .collect()
    }
}
