use super::*;

const WEEK: Duration = Duration::from_secs(7 * 86_400);

fn settings() -> SubscriptionSettings {
    SubscriptionSettings {
        endpoint: "https://worker.example/pas/notify/acme".into(),
        org_identifier: "N123456".into(),
        heartbeat_period: Some(Duration::from_secs(600)),
        fallback: Fallback::Poll,
        safety_inquiry_after: Duration::from_secs(3 * 86_400),
        safety_inquiries: 4,
    }
}

#[test]
fn the_subscription_is_a_pas_subscription_filtered_by_the_sending_system() {
    let s = settings();
    let id = subscription_id("acme", &s);
    let r = subscription_resource(&id, &s, "Bearer abc");
    assert_eq!(r["resourceType"], "Subscription");
    assert_eq!(r["status"], "requested");
    assert_eq!(r["criteria"], PAS_TOPIC);
    assert_eq!(r["_criteria"]["extension"][0]["url"], FILTER_CRITERIA_EXT);
    assert_eq!(
        r["_criteria"]["extension"][0]["valueString"],
        "org-identifier=N123456"
    );
    assert_eq!(r["channel"]["type"], "rest-hook");
    assert_eq!(r["channel"]["endpoint"], s.endpoint);
    assert_eq!(r["channel"]["payload"], "application/fhir+json");
    assert_eq!(
        r["channel"]["_payload"]["extension"][0]["valueCode"],
        "full-resource"
    );
    assert_eq!(r["channel"]["header"][0], "Authorization: Bearer abc");
    assert_eq!(r["channel"]["extension"][0]["valueUnsignedInt"], 600);
    assert_eq!(r["meta"]["profile"][0], PAS_SUBSCRIPTION_PROFILE);
}

#[test]
fn every_worker_writes_the_same_subscription_id_for_the_same_payer_and_endpoint() {
    let s = settings();
    let id = subscription_id("acme", &s);
    assert_eq!(id, subscription_id("acme", &s));
    assert_ne!(id, subscription_id("other", &s));
    let mut moved = s.clone();
    moved.endpoint = "https://elsewhere.example/pas/notify/acme".into();
    assert_ne!(id, subscription_id("acme", &moved));
    assert!(id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
}

#[test]
fn a_subscription_table_that_cannot_work_names_its_key() {
    let ok = settings();
    assert_eq!(settings_problem(&ok, false, WEEK), None);
    let mut plain = ok.clone();
    plain.endpoint = "http://worker.example/pas/notify/acme".into();
    assert_eq!(
        settings_problem(&plain, false, WEEK).map(|p| p.0),
        Some("endpoint")
    );
    assert_eq!(settings_problem(&plain, true, WEEK), None);
    let mut list = ok.clone();
    list.org_identifier = "N1,N2".into();
    assert_eq!(
        settings_problem(&list, false, WEEK).map(|p| p.0),
        Some("org_identifier")
    );
    let mut long = ok.clone();
    long.safety_inquiry_after = Duration::from_secs(30 * 86_400);
    assert_eq!(
        settings_problem(&long, false, WEEK).map(|p| p.0),
        Some("safety_inquiry_after")
    );
    let mut none = ok;
    none.safety_inquiries = 0;
    assert_eq!(
        settings_problem(&none, false, WEEK).map(|p| p.0),
        Some("safety_inquiries")
    );
}

#[test]
fn pended_requests_wait_for_notifications_only_while_the_subscription_is_active_or_told_to() {
    let status = SubscriptionStatus::new("acme", settings());
    assert_eq!(status.state(), SubscriptionState::Unknown);
    assert!(!status.awaits_notifications());
    status.set(SubscriptionState::Requested);
    assert!(!status.awaits_notifications());
    status.set(SubscriptionState::Active);
    assert!(status.awaits_notifications());
    status.set(SubscriptionState::Error);
    assert!(!status.awaits_notifications());
    let mut waiting = settings();
    waiting.fallback = Fallback::Wait;
    assert!(SubscriptionStatus::new("acme", waiting).awaits_notifications());
}
