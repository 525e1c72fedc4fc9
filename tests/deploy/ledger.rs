//! The ledger's Kubernetes manifests (deploy/kubernetes/ledger.yaml): a Deployment of its own,
//! its ports where its configuration says, Secrets that exist, the console behind TLS only, the
//! ops port to Prometheus only.

use super::*;

fn kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

#[test]
fn the_ledger_runs_apart_from_the_workers_with_its_ports_secrets_and_console_behind_tls() {
    let docs = yaml_docs(&deploy("kubernetes/ledger.yaml"));
    let worker = yaml_doc("kubernetes/deployment.yaml");
    let secrets: BTreeMap<String, BTreeSet<String>> =
        yaml_docs(&deploy("kubernetes/secret-example.yaml"))
            .iter()
            .map(|s| {
                let keys = s["stringData"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k.clone())
                    .collect();
                (str_of(&s["metadata"]["name"]).to_owned(), keys)
            })
            .collect();
    let mut problems = Vec::new();
    let deployments = kind(&docs, "Deployment");
    let [deployment] = deployments.as_slice() else {
        panic!(
            "ledger.yaml holds one Deployment, not {}",
            deployments.len()
        );
    };
    let pod = &deployment["spec"]["template"];
    let labels = &pod["metadata"]["labels"];
    // Apart from the workers: neither selects the other's pods.
    let name_label = |v: &Value| str_of(&v["app.kubernetes.io/name"]).to_owned();
    if name_label(&deployment["spec"]["selector"]["matchLabels"])
        == name_label(&worker["spec"]["selector"]["matchLabels"])
    {
        problems.push("the ledger's selector is the worker's".into());
    }
    if name_label(labels) != name_label(&deployment["spec"]["selector"]["matchLabels"]) {
        problems.push("the ledger's pods do not carry its selector's label".into());
    }
    let container = &pod["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .into_iter()
        .flatten()
        .map(str_of)
        .collect();
    if args.first().copied() != Some("ledger") || args.get(1).copied() != Some("run") {
        problems.push(format!("the container does not run `ledger run`: {args:?}"));
    }
    // Ports: where the ConfigMap's ledger.toml listens.
    let configmap = kind(&docs, "ConfigMap")
        .first()
        .map(|c| str_of(&c["data"]["ledger.toml"]).to_owned())
        .unwrap_or_default();
    let toml: toml::Table = toml::from_str(&configmap).expect("ledger.toml");
    let port_of = |section: &str, key: &str| {
        toml.get(section)
            .and_then(|s| s.get(key))
            .and_then(toml::Value::as_str)
            .and_then(|l| l.rsplit(':').next())
            .and_then(|p| p.parse::<u64>().ok())
    };
    let ports: BTreeMap<String, u64> = container["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["name"].as_str()?.to_owned(), p["containerPort"].as_u64()?)))
        .collect();
    if ports.get("ops").copied() != port_of("ledger", "ops_listen") {
        problems.push("the port `ops` is not ledger.ops_listen".into());
    }
    if ports.get("console").copied() != port_of("console", "listen") {
        problems.push("the port `console` is not console.listen".into());
    }
    if toml
        .get("console")
        .and_then(|c| c.get("secure_cookies"))
        .and_then(toml::Value::as_bool)
        != Some(true)
    {
        problems.push("the console's cookies are not Secure".into());
    }
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        if container[probe]["httpGet"]["port"] != "ops" {
            problems.push(format!("{probe} is not on the ops port"));
        }
    }
    // Secrets: every reference exists; the database URL and the key come from Secrets.
    let mut from_secrets = BTreeSet::new();
    for env in container["env"].as_array().into_iter().flatten() {
        let r = &env["valueFrom"]["secretKeyRef"];
        if r.is_object() {
            from_secrets.insert(str_of(&env["name"]).to_owned());
            if !secrets
                .get(str_of(&r["name"]))
                .is_some_and(|k| k.contains(str_of(&r["key"])))
            {
                problems.push(format!(
                    "env {} reads a Secret key that secret-example.yaml does not define",
                    str_of(&env["name"])
                ));
            }
        }
    }
    for var in ["PREAUTH__LEDGER__DATABASE_URL", "PREAUTH__AMQP__URL"] {
        if !from_secrets.contains(var) {
            problems.push(format!("{var} does not come from a Secret"));
        }
    }
    if configmap.contains("postgres://") || configmap.contains("amqp") {
        problems.push("a URL is in the ConfigMap".into());
    }
    let key_file = toml
        .get("security")
        .and_then(|s| s.get("key_file"))
        .and_then(toml::Value::as_str)
        .unwrap_or_default();
    let key_mounted = container["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| key_file.starts_with(str_of(&m["mountPath"])) && m["readOnly"] == true);
    if !key_mounted {
        problems.push(format!(
            "security.key_file {key_file:?} is not in a read-only mount"
        ));
    }
    // The console: a Service on its port, an Ingress with TLS to that Service only.
    let services = kind(&docs, "Service");
    let service = services.first().expect("a Service");
    for p in service["spec"]["ports"].as_array().into_iter().flatten() {
        if p["targetPort"] != "console" {
            problems.push("the Service exposes more than the console".into());
        }
    }
    for ing in kind(&docs, "Ingress") {
        if ing["spec"]["tls"].as_array().is_none_or(|t| t.is_empty()) {
            problems.push("the console's Ingress has no TLS".into());
        }
        for rule in ing["spec"]["rules"].as_array().into_iter().flatten() {
            for path in rule["http"]["paths"].as_array().into_iter().flatten() {
                if path["backend"]["service"]["name"] != service["metadata"]["name"] {
                    problems.push("the Ingress routes elsewhere than the console".into());
                }
            }
        }
    }
    // Prometheus scrapes the ops port's /metrics.
    let annotations = &pod["metadata"]["annotations"];
    if annotations["prometheus.io/scrape"] != "true"
        || annotations["prometheus.io/path"] != "/metrics"
        || Some(str_of(&annotations["prometheus.io/port"]))
            != ports.get("ops").map(|p| p.to_string()).as_deref()
    {
        problems
            .push("the pod's prometheus.io annotations are not /metrics on the ops port".into());
    }
    // Network policies select the ledger's pods; nothing but the ingress controller reaches
    // the console, nothing but the monitoring namespace the ops port.
    let mut allowed_in: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for policy in kind(&docs, "NetworkPolicy") {
        if name_label(&policy["spec"]["podSelector"]["matchLabels"]) != name_label(labels) {
            problems.push(format!(
                "NetworkPolicy {} does not select the ledger",
                str_of(&policy["metadata"]["name"])
            ));
        }
        for rule in policy["spec"]["ingress"].as_array().into_iter().flatten() {
            let from: Vec<&str> = rule["from"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| {
                    str_of(&f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
                })
                .collect();
            if from.is_empty() {
                problems.push("an ingress rule admits everyone".into());
            }
            for port in rule["ports"].as_array().into_iter().flatten() {
                allowed_in
                    .entry(str_of(&port["port"]).to_owned())
                    .or_default()
                    .extend(from.iter().map(|f| (*f).to_owned()));
            }
        }
    }
    let expected: BTreeMap<String, BTreeSet<String>> =
        [("console", "ingress-nginx"), ("ops", "monitoring")]
            .into_iter()
            .map(|(port, ns)| (port.to_owned(), BTreeSet::from([ns.to_owned()])))
            .collect();
    if allowed_in != expected {
        problems.push(format!(
            "the ledger's ports are open to {allowed_in:?}, expected {expected:?}"
        ));
    }
    assert_none(&problems);
}
