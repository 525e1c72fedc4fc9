//! The Dockerfile and the compose file.

use super::*;

/// One Dockerfile instruction: its name, its leading `--flags` and the rest.
struct Instruction {
    name: String,
    flags: Vec<String>,
    args: String,
}

fn dockerfile() -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in read(&deploy("Dockerfile")).lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let text = std::mem::take(&mut current);
                let (name, mut rest) = text.split_once(char::is_whitespace).unwrap_or((&text, ""));
                let mut flags = Vec::new();
                loop {
                    rest = rest.trim_start();
                    if !rest.starts_with("--") {
                        break;
                    }
                    let (flag, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                    flags.push(flag.to_owned());
                    rest = after;
                }
                out.push(Instruction {
                    name: name.to_ascii_uppercase(),
                    flags,
                    args: rest.trim().to_owned(),
                });
            }
        }
    }
    out
}

#[test]
fn the_dockerfile_builds_the_worker_in_two_stages_and_runs_it_as_a_non_root_user() {
    let all = dockerfile();
    let froms: Vec<usize> = (0..all.len()).filter(|i| all[*i].name == "FROM").collect();
    let mut problems = Vec::new();
    assert!(froms.len() >= 2, "expected a multi-stage build (two FROM)");
    let image = |i: usize| all[i].args.split_whitespace().next().unwrap_or_default();
    if image(froms[0]) != "rust:1.95-bookworm" {
        problems.push(format!("builder image is {}", image(froms[0])));
    }
    let last = *froms.last().expect("a FROM");
    if image(last) != "debian:bookworm-slim" {
        problems.push(format!("runtime image is {}", image(last)));
    }
    let (builder, runtime) = all.split_at(last);
    let final_one = |name: &str| runtime.iter().rev().find(|c| c.name == name);
    if final_one("USER").is_none_or(|u| u.args.split(':').next() != Some("10001")) {
        problems.push("the runtime stage must run as USER 10001".into());
    }
    let exec_form = |name: &str| {
        final_one(name).and_then(|c| serde_json::from_str::<Vec<String>>(&c.args).ok())
    };
    if exec_form("ENTRYPOINT") != Some(vec!["preauth-worker".to_owned()]) {
        problems.push(r#"ENTRYPOINT must be ["preauth-worker"] (exec form)"#.into());
    }
    if exec_form("CMD") != Some(vec!["run".to_owned()]) {
        problems.push(r#"CMD must be ["run"] (exec form)"#.into());
    }
    if !runtime
        .iter()
        .any(|c| c.name == "EXPOSE" && c.args.split_whitespace().any(|p| p == "9464"))
    {
        problems.push("EXPOSE 9464 missing".into());
    }
    if !runtime
        .iter()
        .any(|c| c.name == "ENV" && c.args.starts_with("PREAUTH__OPS__LISTEN"))
    {
        problems.push("ENV PREAUTH__OPS__LISTEN missing".into());
    }
    if !runtime
        .iter()
        .any(|c| c.name == "COPY" && c.args.ends_with("/usr/local/bin/preauth-worker"))
    {
        problems.push("the binary is not copied to /usr/local/bin/preauth-worker".into());
    }
    if !builder.iter().any(|c| {
        c.name == "RUN"
            && c.args.contains("cargo build")
            && c.args.contains("--locked")
            && c.args.contains("--release")
    }) {
        problems.push("the builder must run cargo build --release --locked".into());
    }
    // What the crate reads at compile time is copied into the builder: the ledger's embedded
    // migrations and the console's templates as well as src/ and config/.
    let copied: Vec<&str> = builder
        .iter()
        .filter(|c| c.name == "COPY" && !c.flags.iter().any(|f| f.starts_with("--from")))
        .flat_map(|c| {
            let parts: Vec<&str> = c.args.split_whitespace().collect();
            parts[..parts.len().saturating_sub(1)].to_vec()
        })
        .collect();
    let sources =
        read(&root().join("src/ledger/db.rs")) + &read(&root().join("src/console/views.rs"));
    for (needle, dir) in [
        ("sqlx::migrate!", "migrations"),
        ("#[template(", "templates"),
        ("", "src"),
        ("", "config"),
    ] {
        if sources.contains(needle) && !copied.contains(&dir) {
            problems.push(format!(
                "the builder stage does not COPY {dir}/, which the build reads"
            ));
        }
    }
    // Every COPY source of the builder stage (context: the repository root) exists.
    for c in builder.iter().filter(|c| c.name == "COPY") {
        if c.flags.iter().any(|f| f.starts_with("--from")) {
            continue;
        }
        let parts: Vec<&str> = c.args.split_whitespace().collect();
        for src in &parts[..parts.len().saturating_sub(1)] {
            if !root().join(src).exists() {
                problems.push(format!(
                    "COPY source {src} does not exist in the repository"
                ));
            }
        }
    }
    assert_none(&problems);
}

#[test]
fn compose_services_are_hardened_and_take_the_password_and_the_key_from_the_environment() {
    let raw = read(&deploy("compose.yaml"));
    let compose = yaml_doc("compose.yaml");
    let mut problems = Vec::new();
    let guest = regex::Regex::new(r"\bguest\b").expect("regex");
    if guest.is_match(&raw) {
        problems.push("compose.yaml mentions the guest user".to_owned());
    }
    let url_password = regex::Regex::new(r#"://([^:/@\s"']+):([^@\s"']+)@"#).expect("regex");
    for m in url_password.captures_iter(&raw) {
        if !m[2].starts_with("${") {
            problems.push(format!("a URL with a literal password: {}", &m[0]));
        }
    }
    let default_pass = regex::Regex::new(r"RABBITMQ_DEFAULT_PASS:\s*(\S.*)").expect("regex");
    for m in default_pass.captures_iter(&raw) {
        if !m[1].trim_matches(['"', '\'']).starts_with("${") {
            problems.push("RABBITMQ_DEFAULT_PASS is a literal, not from the environment".into());
        }
    }
    let services = compose["services"].as_object().expect("services");
    for (name, svc) in services {
        if svc["read_only"] != Value::Bool(true) {
            problems.push(format!("{name}: read_only is not true"));
        }
        if !svc["cap_drop"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x == "ALL"))
        {
            problems.push(format!("{name}: cap_drop does not contain ALL"));
        }
        if !svc["security_opt"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x == "no-new-privileges:true"))
        {
            problems.push(format!("{name}: security_opt lacks no-new-privileges:true"));
        }
        if svc["mem_limit"].is_null() && svc["deploy"]["resources"]["limits"]["memory"].is_null() {
            problems.push(format!("{name}: no memory limit"));
        }
        if svc["tmpfs"].as_array().is_none_or(|t| t.is_empty()) {
            problems.push(format!(
                "{name}: no tmpfs for what it writes (its root file system is read-only)"
            ));
        }
        for port in svc["ports"].as_array().into_iter().flatten() {
            let host_ip = match port {
                Value::Object(long) => long.get("host_ip").map(str_of).map(str::to_owned),
                short => {
                    let s = short
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or(short.to_string());
                    (s.matches(':').count() == 2)
                        .then(|| s.split(':').next().unwrap_or("").to_owned())
                }
            };
            if host_ip.as_deref() != Some("127.0.0.1") {
                problems.push(format!(
                    "{name}: port {port} is not published on 127.0.0.1 only"
                ));
            }
        }
    }
    let worker = &compose["services"]["worker"];
    let targets: Vec<String> = worker["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| match p {
            Value::Object(long) => long.get("target").map(Value::to_string).unwrap_or_default(),
            short => str_of(short)
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
        })
        .collect();
    if !targets.iter().any(|t| t == "9464") {
        problems.push("worker: the ops port 9464 is not published".into());
    }
    let worker_toml: toml::Table =
        toml::from_str(&read(&deploy("config/worker.toml"))).expect("worker.toml");
    let key_file = worker_toml
        .get("security")
        .and_then(|s| s.get("key_file"))
        .and_then(toml::Value::as_str)
        .unwrap_or_default();
    let mounted: BTreeSet<String> = worker["secrets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| match s {
            Value::Object(long) => format!(
                "/run/secrets/{}",
                long.get("target")
                    .or(long.get("source"))
                    .map(str_of)
                    .unwrap_or_default()
            ),
            short => format!("/run/secrets/{}", str_of(short)),
        })
        .collect();
    if !mounted.contains(key_file) {
        problems.push(format!(
            "config/worker.toml: security.key_file {key_file} is not a secret compose mounts {mounted:?}"
        ));
    }
    // The secrets compose mounts come from required variables, never from the file.
    for (name, secret) in compose["secrets"].as_object().into_iter().flatten() {
        if !str_of(&secret["file"]).starts_with("${") || !str_of(&secret["file"]).contains(":?") {
            problems.push(format!(
                "secret {name} is not read from a required variable"
            ));
        }
    }
    assert_none(&problems);
}
