//! Which of the worker's requests a PAS notification is about, read statelessly from the full
//! response bundle it carries: `ClaimResponse.request` names the Claim the worker sent, by its
//! identifier (the TRN, system `urn:trnorg:…`, whose value is the worker's request identifier)
//! or by a reference to a Claim echoed in the bundle whose identifier carries it. A payer that
//! puts the TRN on the ClaimResponse's own identifiers is read too. Only a value of the worker's
//! request identifier form (a UUID) is taken: anything else is another system's request.

use serde::Deserialize;
use serde_json::Value;

use super::model::*;

/// The request identifier the response bundle answers, when it is one of the worker's.
pub fn notified_request(response_bundle: &Value) -> Option<String> {
    let entries = response_bundle.get("entry")?.as_array()?;
    let resource = |i: usize| &entries[i]["resource"];
    let kind = |i: usize| resource(i).get("resourceType").and_then(Value::as_str);
    let trn = |ids: &[PlainIdentifier<'_>]| {
        ids.iter()
            .filter(|i| i.system.is_some_and(|s| s.starts_with("urn:trnorg:")))
            .find_map(|i| i.value.filter(|v| is_request_identifier(v)))
            .map(str::to_owned)
    };
    // The claim a reference names: an echoed Claim by its fullUrl, or by `Claim/<id>`.
    let claim_named = |reference: &str| {
        (0..entries.len())
            .filter(|i| kind(*i) == Some("Claim"))
            .find(|i| {
                entries[*i]["fullUrl"].as_str() == Some(reference)
                    || resource(*i)["id"]
                        .as_str()
                        .is_some_and(|id| reference.rsplit('/').next() == Some(id))
            })
            .and_then(|i| Identified::deserialize(resource(i)).ok())
            .and_then(|c| trn(&c.identifier))
    };
    (0..entries.len())
        .filter(|i| kind(*i) == Some("ClaimResponse"))
        .filter_map(|i| Identified::deserialize(resource(i)).ok())
        .find_map(|r| {
            let request = r.request.as_ref();
            request
                .and_then(|q| q.identifier.as_ref())
                .and_then(|id| trn(std::slice::from_ref(id)))
                .or_else(|| request.and_then(|q| q.reference).and_then(claim_named))
                .or_else(|| trn(&r.identifier))
        })
}

/// The worker's request identifiers are UUIDs (see [`crate::ids::request_identifier`]).
fn is_request_identifier(v: &str) -> bool {
    v.len() == 36 && uuid::Uuid::parse_str(v).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "8c4f7a52-1d0e-5b6a-9f3e-2a1b0c9d8e7f";

    fn bundle(resources: Vec<Value>) -> Value {
        json!({"resourceType": "Bundle", "type": "collection", "entry": resources.into_iter().map(|r| json!({"fullUrl": "urn:uuid:1", "resource": r})).collect::<Vec<_>>()})
    }

    #[test]
    fn a_notification_is_matched_by_the_claim_identifier_its_claim_response_names() {
        let by_identifier = bundle(vec![json!({"resourceType": "ClaimResponse",
            "request": {"identifier": {"system": "urn:trnorg:1234567890", "value": ID}}})]);
        assert_eq!(notified_request(&by_identifier).as_deref(), Some(ID));
        let by_reference = bundle(vec![
            json!({"resourceType": "ClaimResponse", "request": {"reference": "urn:uuid:1"}}),
            json!({"resourceType": "Claim", "identifier": [{"system": "urn:trnorg:1", "value": ID}]}),
        ]);
        assert_eq!(notified_request(&by_reference).as_deref(), Some(ID));
        let on_its_own = bundle(vec![json!({"resourceType": "ClaimResponse",
            "identifier": [{"system": "urn:trnorg:1", "value": ID}]})]);
        assert_eq!(notified_request(&on_its_own).as_deref(), Some(ID));
    }

    #[test]
    fn a_notification_for_another_systems_request_names_none_of_ours() {
        for request in [
            json!({"identifier": {"system": "urn:trnorg:1", "value": "TRN-000123"}}),
            json!({"identifier": {"system": "urn:other", "value": ID}}),
            json!({"reference": "Claim/elsewhere"}),
            json!("not an object"),
        ] {
            let b = bundle(vec![
                json!({"resourceType": "ClaimResponse", "request": request}),
            ]);
            assert_eq!(notified_request(&b), None, "{b}");
        }
        assert_eq!(notified_request(&json!({"entry": "x"})), None);
    }
}
