//! The Kubernetes manifests and the KEDA scaler.

use super::*;

/// leaves it a string).
fn file_mode(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) if s.starts_with("0o") => u64::from_str_radix(&s[2..], 8).ok(),
        Value::String(s) if s.starts_with('0') => u64::from_str_radix(s, 8).ok(),
        other => other.as_u64(),
    }
}

/// A container port by name, or the number itself.
fn port_number(ports: &BTreeMap<String, u64>, port: &Value) -> Option<u64> {
    match port {
        Value::String(name) => ports.get(name).copied(),
        other => other.as_u64(),
    }
}

#[test]
fn kubernetes_ports_secrets_key_file_and_network_policies_agree() {
    let deployment = yaml_doc("kubernetes/deployment.yaml");
    let pod = &deployment["spec"]["template"];
    let labels = pod["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let container = &pod["spec"]["containers"][0];
    let ports: BTreeMap<String, u64> = container["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["name"].as_str()?.to_owned(), p["containerPort"].as_u64()?)))
        .collect();
    let worker_toml: toml::Table = toml::from_str(&configmap_worker_toml()).expect("worker.toml");
    let secret_docs = yaml_docs(&deploy("kubernetes/secret-example.yaml"));
    let secrets: BTreeMap<String, BTreeSet<String>> = secret_docs
        .iter()
        .map(|s| {
            let mut keys = BTreeSet::new();
            for section in ["stringData", "data"] {
                keys.extend(
                    s[section]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, _)| k.clone()),
                );
            }
            (str_of(&s["metadata"]["name"]).to_owned(), keys)
        })
        .collect();
    let selects = |selector: &Value| {
        selector["matchLabels"]
            .as_object()
            .into_iter()
            .flatten()
            .all(|(k, v)| labels.get(k) == Some(v))
    };
    let listen_port = |section: &str| {
        worker_toml
            .get(section)
            .and_then(|s| s.get("listen"))
            .and_then(toml::Value::as_str)
            .map(|l| l.rsplit(':').next().and_then(|p| p.parse::<u64>().ok()))
    };
    let ops = ports.get("ops").copied();
    let notifications = ports.get("notifications").copied();
    let mut problems = Vec::new();

    // The two ports.
    if ops != Some(9464) {
        problems.push(format!(
            "the Deployment's port `ops` is {ops:?}, expected 9464"
        ));
    }
    match notifications {
        None => problems.push("the Deployment has no port named `notifications`".into()),
        Some(n) if Some(n) == ops => problems.push("notifications and ops share a port".into()),
        Some(_) => {}
    }
    if listen_port("notifications").flatten() != notifications {
        problems.push(format!(
            "ConfigMap notifications.listen is not the container port `notifications` ({notifications:?})"
        ));
    }
    if let Some(port) = listen_port("ops") {
        if port != ops {
            problems.push("ConfigMap ops.listen is not the container port `ops`".into());
        }
    }
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let get = &container[probe]["httpGet"];
        if port_number(&ports, &get["port"]) != ops
            || !["/livez", "/readyz"].contains(&str_of(&get["path"]))
        {
            problems.push(format!("{probe} is not /livez or /readyz on the ops port"));
        }
    }
    let prometheus_port = &pod["metadata"]["annotations"]["prometheus.io/port"];
    if !prometheus_port.is_null()
        && Some(str_of(prometheus_port).to_owned()) != ops.map(|p| p.to_string())
    {
        problems.push("prometheus.io/port is not the ops port".into());
    }

    // Secrets: every reference names a Secret and key of secret-example.yaml.
    for env in container["env"].as_array().into_iter().flatten() {
        let r = &env["valueFrom"]["secretKeyRef"];
        if r.is_object()
            && !secrets
                .get(str_of(&r["name"]))
                .is_some_and(|keys| keys.contains(str_of(&r["key"])))
        {
            problems.push(format!(
                "env {} reads {}/{}, which secret-example.yaml does not define",
                str_of(&env["name"]),
                str_of(&r["name"]),
                str_of(&r["key"])
            ));
        }
    }
    let volumes: BTreeMap<&str, &Value> = pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (str_of(&v["name"]), v))
        .collect();
    let mut mounts: BTreeMap<String, (String, Option<u64>)> = BTreeMap::new();
    for m in container["volumeMounts"].as_array().into_iter().flatten() {
        let Some(v) = volumes.get(str_of(&m["name"])) else {
            problems.push(format!(
                "volumeMount {} names no volume",
                str_of(&m["name"])
            ));
            continue;
        };
        let secret = &v["secret"];
        if !secret.is_object() {
            continue;
        }
        let name = str_of(&secret["secretName"]).to_owned();
        let keys = secrets.get(&name).cloned().unwrap_or_default();
        if !secrets.contains_key(&name) {
            problems.push(format!(
                "volume {} mounts Secret {name}, which secret-example.yaml does not define",
                str_of(&m["name"])
            ));
        }
        let files: Vec<(String, String)> = match secret["items"].as_array() {
            Some(items) => items
                .iter()
                .map(|i| (str_of(&i["path"]).to_owned(), str_of(&i["key"]).to_owned()))
                .collect(),
            None => keys.iter().map(|k| (k.clone(), k.clone())).collect(),
        };
        for (path, key) in files {
            if !keys.contains(&key) {
                problems.push(format!(
                    "volume {} maps key {key}, which Secret {name} does not have",
                    str_of(&m["name"])
                ));
            }
            mounts.insert(
                format!("{}/{path}", str_of(&m["mountPath"]).trim_end_matches('/')),
                (name.clone(), file_mode(&secret["defaultMode"])),
            );
        }
        if m["readOnly"] != Value::Bool(true) {
            problems.push(format!(
                "Secret volume {} is not mounted read-only",
                str_of(&m["name"])
            ));
        }
    }
    let key_file = worker_toml
        .get("security")
        .and_then(|s| s.get("key_file"))
        .and_then(toml::Value::as_str)
        .unwrap_or_default();
    match mounts.get(key_file) {
        None => problems.push(format!(
            "security.key_file {key_file:?} is not a file of a mounted Secret ({:?})",
            mounts.keys().collect::<Vec<_>>()
        )),
        Some((name, mode)) => {
            let fs_group = &pod["spec"]["securityContext"]["fsGroup"];
            if mode.is_none_or(|m| m & 0o007 != 0) || fs_group.is_null() {
                problems.push(format!(
                    "the key file's Secret {name} is readable beyond the worker (defaultMode {mode:?}, fsGroup {fs_group})"
                ));
            }
        }
    }

    // The document store's token: a file of a mounted Secret too.
    let token_file = worker_toml
        .get("attachments")
        .and_then(|a| a.get("sources"))
        .and_then(|s| s.get("pm"))
        .and_then(|s| s.get("token_file"))
        .and_then(toml::Value::as_str)
        .unwrap_or_default();
    if !mounts.contains_key(token_file) {
        problems.push(format!(
            "attachments.sources.pm.token_file {token_file:?} is not a file of a mounted Secret"
        ));
    }

    // The broker over TLS.
    let url = secret_docs
        .iter()
        .find(|s| s["metadata"]["name"] == "preauth-amqp")
        .map(|s| str_of(&s["stringData"]["url"]))
        .unwrap_or_default();
    if !url.starts_with("amqps://") || !url.contains(":5671/") {
        problems.push("the example broker URL is not amqps:// on 5671".into());
    }

    // Service and Ingress: the notifications port only.
    let service = yaml_doc("kubernetes/service.yaml");
    if !selects(&serde_json::json!({ "matchLabels": service["spec"]["selector"] })) {
        problems.push("the Service does not select the worker's pods".into());
    }
    let svc_ports = service["spec"]["ports"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for p in &svc_ports {
        let target = if p["targetPort"].is_null() {
            &p["port"]
        } else {
            &p["targetPort"]
        };
        if port_number(&ports, target) != notifications {
            problems.push(format!(
                "Service port {} targets {target}, not the notifications port",
                str_of(&p["name"])
            ));
        }
    }
    for ing in yaml_docs(&deploy("kubernetes/ingress-notifications.yaml")) {
        for rule in ing["spec"]["rules"].as_array().into_iter().flatten() {
            for path in rule["http"]["paths"].as_array().into_iter().flatten() {
                let backend = &path["backend"]["service"];
                if backend["name"] != service["metadata"]["name"] {
                    problems.push(format!(
                        "Ingress backend {} is not the Service",
                        str_of(&backend["name"])
                    ));
                }
                let port = &backend["port"];
                let known = svc_ports.iter().any(|p| {
                    (!port["name"].is_null() && p["name"] == port["name"])
                        || (!port["number"].is_null() && p["port"] == port["number"])
                });
                if !known {
                    problems.push(format!(
                        "Ingress backend port {port} is not a port of the Service"
                    ));
                }
            }
        }
        if ing["spec"]["tls"].as_array().is_none_or(|t| t.is_empty()) {
            problems.push("the Ingress has no TLS".into());
        }
    }

    // Network policies.
    let policies = yaml_docs(&deploy("kubernetes/networkpolicy.yaml"));
    let empty = serde_json::json!({});
    let default_deny = policies.iter().any(|p| {
        let spec = &p["spec"];
        let types: BTreeSet<&str> = spec["policyTypes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(str_of)
            .collect();
        spec["podSelector"] == empty
            && types == BTreeSet::from(["Ingress", "Egress"])
            && spec["ingress"].as_array().is_none_or(Vec::is_empty)
            && spec["egress"].as_array().is_none_or(Vec::is_empty)
    });
    if !default_deny {
        problems
            .push("no default-deny policy (podSelector {}, Ingress and Egress, no rules)".into());
    }
    let mut allowed_in: BTreeMap<Option<u64>, BTreeSet<String>> = BTreeMap::new();
    let mut allowed_out: BTreeSet<(String, String)> = BTreeSet::new();
    for p in &policies {
        let spec = &p["spec"];
        let name = str_of(&p["metadata"]["name"]);
        if spec["podSelector"] != empty && !selects(&spec["podSelector"]) {
            problems.push(format!("NetworkPolicy {name} selects no worker pod"));
        }
        for rule in spec["ingress"].as_array().into_iter().flatten() {
            let mut sources = BTreeSet::new();
            let from = rule["from"]
                .as_array()
                .cloned()
                .unwrap_or_else(|| vec![empty.clone()]);
            for f in &from {
                let keys: BTreeSet<&str> = f
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k.as_str())
                    .collect();
                if !keys.is_subset(&BTreeSet::from(["namespaceSelector", "podSelector"]))
                    || !keys.contains("namespaceSelector")
                {
                    problems.push(format!(
                        "{name}: an ingress source other than a namespace: {f}"
                    ));
                }
                sources.insert(
                    str_of(&f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
                        .to_owned(),
                );
            }
            let rule_ports = rule["ports"].as_array().cloned().unwrap_or_default();
            if rule_ports.is_empty() {
                problems.push(format!("{name}: an ingress rule without ports"));
            }
            for port in rule_ports {
                let n = port_number(&ports, &port["port"]);
                if n.is_none() {
                    problems.push(format!(
                        "{name}: port {} is not a port of the Deployment",
                        port["port"]
                    ));
                }
                allowed_in
                    .entry(n)
                    .or_default()
                    .extend(sources.iter().cloned());
            }
        }
        for rule in spec["egress"].as_array().into_iter().flatten() {
            match rule["ports"].as_array() {
                Some(list) => {
                    for port in list {
                        let protocol = port["protocol"].as_str().unwrap_or("TCP").to_owned();
                        allowed_out.insert((port["port"].to_string(), protocol));
                    }
                }
                None => {
                    allowed_out.insert(("any".into(), "TCP".into()));
                }
            }
        }
    }
    let only = |ns: &str| Some(BTreeSet::from([ns.to_owned()]));
    if allowed_in.get(&ops).cloned() != only("monitoring") {
        problems.push(format!(
            "the ops port is open to {:?}, expected the monitoring namespace only",
            allowed_in.get(&ops)
        ));
    }
    if allowed_in.get(&notifications).cloned() != only("ingress-nginx") {
        problems.push(format!(
            "the notifications port is open to {:?}, expected the ingress-nginx namespace only",
            allowed_in.get(&notifications)
        ));
    }
    let others: Vec<_> = allowed_in
        .keys()
        .filter(|p| **p != ops && **p != notifications)
        .collect();
    if !others.is_empty() {
        problems.push(format!("other ports are open: {others:?}"));
    }
    let expected: BTreeSet<(String, String)> = [
        ("53", "UDP"),
        ("53", "TCP"),
        ("5671", "TCP"),
        ("443", "TCP"),
    ]
    .into_iter()
    .map(|(p, t)| (p.to_owned(), t.to_owned()))
    .collect();
    if allowed_out != expected {
        problems.push(format!(
            "egress allows {allowed_out:?}, expected DNS (53 UDP/TCP), 5671/TCP and 443/TCP only"
        ));
    }
    assert_none(&problems);
}

/// The KEDA objects' fields (KEDA's documentation: ScaledObject, TriggerAuthentication and the
/// RabbitMQ Queue scaler), unknown fields refused. kubernetes-validate knows only built-in kinds.
fn keda_schemas() -> (Value, Value, Value) {
    use serde_json::json;
    let name =
        json!({"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253});
    let meta = json!({"type": "object", "required": ["name", "namespace"],
        "properties": {"name": name, "namespace": name, "labels": {"type": "object"},
                       "annotations": {"type": "object"}}});
    let str_map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let scaled_object = json!({
        "type": "object", "additionalProperties": false,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": "ScaledObject"},
            "metadata": meta,
            "spec": {
                "type": "object", "additionalProperties": false,
                "required": ["scaleTargetRef", "triggers"],
                "properties": {
                    "scaleTargetRef": {"type": "object", "additionalProperties": false, "required": ["name"],
                        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                       "name": name, "envSourceContainerName": {"type": "string"}}},
                    "pollingInterval": {"type": "integer", "minimum": 1},
                    "cooldownPeriod": {"type": "integer", "minimum": 0},
                    "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                    "idleReplicaCount": {"type": "integer", "minimum": 0},
                    "minReplicaCount": {"type": "integer", "minimum": 0},
                    "maxReplicaCount": {"type": "integer", "minimum": 1},
                    "fallback": {"type": "object"},
                    "advanced": {"type": "object", "additionalProperties": false, "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "scalingModifiers": {"type": "object"},
                        "horizontalPodAutoscalerConfig": {"type": "object", "additionalProperties": false,
                            "properties": {"name": {"type": "string"}, "behavior": {"type": "object"}}}}},
                    "triggers": {"type": "array", "minItems": 1, "items": {
                        "type": "object", "additionalProperties": false, "required": ["type", "metadata"],
                        "properties": {"type": {"type": "string"}, "name": {"type": "string"},
                            "metadata": str_map, "useCachedMetrics": {"type": "boolean"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "authenticationRef": {"type": "object", "additionalProperties": false, "required": ["name"],
                                "properties": {"name": name, "kind": {"enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"]}}}}}}
                }
            }
        }
    });
    let rabbitmq_metadata = json!({
        "type": "object", "additionalProperties": false, "required": ["queueName", "mode", "value"],
        "properties": {
            "host": {"type": "string"}, "hostFromEnv": {"type": "string"},
            "usernameFromEnv": {"type": "string"}, "passwordFromEnv": {"type": "string"},
            "protocol": {"enum": ["auto", "http", "amqp"]},
            "mode": {"enum": ["QueueLength", "MessageRate", "DeliverGetRate",
                              "PublishedToDeliveredRatio", "ExpectedQueueConsumptionTime"]},
            "value": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"},
            "activationValue": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"},
            "queueName": {"type": "string", "minLength": 1}, "vhostName": {"type": "string"},
            "useRegex": {"enum": ["true", "false"]}, "excludeUnacknowledged": {"enum": ["true", "false"]},
            "operation": {"enum": ["sum", "avg", "max"]}, "pageSize": {"type": "string"},
            "timeout": {"type": "string"}, "unsafeSsl": {"enum": ["true", "false"]}
        }
    });
    let trigger_auth = json!({
        "type": "object", "additionalProperties": false,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": "TriggerAuthentication"},
            "metadata": meta,
            "spec": {"type": "object", "minProperties": 1, "additionalProperties": false, "properties": {
                "podIdentity": {"type": "object"},
                "secretTargetRef": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                    "required": ["parameter", "name", "key"],
                    "properties": {"parameter": {"type": "string"}, "name": name, "key": {"type": "string"}}}},
                "env": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                    "required": ["parameter", "name"],
                    "properties": {"parameter": {"type": "string"}, "name": {"type": "string"}, "containerName": {"type": "string"}}}},
                "configMapTargetRef": {"type": "array"}, "hashiCorpVault": {"type": "object"},
                "azureKeyVault": {"type": "object"}, "awsSecretManager": {"type": "object"},
                "gcpSecretManager": {"type": "object"}, "boundServiceAccountToken": {"type": "array"}}}
        }
    });
    (scaled_object, trigger_auth, rabbitmq_metadata)
}

fn schema_problems(schema: &Value, doc: &Value, what: &str) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("a valid schema");
    validator
        .iter_errors(doc)
        .map(|e| format!("{what} {}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn the_keda_scaled_object_has_keda_s_fields_and_names_what_the_other_files_define() {
    let (scaled_object, trigger_auth, rabbitmq_metadata) = keda_schemas();
    let mut problems = Vec::new();
    let mut objects = Vec::new();
    let mut auths = BTreeMap::new();
    for d in yaml_docs(&deploy("kubernetes/keda-scaledobject.yaml")) {
        match str_of(&d["kind"]) {
            "ScaledObject" => {
                problems.extend(schema_problems(&scaled_object, &d, "ScaledObject"));
                objects.push(d);
            }
            "TriggerAuthentication" => {
                problems.extend(schema_problems(&trigger_auth, &d, "TriggerAuthentication"));
                auths.insert(str_of(&d["metadata"]["name"]).to_owned(), d);
            }
            other => problems.push(format!("unexpected kind {other}")),
        }
    }
    let so = objects.first().expect("a ScaledObject");
    let spec = &so["spec"];
    if spec["minReplicaCount"].as_u64().unwrap_or(0)
        > spec["maxReplicaCount"].as_u64().unwrap_or(100)
    {
        problems.push("minReplicaCount > maxReplicaCount".into());
    }
    let deployment = yaml_doc("kubernetes/deployment.yaml");
    if spec["scaleTargetRef"]["name"] != deployment["metadata"]["name"] {
        problems.push("scaleTargetRef.name is not the Deployment's name".into());
    }
    if so["metadata"]["namespace"] != deployment["metadata"]["namespace"] {
        problems.push("ScaledObject and Deployment are in different namespaces".into());
    }
    let definitions: Value =
        serde_json::from_str(&read(&deploy("rabbitmq/definitions.json"))).expect("JSON");
    let queues: BTreeSet<&str> = definitions["queues"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| str_of(&q["name"]))
        .collect();
    let secret_keys: BTreeSet<(String, String)> =
        yaml_docs(&deploy("kubernetes/secret-example.yaml"))
            .iter()
            .flat_map(|s| {
                let name = str_of(&s["metadata"]["name"]).to_owned();
                let data = if s["stringData"].is_object() {
                    &s["stringData"]
                } else {
                    &s["data"]
                };
                data.as_object()
                    .into_iter()
                    .flatten()
                    .map(move |(k, _)| (name.clone(), k.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
    for t in spec["triggers"].as_array().into_iter().flatten() {
        if t["type"] != "rabbitmq" {
            continue;
        }
        problems.extend(schema_problems(
            &rabbitmq_metadata,
            &t["metadata"],
            "rabbitmq trigger metadata",
        ));
        if !queues.contains(str_of(&t["metadata"]["queueName"])) {
            problems.push(format!(
                "queueName {} is not a queue of definitions.json",
                t["metadata"]["queueName"]
            ));
        }
        let has_host = ["host", "hostFromEnv"]
            .iter()
            .any(|k| !t["metadata"][k].is_null());
        match t["authenticationRef"]["name"].as_str() {
            None if !has_host => problems
                .push("the rabbitmq trigger has no host, hostFromEnv or authenticationRef".into()),
            None => {}
            Some(r) => match auths.get(r) {
                None => problems.push(format!(
                    "authenticationRef {r} names no TriggerAuthentication in the file"
                )),
                Some(auth) => {
                    let refs = auth["spec"]["secretTargetRef"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    if !has_host && !refs.iter().any(|x| x["parameter"] == "host") {
                        problems.push(format!("TriggerAuthentication {r} gives no host parameter"));
                    }
                    for x in refs {
                        let pair = (str_of(&x["name"]).to_owned(), str_of(&x["key"]).to_owned());
                        if !secret_keys.contains(&pair) {
                            problems.push(format!(
                                "TriggerAuthentication {r} reads {}/{}, which secret-example.yaml does not define",
                                pair.0, pair.1
                            ));
                        }
                    }
                }
            },
        }
    }
    assert_none(&problems);
}
