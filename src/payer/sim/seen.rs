//! What the payer simulator records of a request's Claim for tests: its profile, the requests
//! it names, and each line's certification type, payer reference and cancellation flag. Codes
//! and identifiers only, never patient data.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::payer::pas::model::{
    EXT_ADMINISTRATION_REFERENCE_NUMBER, EXT_CERTIFICATION_TYPE, EXT_INFO_CANCELLED,
};

/// The Claim of a request as the simulator saw it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SeenClaim {
    /// `Claim.meta.profile`.
    pub profiles: Vec<String>,
    /// The identifier values of the claims `Claim.related` names (an update's original).
    pub related: Vec<String>,
    /// The Claim-level `extension-certificationType` code (a cancellation's 3), if any.
    pub certification_type: Option<String>,
    /// The Claim's lines, in order.
    pub items: Vec<SeenItem>,
}

/// One Claim line as the simulator saw it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SeenItem {
    /// `productOrService` code.
    pub code: Option<String>,
    /// The line's `extension-certificationType` code (X12 1322).
    pub certification_type: Option<String>,
    /// The line's `extension-administrationReferenceNumber`: the payer reference it refers to.
    pub administration_reference_number: Option<String>,
    /// Whether the line carries the `infoCancelled` modifier extension set to true.
    pub info_cancelled: bool,
}

/// The first Claim entry of `bundle`, as recorded; `None` when the bundle holds no Claim.
pub fn claim_of(bundle: &Value) -> Option<SeenClaim> {
    let claim = bundle["entry"]
        .as_array()?
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Claim")?;
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(SeenClaim {
        profiles: strings(&claim["meta"]["profile"]),
        related: claim["related"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["claim"]["identifier"]["value"].as_str())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        certification_type: extension(&claim["extension"], EXT_CERTIFICATION_TYPE)
            .and_then(coding_code),
        items: claim["item"]
            .as_array()
            .map(|items| items.iter().map(item_of).collect())
            .unwrap_or_default(),
    })
}

fn item_of(item: &Value) -> SeenItem {
    SeenItem {
        code: item["productOrService"]["coding"][0]["code"]
            .as_str()
            .map(str::to_owned),
        certification_type: extension(&item["extension"], EXT_CERTIFICATION_TYPE)
            .and_then(coding_code),
        administration_reference_number: extension(
            &item["extension"],
            EXT_ADMINISTRATION_REFERENCE_NUMBER,
        )
        .and_then(|x| x["valueString"].as_str())
        .map(str::to_owned),
        info_cancelled: extension(&item["modifierExtension"], EXT_INFO_CANCELLED)
            .is_some_and(|x| x["valueBoolean"] == Value::Bool(true)),
    }
}

/// The first extension of `extensions` with `url`.
fn extension<'v>(extensions: &'v Value, url: &str) -> Option<&'v Value> {
    extensions
        .as_array()?
        .iter()
        .find(|x| x["url"].as_str() == Some(url))
}

fn coding_code(extension: &Value) -> Option<String> {
    extension["valueCodeableConcept"]["coding"][0]["code"]
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cancellations_claim_is_recorded_by_its_codes() {
        let bundle = json!({"entry": [{"resource": {
            "resourceType": "Claim",
            "meta": {"profile": ["http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-claim-update"]},
            "related": [{"claim": {"identifier": {"value": "rid-1"}}}],
            "extension": [{"url": EXT_CERTIFICATION_TYPE, "valueCodeableConcept": {"coding": [{"code": "3"}]}}],
            "item": [{
                "productOrService": {"coding": [{"code": "67850"}]},
                "extension": [
                    {"url": EXT_ADMINISTRATION_REFERENCE_NUMBER, "valueString": "PA-1"},
                    {"url": EXT_CERTIFICATION_TYPE, "valueCodeableConcept": {"coding": [{"code": "3"}]}}
                ],
                "modifierExtension": [{"url": EXT_INFO_CANCELLED, "valueBoolean": true}]
            }]
        }}]});
        let claim = claim_of(&bundle).expect("a claim");
        assert_eq!(claim.related, ["rid-1"]);
        assert_eq!(claim.certification_type.as_deref(), Some("3"));
        assert_eq!(
            claim.items,
            [SeenItem {
                code: Some("67850".into()),
                certification_type: Some("3".into()),
                administration_reference_number: Some("PA-1".into()),
                info_cancelled: true,
            }]
        );
    }

    #[test]
    fn a_bundle_without_a_claim_records_none() {
        assert_eq!(claim_of(&json!({"entry": []})), None);
        assert_eq!(claim_of(&json!("not a bundle")), None);
    }
}
