//! The practice-management system's document API (plain http on loopback here, with
//! `allow_insecure_http`): every request carries the bearer token from `token_file`; a store
//! answering 503 is tried again until it hands the bytes over; one that keeps refusing the
//! token fails the case with a reason that names the document store, not the payer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::*;

/// A document API serving the clinic's folder under `/docs/{key}`.
struct Api {
    root: PathBuf,
    token: String,
    /// How many GETs of each document are answered 503 before its bytes.
    unavailable_first: u32,
    gets: Mutex<HashMap<String, u32>>,
    /// The `Authorization` header of every request (HEAD and GET), in order.
    authorizations: Mutex<Vec<String>>,
}

impl Api {
    fn gets(&self, key: &str) -> u32 {
        self.gets
            .lock()
            .expect("lock")
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    fn authorizations(&self) -> Vec<String> {
        self.authorizations.lock().expect("lock").clone()
    }
}

async fn document(
    State(api): State<Arc<Api>>,
    method: Method,
    UrlPath(key): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    api.authorizations
        .lock()
        .expect("lock")
        .push(authorization.clone());
    if authorization != format!("Bearer {}", api.token) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if method == Method::GET {
        let n = {
            let mut gets = api.gets.lock().expect("lock");
            let n = gets.entry(key.clone()).or_insert(0);
            *n += 1;
            *n
        };
        if n <= api.unavailable_first {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    match std::fs::read(api.root.join(&key)) {
        Ok(bytes) => (
            StatusCode::OK,
            [("content-type", "application/octet-stream")],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Serves `api` on a free loopback port; returns the source configuration that points the
/// `pm://attachments/` prefix at it, its token read from `token_file`.
async fn serve(api: Arc<Api>, token_file: &Path) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let addr = listener.local_addr().expect("address");
    let app = Router::new()
        .route("/docs/{*key}", get(document))
        .with_state(api);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!(
        "[attachments.sources.pm]\nprefix = \"pm://attachments/\"\nkind = \"https\"\nbase_url = \"http://{addr}/docs/\"\ntoken_file = \"{}\"\nallow_insecure_http = true\n",
        token_file.display()
    )
}

fn api(clinic: &Clinic, token: &str, unavailable_first: u32) -> Arc<Api> {
    Arc::new(Api {
        root: clinic.root(),
        token: token.to_owned(),
        unavailable_first,
        gets: Mutex::new(HashMap::new()),
        authorizations: Mutex::new(Vec::new()),
    })
}

const TOKEN: &str = "store-token-3f9a1c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_api_answering_503_three_times_is_tried_again_and_the_case_is_approved() {
    let clinic = Clinic::new();
    let token_file = clinic.path().join("store-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token");
    let api = api(&clinic, TOKEN, 3);
    let source = serve(Arc::clone(&api), &token_file).await;
    let sim = payer_sim("default", Scenario::default()).await;
    let cfg = clinic.config(&sim, "default", &source);
    let got = outcomes(&process(&cfg, &[&example(EYELID)], &[]).stdout);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["status"], "approved", "{got:?}");
    assert_eq!(api.gets("IMG-1"), 4, "three 503s, then the bytes");
    let authorizations = api.authorizations();
    assert!(!authorizations.is_empty());
    assert!(
        authorizations
            .iter()
            .all(|a| *a == format!("Bearer {TOKEN}")),
        "every request carried the token from token_file: {authorizations:?}"
    );
    let seen = submits(&sim);
    assert_eq!(
        seen.len(),
        1,
        "the payer was called once, with the photo: {seen:?}"
    );
    assert_eq!(
        of_kind(&seen[0], "photo"),
        vec![clinic.expected("photo", "IMG-1", "image/jpeg")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_api_that_refuses_the_token_fails_the_case_naming_the_store_not_the_payer() {
    let clinic = Clinic::new();
    let token_file = clinic.path().join("store-token");
    std::fs::write(&token_file, "wrong-token-8812\n").expect("token");
    let api = api(&clinic, TOKEN, 0);
    let source = serve(Arc::clone(&api), &token_file).await;
    let sim = payer_sim("default", Scenario::default()).await;
    let cfg = clinic.config(&sim, "default", &source);
    let out = process(
        &cfg,
        &[&example(EYELID)],
        &[
            ("PREAUTH__RETRY__DELAYS", "[\"100ms\", \"100ms\"]"),
            ("RUST_LOG", "debug"),
        ],
    );
    let got = outcomes(&out.stdout);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["status"], "failed", "{got:?}");
    let reasons = serde_json::to_string(&got[0]["reasons"]).expect("json");
    assert!(reasons.contains("document store"), "{reasons}");
    assert!(!reasons.contains("payer stayed unavailable"), "{reasons}");
    assert_eq!(sim.seen(), vec![], "nothing may reach the payer");
    // One try per delivery: the first and one after each of the two delay tiers.
    assert!(
        api.authorizations().len() >= 3,
        "{:?}",
        api.authorizations()
    );
    assert_eq!(
        api.gets("IMG-1"),
        0,
        "every request was refused before it was counted"
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("wrong-token-8812"), "the token was printed");
}

/// An OAuth token endpoint for the document API: client credentials in HTTP Basic, answered
/// with the API's token; counts the tokens it issued.
async fn token_endpoint(State(issued): State<Arc<Mutex<u32>>>, headers: HeaderMap) -> Response {
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("clinic-worker:client-secret-77")
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, "{\"error\":\"invalid_client\"}").into_response();
    }
    *issued.lock().expect("lock") += 1;
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        format!("{{\"access_token\":\"{TOKEN}\",\"token_type\":\"Bearer\",\"expires_in\":300}}"),
    )
        .into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_api_behind_oauth_client_credentials_gets_a_token_then_the_documents() {
    let clinic = Clinic::new();
    let api = api(&clinic, TOKEN, 0);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let addr = listener.local_addr().expect("address");
    let issued = Arc::new(Mutex::new(0));
    let tokens = Router::new()
        .route("/token", axum::routing::post(token_endpoint))
        .with_state(Arc::clone(&issued));
    let docs = Router::new()
        .route("/docs/{*key}", get(document))
        .with_state(Arc::clone(&api));
    tokio::spawn(async move { axum::serve(listener, docs.merge(tokens)).await });
    let secret_file = clinic.path().join("client-secret");
    std::fs::write(&secret_file, "client-secret-77\n").expect("secret");
    let source = format!(
        "[attachments.sources.pm]\nprefix = \"pm://attachments/\"\nkind = \"https\"\nbase_url = \"http://{addr}/docs/\"\ntoken_url = \"http://{addr}/token\"\nclient_id = \"clinic-worker\"\nclient_secret_file = \"{}\"\nallow_insecure_http = true\n",
        secret_file.display()
    );
    let sim = payer_sim("default", Scenario::default()).await;
    let cfg = clinic.config(&sim, "default", &source);
    let out = process(&cfg, &[&example(EYELID)], &[]);
    let got = outcomes(&out.stdout);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["status"], "approved", "{got:?}");
    assert_eq!(*issued.lock().expect("lock"), 1, "one token, reused");
    assert!(api.gets("IMG-1") >= 1);
    assert!(api
        .authorizations()
        .iter()
        .all(|a| *a == format!("Bearer {TOKEN}")));
    let all = String::from_utf8_lossy(&out.stderr);
    assert!(!all.contains("client-secret-77"), "the secret was printed");
}
