//! OAuth 2.0 client credentials for payer APIs: a client secret (HTTP Basic), or SMART Backend
//! Services (a signed JWT client assertion, RS384 or ES384). The token is cached until shortly
//! before it expires. Secrets come from files or environment variables and are never printed.

/// The largest token endpoint answer read.
const TOKEN_RESPONSE_LIMIT: usize = 64 * 1024;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::super::PayerError;

/// Renew a token this long before the payer says it expires (or a fifth of its life, if shorter).
const EARLY_RENEWAL: Duration = Duration::from_secs(30);
/// SMART: a client assertion lives at most five minutes.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(300);

/// How the worker proves who it is to the payer's token endpoint.
pub enum Credentials {
    /// `client_secret_basic`.
    Secret {
        client_id: String,
        secret: SecretString,
    },
    /// SMART Backend Services: `private_key_jwt` with RS384 or ES384.
    PrivateKey {
        client_id: String,
        key: EncodingKey,
        algorithm: Algorithm,
        key_id: Option<String>,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Secret { client_id, .. } => {
                write!(f, "Secret {{ client_id: {client_id:?}, secret: *** }}")
            }
            Credentials::PrivateKey {
                client_id,
                algorithm,
                ..
            } => {
                write!(
                    f,
                    "PrivateKey {{ client_id: {client_id:?}, algorithm: {algorithm:?}, key: *** }}"
                )
            }
        }
    }
}

/// Why credentials could not be loaded. Never carries the secret itself.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    #[error("environment variable {0} is empty")]
    EmptyEnv(String),
    #[error("cannot read {path}: {message}")]
    File { path: String, message: String },
    #[error("{path} is empty")]
    EmptyFile { path: String },
    #[error("{path} is not an RSA or EC private key in PEM form")]
    Key { path: String },
}

impl Credentials {
    /// A client secret from an environment variable.
    pub fn secret_from_env(client_id: &str, var: &str) -> Result<Self, CredentialError> {
        let secret = std::env::var(var).map_err(|_| CredentialError::MissingEnv(var.to_owned()))?;
        if secret.trim().is_empty() {
            return Err(CredentialError::EmptyEnv(var.to_owned()));
        }
        Ok(Self::Secret {
            client_id: client_id.to_owned(),
            secret: SecretString::from(secret.trim().to_owned()),
        })
    }

    /// A client secret from a file (trailing newline ignored).
    pub fn secret_from_file(client_id: &str, path: &Path) -> Result<Self, CredentialError> {
        let secret = std::fs::read_to_string(path).map_err(|e| CredentialError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if secret.trim().is_empty() {
            return Err(CredentialError::EmptyFile {
                path: path.display().to_string(),
            });
        }
        Ok(Self::Secret {
            client_id: client_id.to_owned(),
            secret: SecretString::from(secret.trim().to_owned()),
        })
    }

    /// A PEM private key: RSA signs RS384, EC (P-384) signs ES384.
    pub fn private_key_from_file(client_id: &str, path: &Path) -> Result<Self, CredentialError> {
        let pem = std::fs::read(path).map_err(|e| CredentialError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let (key, algorithm) = if let Ok(k) = EncodingKey::from_rsa_pem(&pem) {
            (k, Algorithm::RS384)
        } else if let Ok(k) = EncodingKey::from_ec_pem(&pem) {
            (k, Algorithm::ES384)
        } else {
            return Err(CredentialError::Key {
                path: path.display().to_string(),
            });
        };
        let key_id = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned);
        Ok(Self::PrivateKey {
            client_id: client_id.to_owned(),
            key,
            algorithm,
            key_id,
        })
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(serde::Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    iat: u64,
    jti: String,
}

struct Cached {
    token: SecretString,
    renew_at: SystemTime,
}

/// Fetches and caches access tokens from one token endpoint.
pub struct TokenSource {
    http: reqwest::Client,
    token_url: String,
    scope: Option<String>,
    credentials: Credentials,
    cache: Mutex<Option<Cached>>,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenSource {
    pub fn new(
        http: reqwest::Client,
        token_url: String,
        scope: Option<String>,
        credentials: Credentials,
    ) -> Self {
        Self {
            http,
            token_url,
            scope,
            credentials,
            cache: Mutex::new(None),
        }
    }

    /// A valid access token: the cached one, or a new one when it is about to expire.
    pub async fn token(&self) -> Result<SecretString, PayerError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            if SystemTime::now() < c.renew_at {
                return Ok(c.token.clone());
            }
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    /// Forgets the cached token (the payer answered 401 with it).
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    async fn fetch(&self) -> Result<Cached, PayerError> {
        let mut form: Vec<(&str, String)> = vec![("grant_type", "client_credentials".to_owned())];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope.clone()));
        }
        let request = match &self.credentials {
            Credentials::Secret { client_id, secret } => self
                .http
                .post(&self.token_url)
                .basic_auth(client_id, Some(secret.expose_secret())),
            Credentials::PrivateKey {
                client_id,
                key,
                algorithm,
                key_id,
            } => {
                let now = SystemTime::now();
                let claims = AssertionClaims {
                    iss: client_id,
                    sub: client_id,
                    aud: &self.token_url,
                    iat: unix(now),
                    exp: unix(now + ASSERTION_LIFETIME),
                    jti: uuid::Uuid::new_v4().to_string(),
                };
                let mut header = Header::new(*algorithm);
                header.typ = Some("JWT".to_owned());
                header.kid = key_id.clone();
                let assertion = jsonwebtoken::encode(&header, &claims, key).map_err(|e| {
                    PayerError::Refused {
                        detail: format!("cannot sign the client assertion: {e}"),
                        reasons: vec![],
                    }
                })?;
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                ));
                form.push(("client_assertion", assertion));
                self.http.post(&self.token_url)
            }
        };
        let response = request
            .headers(super::trace::trace_headers(&tracing::Span::current()))
            .form(&form)
            .send()
            .await
            .map_err(|e| PayerError::Transient {
                retry_after: None,
                detail: format!("token endpoint unreachable: {}", e.without_url()),
            })?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            return Err(PayerError::Transient {
                retry_after: None,
                detail: format!("token endpoint answered {status}"),
            });
        }
        if !status.is_success() {
            // The body of an OAuth error names the error (invalid_client …); it holds no secret.
            let body = super::body::read_bounded(response, TOKEN_RESPONSE_LIMIT)
                .await
                .unwrap_or_default();
            // Only an OAuth error code (RFC 6749: a short ASCII token) is repeated.
            let error = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .filter(|e| {
                    e.len() <= 40 && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                })
                .unwrap_or_default();
            return Err(PayerError::Refused {
                detail: format!("token endpoint refused the credentials ({status} {error})"),
                reasons: vec![],
            });
        }
        let body = super::body::read_bounded(response, TOKEN_RESPONSE_LIMIT).await?;
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|_| PayerError::Transient {
                retry_after: None,
                detail: "token endpoint answered without a token".to_owned(),
            })?;
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(300));
        Ok(Cached {
            token: SecretString::from(parsed.access_token),
            renew_at: SystemTime::now() + lifetime.saturating_sub(EARLY_RENEWAL.min(lifetime / 5)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_print_their_secret() {
        let c = Credentials::Secret {
            client_id: "clinic".into(),
            secret: SecretString::from("hunter2".to_owned()),
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("clinic"),
            "{shown}"
        );
    }

    #[test]
    fn a_missing_secret_variable_is_named_without_a_value() {
        let err = Credentials::secret_from_env("clinic", "PREAUTH_TEST_SURELY_UNSET_VAR")
            .expect_err("unset");
        assert!(err.to_string().contains("PREAUTH_TEST_SURELY_UNSET_VAR"));
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key.pem");
        std::fs::write(&path, "not a key").expect("write");
        assert!(matches!(
            Credentials::private_key_from_file("c", &path),
            Err(CredentialError::Key { .. })
        ));
    }
}
