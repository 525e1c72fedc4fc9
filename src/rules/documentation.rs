//! Documentation rules: medical necessity, clinical notes, photographs, prior treatments, dates.
//!
//! Messages never quote the case's free text: an indication is named only when it is a word of
//! the contract's vocabulary, and a note, a site or a treatment is never quoted at all.

use chrono::{Duration, NaiveDate};

use crate::case::registry::{
    DATE_01, DATE_01_DOUBTFUL, DOC_03, DOC_03_REQUIRED, DOC_04, DOC_05, NEC_01, NEC_02, NEC_03,
    NEC_04, NEC_04_IGNORED, NEC_05, NEC_06, NEC_07,
};
use crate::case::{CaseEvent, Finding, Indication, Kind};
use crate::codes::CodeTable;
use crate::rules::clinical::NoteReading;
use crate::rules::{word, Policy};

pub(super) fn check(
    case: &CaseEvent,
    policy: &Policy,
    codes: &CodeTable,
    notes: &[NoteReading],
    out: &mut Vec<Finding>,
) {
    necessity(case, policy, codes, out);
    super::evidence::notes_back_indications(case, policy, notes, out);
    supporting_diagnoses(case, policy, out);
    photos_and_treatments(case, policy, out);
    excision_rationale(case, policy, codes, out);
    dates(case, out);
}

fn is_periocular(case: &CaseEvent, policy: &Policy, codes: &CodeTable) -> bool {
    let site_is_eye = case
        .service
        .lesions
        .as_ref()
        .is_some_and(|l| policy.clinical.is_periocular(&l.site));
    site_is_eye
        || case
            .service
            .diagnoses
            .iter()
            .any(|d| d.code.eyelid().is_some())
        || case
            .service
            .procedures
            .iter()
            .any(|p| codes.get(&p.code).is_some_and(|c| c.eyelid))
}

fn necessity(case: &CaseEvent, policy: &Policy, codes: &CodeTable, out: &mut Vec<Finding>) {
    let indications = &case.documentation.indications;
    let covered = indications.iter().any(|i| policy.covers(i));
    let appearance: Vec<&str> = indications
        .iter()
        .filter(|i| i.is_appearance_only())
        .map(word)
        .collect();

    if !covered {
        out.push(NEC_01.finding(
            "documentation.indications",
            format!(
                "no indication that payer policy {:?} accepts is documented (bleeding, itching, pain, inflammation, infection, restricts-vision, …)",
                policy.name
            ),
        ));
        if appearance.is_empty() && is_periocular(case, policy, codes) {
            out.push(NEC_02.finding(
                "documentation.indications",
                "a lesion near or on the eyelid is not a reason on its own: document the symptom or the loss of function",
            ));
        }
    }
    if !appearance.is_empty() {
        let text = format!(
            "appearance-only reasons ({}) can never justify removal",
            appearance.join(", ")
        );
        out.push(if covered {
            NEC_04_IGNORED.finding(
                "documentation.indications",
                format!("{text}; they are ignored"),
            )
        } else {
            NEC_04.finding("documentation.indications", text)
        });
    }
    for (i, ind) in indications.iter().enumerate() {
        let path = format!("documentation.indications[{i}]");
        match ind {
            Indication::Unknown(w) if policy.clinical.is_vague(w) => out.push(NEC_03.finding(
                &path,
                "irritation alone does not establish necessity: document objective findings (erythema, edema, bleeding, pain)",
            )),
            // The word itself is free text: the path says which one it is.
            Indication::Unknown(_) => out.push(NEC_06.finding(
                &path,
                "this word is not in the indication vocabulary; it does not count toward necessity",
            )),
            known if !known.is_appearance_only() && !policy.covers(known) => out.push(NEC_07.finding(
                &path,
                format!("payer policy {:?} does not accept {} as an indication", policy.name, word(known)),
            )),
            _ => {}
        }
    }
}

fn supporting_diagnoses(case: &CaseEvent, policy: &Policy, out: &mut Vec<Finding>) {
    let supporting = |i: &Indication| policy.clinical.supporting_prefixes(i);
    let secondary: Vec<&str> = case
        .service
        .diagnoses
        .iter()
        .filter(|d| !d.primary)
        .map(|d| d.code.compact())
        .collect();
    let claimed: Vec<(usize, &Indication)> = case
        .documentation
        .indications
        .iter()
        .enumerate()
        .filter(|(_, i)| policy.covers(i) && !supporting(i).is_empty())
        .collect();
    // One supported symptom is enough: the rule asks for consistency, not a code per word.
    let any_supported = claimed.iter().any(|(_, i)| {
        secondary
            .iter()
            .any(|c| supporting(i).iter().any(|p| c.starts_with(p.as_str())))
    });
    if !claimed.is_empty() && !any_supported {
        let (i, ind) = claimed[0];
        out.push(NEC_05.finding(
            &format!("documentation.indications[{i}]"),
            format!(
                "no secondary diagnosis supports {} (for example {})",
                word(ind),
                supporting(ind)[0]
            ),
        ));
    }
}

fn photos_and_treatments(case: &CaseEvent, policy: &Policy, out: &mut Vec<Finding>) {
    let doc = &case.documentation;
    if doc.photos.is_empty() {
        out.push(if policy.photos_required {
            DOC_03_REQUIRED.finding(
                "documentation.photos",
                format!(
                    "payer policy {:?} requires dated photographs of the lesions",
                    policy.name
                ),
            )
        } else {
            DOC_03.finding(
                "documentation.photos",
                "no dated photographs: they are strongly advised for eyelid cases and appeals",
            )
        });
    }
    if doc.prior_treatments.is_empty() && matches!(case.kind, Kind::Submission | Kind::Update) {
        out.push(DOC_05.finding(
            "documentation.prior_treatments",
            "no prior (conservative) treatment is recorded; a payer may deny, and an appeal will need it",
        ));
    }
}

fn excision_rationale(
    case: &CaseEvent,
    policy: &Policy,
    codes: &CodeTable,
    out: &mut Vec<Finding>,
) {
    let justified = case
        .documentation
        .indications
        .iter()
        .any(|i| policy.excision_indications.contains(i));
    for (i, p) in case.service.procedures.iter().enumerate() {
        if codes.get(&p.code).is_some_and(|c| c.excision) && !justified {
            out.push(DOC_04.finding(
                &format!("service.procedures[{i}].code"),
                format!("{} is an excision: document why excision rather than destruction (diagnostic-uncertainty or prior-biopsy)", p.code),
            ));
        }
    }
}

/// Dates are judged against the event's own `occurred_at`, never the wall clock.
fn dates(case: &CaseEvent, out: &mut Vec<Finding>) {
    let on = case.occurred_on();
    let after = |d: NaiveDate| d > on;
    let svc = &case.service;
    if svc.planned_date < on {
        out.push(DATE_01.finding(
            "service.planned_date",
            "the planned date is before the event: a pre-authorization is for a service still to come",
        ));
    } else if svc.planned_date > on + Duration::days(365) {
        out.push(DATE_01_DOUBTFUL.finding(
            "service.planned_date",
            "the planned date is more than a year after the event; authorizations rarely last that long",
        ));
    }
    let birth = case.patient.birth_date;
    if after(birth) {
        out.push(DATE_01.finding("patient.birth_date", "the birth date is after the event"));
    } else if on.years_since(birth).is_some_and(|age| age > 130) {
        out.push(DATE_01.finding(
            "patient.birth_date",
            "the birth date is more than 130 years before the event",
        ));
    }
    let doc = &case.documentation;
    for (i, n) in doc.clinical_notes.iter().enumerate() {
        if after(n.date) {
            out.push(DATE_01.finding(
                &format!("documentation.clinical_notes[{i}].date"),
                "the note is dated after the event",
            ));
        } else if n.date < birth {
            out.push(DATE_01.finding(
                &format!("documentation.clinical_notes[{i}].date"),
                "the note is dated before the patient's birth",
            ));
        }
    }
    for (i, p) in doc.photos.iter().enumerate() {
        if after(p.taken_on) {
            out.push(DATE_01.finding(
                &format!("documentation.photos[{i}].taken_on"),
                "the photograph is dated after the event",
            ));
        }
    }
    for (i, t) in doc.prior_treatments.iter().enumerate() {
        let path = format!("documentation.prior_treatments[{i}]");
        if after(t.from) {
            out.push(DATE_01.finding(
                &format!("{path}.from"),
                "the treatment starts after the event",
            ));
        }
        if let Some(to) = t.to {
            if to < t.from {
                out.push(
                    DATE_01.finding(&format!("{path}.to"), "the treatment ends before it starts"),
                );
            } else if after(to) {
                out.push(DATE_01_DOUBTFUL.finding(
                    &format!("{path}.to"),
                    "the treatment ends after the event; its result cannot be known yet",
                ));
            }
        }
    }
    if let Some(letter) = &doc.letter_of_medical_necessity {
        if after(letter.signed_on) {
            out.push(DATE_01.finding(
                "documentation.letter_of_medical_necessity.signed_on",
                "the letter is signed after the event",
            ));
        }
    }
    if let Some(appeal) = &case.appeal {
        if after(appeal.denied_on) {
            out.push(DATE_01.finding(
                "appeal.denied_on",
                "the denial is dated after the appeal event",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::rules::testing::{base, findings, ids};

    fn with(ptr: &str, val: Value) -> Value {
        let mut v = base();
        *v.pointer_mut(ptr).unwrap_or_else(|| panic!("no {ptr}")) = val;
        v
    }

    fn assert_has(v: &Value, policy: &str, want: &str) {
        let got = ids(&findings(v, policy));
        assert!(
            got.iter().any(|g| g == want),
            "expected {want}, got {got:?}"
        );
    }

    fn assert_lacks(v: &Value, policy: &str, prefix: &str) {
        let got = ids(&findings(v, policy));
        assert!(
            !got.iter().any(|g| g.starts_with(prefix)),
            "unexpected {prefix} in {got:?}"
        );
    }

    #[test]
    fn appearance_only_reasons_never_justify_the_request() {
        let v = with(
            "/documentation/indications",
            json!(["cosmetic", "emotional-distress", "makeup-trapping"]),
        );
        assert_has(&v, "default", "NEC-01:E");
        assert_has(&v, "default", "NEC-04:E");
        // Next to a real indication they are only reported.
        let v = with("/documentation/indications", json!(["pain", "cosmetic"]));
        assert_has(&v, "default", "NEC-04:W");
        assert_lacks(&v, "default", "NEC-01");
    }

    #[test]
    fn eyelid_location_alone_never_justifies_the_request() {
        let v = with("/documentation/indications", json!([]));
        assert_has(&v, "default", "NEC-01:E");
        assert_has(&v, "default", "NEC-02:E");
    }

    #[test]
    fn each_covered_indication_is_enough_on_its_own() {
        // Every word of the contract's vocabulary but the three that never show necessity, with
        // a note that documents it.
        let documented = [
            ("bleeding", "The lesion bleeds when she washes."),
            ("itching", "Constant itching over the lesion."),
            ("pain", "Pain on blinking."),
            ("inflammation", "Surrounding erythema and edema."),
            ("infection", "A purulent pustule at the lesion."),
            ("change-in-appearance", "The lesion has darkened."),
            ("recent-enlargement", "It has grown from 1 to 3 mm."),
            ("increase-in-number", "New lesions appear every month."),
            ("obstructs-orifice", "It occludes the lower punctum."),
            ("restricts-vision", "Blurred vision on down-gaze."),
            (
                "diagnostic-uncertainty",
                "Basal cell carcinoma cannot be excluded.",
            ),
            ("prior-biopsy", "A shave biopsy in May was inconclusive."),
            ("recurrent-trauma", "It catches on the towel every day."),
        ];
        let not_covered = ["cosmetic", "emotional-distress", "makeup-trapping"];
        let words: Vec<&str> = crate::case::Indication::VOCABULARY
            .into_iter()
            .filter(|w| !not_covered.contains(w))
            .collect();
        assert_eq!(words.len(), documented.len());
        for (word, note) in documented {
            assert!(words.contains(&word), "{word}");
            let v = with("/documentation/indications", json!([word]));
            let v = {
                let mut v = v;
                v["documentation"]["clinical_notes"][0]["text"] = json!(note);
                v
            };
            let got = ids(&findings(&v, "default"));
            assert!(!got.iter().any(|g| g.ends_with(":E")), "{word}: {got:?}");
        }
    }

    #[test]
    fn the_strict_payer_does_not_accept_change_in_appearance_alone() {
        let v = with(
            "/documentation/indications",
            json!(["change-in-appearance"]),
        );
        assert_has(&v, "strict-commercial", "NEC-01:E");
        assert_has(&v, "strict-commercial", "NEC-07:W");
        assert_lacks(&v, "default", "NEC-01");
    }

    #[test]
    fn unknown_and_vague_words_are_findings_not_crashes() {
        let v = with(
            "/documentation/indications",
            json!(["pain", "crusting", "irritated"]),
        );
        assert_has(&v, "default", "NEC-06:W");
        assert_has(&v, "default", "NEC-03:W");
        assert_lacks(&v, "default", "NEC-01");
        let v = with("/documentation/indications", json!(["irritated"]));
        assert_has(&v, "default", "NEC-01:E");
    }

    #[test]
    fn an_indication_outside_the_vocabulary_is_reported_without_the_word() {
        // The published outcome that carried "patient ivan petrov dob 1950-05-17 membe".
        let v = with(
            "/documentation/indications",
            json!([
                "pain",
                "patient ivan petrov dob 1950-05-17 member id ACM1234"
            ]),
        );
        let f = findings(&v, "default");
        let nec06: Vec<_> = f.iter().filter(|x| x.rule == "NEC-06").collect();
        assert_eq!(nec06.len(), 1, "{f:?}");
        assert_eq!(nec06[0].path, "documentation.indications[1]");
        assert_eq!(
            nec06[0].message,
            "this word is not in the indication vocabulary; it does not count toward necessity"
        );
        for x in &f {
            let text = x.message.to_lowercase();
            for part in ["ivan", "petrov", "1950", "acm1234", "patient i"] {
                assert!(!text.contains(part), "{part} in {x:?}");
            }
        }
    }

    #[test]
    fn indications_are_named_in_messages_by_their_vocabulary_word_only() {
        let v = with(
            "/documentation/indications",
            json!(["Change-In-Appearance", "  Cosmetic ", "crusting"]),
        );
        let f = findings(&v, "strict-commercial");
        let nec07 = f.iter().find(|x| x.rule == "NEC-07").expect("NEC-07");
        assert!(nec07.message.contains("change-in-appearance"), "{nec07:?}");
        let nec04 = f.iter().find(|x| x.rule == "NEC-04").expect("NEC-04");
        assert!(nec04.message.contains("(cosmetic)"), "{nec04:?}");
        assert!(f.iter().all(|x| !x.message.contains("crusting")), "{f:?}");
    }

    #[test]
    fn a_clinical_note_must_back_the_indications() {
        let v = with("/documentation/clinical_notes", json!([]));
        assert_has(&v, "default", "DOC-06:E");
        let v = with(
            "/documentation/clinical_notes/0/text",
            json!("Two milia seen on the right lower lid margin. Vision blurred when blinking."),
        );
        // restricts-vision is mentioned, pain is not.
        let f = findings(&v, "default");
        assert!(
            f.iter()
                .any(|x| x.rule == "DOC-07" && x.path == "documentation.indications[1]"),
            "{f:?}"
        );
        assert!(
            !f.iter()
                .any(|x| x.rule == "DOC-07" && x.path == "documentation.indications[0]"),
            "{f:?}"
        );
    }

    #[test]
    fn symptoms_without_a_supporting_secondary_diagnosis_are_reported() {
        let v = with(
            "/service/diagnoses",
            json!([{"code": "H02.822", "primary": true}]),
        );
        assert_has(&v, "default", "NEC-05:W");
        assert_lacks(&base(), "default", "NEC-05");
    }

    #[test]
    fn photos_are_advised_by_default_and_required_by_the_strict_payer() {
        let v = with("/documentation/photos", json!([]));
        assert_has(&v, "default", "DOC-03:W");
        assert_has(&v, "strict-commercial", "DOC-03:E");
    }

    #[test]
    fn missing_prior_treatment_is_a_warning_for_a_submission() {
        let v = with("/documentation/prior_treatments", json!([]));
        assert_has(&v, "default", "DOC-05:W");
    }

    #[test]
    fn excision_needs_a_reason_over_destruction() {
        let mut v = base();
        v["service"]["procedures"] =
            json!([{"code": "67840", "system": "CPT", "modifiers": ["E4"]}]);
        v["service"]["lesions"]["site"] = json!("right lower eyelid");
        assert_has(&v, "default", "DOC-04:E");
        v["documentation"]["indications"] = json!(["diagnostic-uncertainty"]);
        v["documentation"]["clinical_notes"][0]["text"] =
            json!("Lesion of uncertain nature; rule out carcinoma.");
        assert_lacks(&v, "default", "DOC-04");
    }

    #[test]
    fn dates_are_judged_against_occurred_at() {
        let cases: [(&str, Value, &str); 8] = [
            ("/service/planned_date", json!("2026-11-19"), "DATE-01:E"),
            ("/service/planned_date", json!("2028-01-01"), "DATE-01:W"),
            (
                "/documentation/clinical_notes/0/date",
                json!("2026-11-21"),
                "DATE-01:E",
            ),
            (
                "/documentation/photos/0/taken_on",
                json!("2026-11-21"),
                "DATE-01:E",
            ),
            (
                "/documentation/prior_treatments/0/from",
                json!("2026-11-21"),
                "DATE-01:E",
            ),
            (
                "/documentation/prior_treatments/0/to",
                json!("2026-07-01"),
                "DATE-01:E",
            ),
            ("/patient/birth_date", json!("2026-11-21"), "DATE-01:E"),
            ("/patient/birth_date", json!("1890-01-01"), "DATE-01:E"),
        ];
        for (ptr, val, want) in cases {
            assert_has(&with(ptr, val), "default", want);
        }
        // The same day is fine on both sides.
        assert_lacks(
            &with("/service/planned_date", json!("2026-11-20")),
            "default",
            "DATE-01",
        );
        assert_lacks(
            &with("/documentation/clinical_notes/0/date", json!("2026-11-20")),
            "default",
            "DATE-01",
        );
    }

    #[test]
    fn replaying_an_old_case_gives_the_same_answer_as_on_the_day() {
        // A case from 2019 validated today: nothing is judged against the wall clock.
        let mut v = base();
        v["occurred_at"] = json!("2019-03-01T10:00:00-05:00");
        v["service"]["planned_date"] = json!("2019-03-15");
        v["documentation"]["clinical_notes"][0]["date"] = json!("2019-02-27");
        v["documentation"]["photos"][0]["taken_on"] = json!("2019-02-27");
        v["documentation"]["prior_treatments"][0]["from"] = json!("2018-11-01");
        v["documentation"]["prior_treatments"][0]["to"] = json!("2019-02-01");
        assert!(findings(&v, "default").is_empty());
    }
}
