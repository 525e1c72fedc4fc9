//! Every request the worker can send, for every example and fixture case, as the PAS client
//! writes it (the bundle a configured payer receives: submission, appeal, update, cancel, and
//! the inquiry that follows a pend), held to the PAS 2.2.1 profiles
//! (`payer::pas::profile`, derived from the IG's FSH).

use preauth_worker::case::{decode, identify, CaseEvent, Kind};
use preauth_worker::ids::request_identifier;
use preauth_worker::payer::attachments::{Attachments, Documents};
use preauth_worker::payer::pas::profile::{assert_conformant, check};
use preauth_worker::payer::pas::write::{
    inquiry_bundle, request_bundle, update_bundle, ClaimChange, PasRequest, PayerIdentity,
};
use preauth_worker::payer::OriginalRequest;
use serde_json::Value;

fn identity() -> PayerIdentity {
    PayerIdentity {
        payer_name: Some("Acme Health Plan".into()),
        payer_identifier: Some("60054".into()),
        payer_identifier_system: Some("urn:oid:2.16.840.1.113883.6.300".into()),
        member_id_system: Some("https://acme.example/fhir/member-id".into()),
        interchange_sender_id: Some("RIVERSIDE".into()),
        interchange_receiver_id: Some("ACME".into()),
        application_sender_code: Some("RIVAPP".into()),
        application_receiver_code: Some("ACMEAPP".into()),
    }
}

/// The request the pipeline would make of the case, and the request it refers to.
fn original(case: &CaseEvent) -> Option<(String, String)> {
    match case.kind {
        Kind::Submission => None,
        Kind::Appeal => case.appeal.as_ref().map(|a| {
            (
                request_identifier(&case.case_id, &a.original_event_id, "submit"),
                a.payer_reference.clone(),
            )
        }),
        Kind::Update | Kind::Cancel => case.original.as_ref().map(|o| {
            (
                o.request_identifier(&case.case_id),
                o.payer_reference.clone(),
            )
        }),
    }
}

/// The photos and letters as the worker sends them: fetched from the shipped demonstration store
/// (examples/attachments), inline with their size and hash.
fn documents(case: &CaseEvent) -> Option<Documents> {
    if case.kind == Kind::Cancel {
        return None;
    }
    let attachments = Attachments::build(
        &preauth_worker::config::Settings::load_without_env(None)
            .expect("defaults")
            .attachments,
    )
    .expect("attachments");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(attachments.resolve(case, None)).ok()
}

fn cases() -> Vec<(String, CaseEvent)> {
    crate::support::case_files()
        .into_iter()
        .filter_map(|file| {
            let bytes = std::fs::read(&file).expect("case file");
            let name = file.file_stem()?.to_str()?.to_owned();
            // Fixtures that do not decode are refused before any request is written.
            let case = decode(&identify(&bytes).ok()?, None).ok()?;
            Some((name, case))
        })
        .collect()
}

fn submission<'a>(
    case: &'a CaseEvent,
    id: &str,
    original: Option<OriginalRequest<'a>>,
) -> PasRequest<'a> {
    let submitter = case.provider.npi.as_str();
    match (case.kind, original) {
        (Kind::Update, Some(o)) => update_bundle(case, id, submitter, o, ClaimChange::Update),
        (Kind::Cancel, Some(o)) => update_bundle(case, id, submitter, o, ClaimChange::Cancel),
        _ => request_bundle(case, id, submitter).with_appealed(original),
    }
}

#[test]
fn every_request_the_worker_writes_conforms_to_the_pas_profiles() {
    let identity = identity();
    let cases = cases();
    let mut kinds = std::collections::BTreeSet::new();
    let mut checked = 0;
    for (name, case) in &cases {
        let id = request_identifier(&case.case_id, &case.event_id, case.kind.operation());
        let refers = original(case);
        let original = refers.as_ref().map(|(r, p)| OriginalRequest {
            request_identifier: r,
            payer_reference: p,
        });
        let Some(documents) =
            documents(case).or_else(|| (case.kind == Kind::Cancel).then(Documents::default))
        else {
            // A case whose documents are refused (ATT findings) is never sent.
            continue;
        };
        let bundle = submission(case, &id, original)
            .with_documents((case.kind != Kind::Cancel).then_some(&documents))
            .with_identity(&identity)
            .to_value();
        let violations = check(&bundle);
        assert!(
            violations.is_empty(),
            "{name} ({}): {violations:#?}",
            case.kind.as_str()
        );
        let inquiry = inquiry_bundle(
            case,
            &id,
            case.provider.npi.as_str(),
            "PA-00000001",
            1,
            chrono::Utc::now(),
        )
        .with_identity(&identity)
        .to_value();
        assert_conformant(&inquiry);
        kinds.insert(case.kind.as_str());
        checked += 2;
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["appeal", "cancel", "submission", "update"],
        "every kind of request is checked"
    );
    assert!(checked >= 30, "only {checked} bundles checked");
}

/// Each defect a validating payer would refuse, put back into a conformant request of the
/// worker's own: the check must name it.
#[test]
fn the_profile_check_fails_on_a_worker_request_with_any_one_defect_reintroduced() {
    let identity = identity();
    let cases = cases();
    let (_, case) = cases
        .iter()
        .find(|(_, c)| {
            c.kind == Kind::Submission
                && c.service.procedures.iter().any(|p| !p.modifiers.is_empty())
        })
        .expect("a submission with a modifier");
    let id = request_identifier(&case.case_id, &case.event_id, "submit");
    let documents = documents(case).expect("the documents of the example");
    let good = request_bundle(case, &id, case.provider.npi.as_str())
        .with_documents(Some(&documents))
        .with_identity(&identity)
        .to_value();
    assert_conformant(&good);
    type Defect = (&'static str, fn(&mut Value));
    let defects: [Defect; 8] = [
        ("diagnosis type from ex-diagnosistype", |b| {
            b["entry"][0]["resource"]["diagnosis"][0]["type"][0]["coding"][0]["system"] =
                "http://terminology.hl7.org/CodeSystem/ex-diagnosistype".into();
        }),
        ("quantity without unit or code", |b| {
            b["entry"][0]["resource"]["item"][0]["quantity"] = serde_json::json!({"value": 1});
        }),
        ("a second, base64 identifier", |b| {
            if let Some(ids) = b["entry"][0]["resource"]["identifier"].as_array_mut() {
                ids.push(serde_json::json!({
                    "system": "urn:preauth-worker:case-event",
                    "value": "eyJjYXNlX2lkIjoiQy0yMDI2LTAwMDEyMyIsImV2ZW50X2lkIjoiRS0xIiwia2luZCI6InN1Ym1pc3Npb24iLCJvY2N1cnJlZF9hdCI6IjIwMjYtMTEtMjAifQ"
                }));
            }
        }),
        ("an HCPCS modifier under the CPT system", |b| {
            b["entry"][0]["resource"]["item"][0]["modifier"][0]["coding"][0]["system"] =
                "http://www.ama-assn.org/go/cpt".into();
        }),
        ("priority stat without an urgent level of service", |b| {
            b["entry"][0]["resource"]["priority"]["coding"][0]["code"] = "stat".into();
        }),
        ("an insurer under an invented system", |b| {
            for e in b["entry"].as_array_mut().into_iter().flatten() {
                if e["resource"]["meta"]["profile"][0]
                    .as_str()
                    .is_some_and(|p| p.ends_with("profile-insurer"))
                {
                    e["resource"]["identifier"][0]["system"] = "urn:preauth-worker:payer-id".into();
                }
            }
        }),
        ("a care team without its role", |b| {
            if let Some(t) = b["entry"][0]["resource"]["careTeam"][0].as_object_mut() {
                t.remove("role");
            }
        }),
        ("the Claim not first", |b| {
            if let Some(entries) = b["entry"].as_array_mut() {
                entries.swap(0, 1);
            }
        }),
    ];
    for (what, damage) in defects {
        let mut bad = good.clone();
        damage(&mut bad);
        assert!(!check(&bad).is_empty(), "the check let through: {what}");
    }
}
