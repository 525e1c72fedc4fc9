//! The payer simulator's OAuth clients, read from files named on its command line
//! (`--client ID=SECRET_FILE`, `--client-key ID=PEM_FILE`): a secret never appears in the
//! process list.

use std::collections::HashMap;

/// Client secrets by client id, from `ID=SECRET_FILE` entries. A file's trailing line break is
/// not part of the secret; an empty file is refused.
pub fn client_secrets(entries: &[String]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for entry in entries {
        let Some((id, path)) = entry.split_once('=') else {
            return Err(
                "--client expects ID=SECRET_FILE (the secret is read from the file)".into(),
            );
        };
        match std::fs::read_to_string(path) {
            Ok(secret) if !secret.trim().is_empty() => {
                out.insert(
                    id.to_owned(),
                    secret.trim_end_matches(['\r', '\n']).to_owned(),
                );
            }
            Ok(_) => return Err(format!("--client {id}: the secret file {path} is empty")),
            Err(e) => {
                return Err(format!(
                    "--client {id}: cannot read the secret file {path}: {e}"
                ))
            }
        }
    }
    Ok(out)
}

/// Public keys (PEM) of clients that sign their assertions, from `ID=PEM_FILE` entries.
pub fn client_keys(entries: &[String]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for entry in entries {
        let Some((id, path)) = entry.split_once('=') else {
            return Err("--client-key expects ID=PEM_FILE".into());
        };
        let pem = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the public key of client {id} ({path}): {e}"))?;
        out.insert(id.to_owned(), pem);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_secret_comes_from_its_file_without_the_line_break() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret\n").expect("write");
        let got = client_secrets(&[format!("acme={}", path.display())]).expect("read");
        assert_eq!(got["acme"], "s3cret");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").expect("write");
        let err = client_secrets(&[format!("acme={}", empty.display())]).expect_err("empty");
        assert!(err.contains("empty"), "{err}");
        let err = client_secrets(&["acme:s3cret".to_owned()]).expect_err("no file");
        assert!(!err.contains("s3cret"), "{err}");
    }
}
