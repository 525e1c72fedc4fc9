//! Console accounts: add, verify, change, disable, from the library and from the command line.

use std::io::Write;
use std::process::{Command, Stdio};

use preauth_worker::ledger::users::{self, Added, Role};

use crate::support::TestDb;

fn ledger_cmd(db: &TestDb, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_preauth-worker"));
    cmd.arg("ledger").args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PREAUTH")) {
        cmd.env_remove(k);
    }
    cmd.env("PREAUTH__LEDGER__DATABASE_URL", &db.url);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_is_added_verified_changed_and_disabled() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let pw = "correct horse battery staple";
    assert_eq!(
        users::add(&pool, "clerk@example", Role::Staff, pw)
            .await
            .expect("add"),
        Added::Created
    );
    let user = users::verify(&pool, "clerk@example", pw)
        .await
        .expect("verify")
        .expect("the user");
    assert_eq!(
        (user.name.as_str(), user.role, user.disabled),
        ("clerk@example", Role::Staff, false)
    );
    assert!(users::verify(&pool, "clerk@example", "wrong password!!")
        .await
        .expect("verify")
        .is_none());
    assert!(users::verify(&pool, "nobody", pw)
        .await
        .expect("verify")
        .is_none());
    assert!(users::verify(&pool, "not a name!", pw)
        .await
        .expect("verify")
        .is_none());
    let stored: String =
        sqlx::query_scalar("SELECT password_hash FROM ledger_users WHERE name = 'clerk@example'")
            .fetch_one(&pool)
            .await
            .expect("hash");
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains(pw));
    // A session, ended by a change of password and role.
    sqlx::query("INSERT INTO ledger_sessions (token_hash, user_name, csrf_token, expires_at) VALUES ('\\x01', 'clerk@example', 'c', now() + interval '1 hour')")
        .execute(&pool)
        .await
        .expect("session");
    let new_pw = "another long passphrase";
    assert_eq!(
        users::add(&pool, "clerk@example", Role::Operator, new_pw)
            .await
            .expect("re-add"),
        Added::Updated
    );
    assert!(users::verify(&pool, "clerk@example", pw)
        .await
        .expect("verify")
        .is_none());
    let user = users::verify(&pool, "clerk@example", new_pw)
        .await
        .expect("verify")
        .expect("user");
    assert_eq!(user.role, Role::Operator);
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger_sessions")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(sessions, 0);
    // Disabled: the right password no longer lets it in.
    assert!(users::disable(&pool, "clerk@example")
        .await
        .expect("disable"));
    assert!(users::verify(&pool, "clerk@example", new_pw)
        .await
        .expect("verify")
        .is_none());
    assert!(!users::disable(&pool, "nobody").await.expect("disable"));
    assert!(users::add(&pool, "x", Role::Staff, "short").await.is_err());
    assert!(users::add(&pool, &"n".repeat(65), Role::Staff, pw)
        .await
        .is_err());
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_commands_take_the_password_from_the_environment_or_standard_input_only() {
    let db = TestDb::new().await;
    let out = ledger_cmd(&db, &["user", "add", "op1", "--role", "operator"])
        .env("PREAUTH_LEDGER_PASSWORD", "an operator passphrase")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("added user op1 (operator)"));
    let mut child = ledger_cmd(&db, &["user", "add", "op1", "--role", "staff"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a staff passphrase here\n")
        .expect("write");
    let out = child.wait_with_output().expect("ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("its password and role (staff) were changed")
    );
    let list = ledger_cmd(&db, &["user", "list"]).output().expect("runs");
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.starts_with("op1") && text.contains("staff") && text.contains("enabled"),
        "{text}"
    );
    // The password is never an argument: clap refuses one.
    let out = ledger_cmd(
        &db,
        &["user", "add", "op2", "--role", "staff", "--password", "x"],
    )
    .output()
    .expect("runs");
    assert_eq!(out.status.code(), Some(64));
    let out = ledger_cmd(&db, &["user", "disable", "op1"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let out = ledger_cmd(&db, &["user", "disable", "nobody"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(64));
    let pool = db.pool().await;
    assert!(users::verify(&pool, "op1", "a staff passphrase here")
        .await
        .expect("verify")
        .is_none());
    pool.close().await;
}
