//! The Kubernetes manifests keep their promises (no cluster on the CI machines, so the text is
//! checked): every service probed on /readyz and /healthz, limited, non-root and read-only;
//! autoscaled where it is stateless; disruption budgets; only edge open to the outside.

use crate::helpers::read;

#[test]
fn every_service_is_probed_limited_non_root_and_read_only() {
    for service in ["auth", "ingest", "sink", "query", "edge"] {
        let text = read(&format!("k8s/base/{service}.yaml"));
        for needed in [
            "kind: Deployment",
            "kind: Service",
            "kind: PodDisruptionBudget",
            "path: /readyz",
            "path: /healthz",
            "runAsNonRoot: true",
            "readOnlyRootFilesystem: true",
            "allowPrivilegeEscalation: false",
            "requests: {",
            "limits: {",
            &format!("args: [\"{service}\"]"),
        ] {
            assert!(text.contains(needed), "{service}.yaml lacks {needed:?}");
        }
        assert_eq!(
            text.contains("kind: HorizontalPodAutoscaler"),
            service != "auth",
            "{service}: the stateless services scale out; auth runs the one projector"
        );
        assert!(read("k8s/base/kustomization.yaml").contains(&format!("- {service}.yaml")));
    }
}

#[test]
fn nats_is_a_three_node_cluster_and_only_edge_takes_outside_traffic() {
    let nats = read("k8s/base/nats.yaml");
    assert!(nats.contains("kind: StatefulSet") && nats.contains("replicas: 3"));
    for node in 0..3 {
        assert!(nats.contains(&format!("nats://nats-{node}.nats-cluster:6222")));
    }
    let prod = read("k8s/overlays/prod/kustomization.yaml");
    assert!(
        prod.contains("NATS_STREAM_REPLICAS, value: \"3\""),
        "streams on 3 servers in prod"
    );

    let network = read("k8s/base/network.yaml");
    assert!(network.contains("name: default-deny"));
    let open_to_all: Vec<&str> = network
        .split("---")
        .filter(|policy| policy.contains("ingress:") && !policy.contains("from:"))
        .collect();
    assert_eq!(open_to_all.len(), 1, "one policy without `from`");
    assert!(open_to_all[0].contains("app.kubernetes.io/name: edge"));
    let ingress = read("k8s/base/ingress.yaml");
    assert!(ingress.contains("service: { name: edge"));
}

#[test]
fn nats_server_s_soft_memory_limit_follows_its_container_s_limit() {
    let nats = read("k8s/base/nats.yaml");
    let limit = nats
        .split("limits: {")
        .nth(1)
        .and_then(|rest| rest.split("memory: ").nth(1))
        .and_then(|rest| rest.split([' ', '}']).next())
        .expect("nats has a memory limit");
    let limit_mib: u64 = match limit.strip_suffix("Gi") {
        Some(gib) => gib.parse::<u64>().expect("GiB") * 1024,
        None => limit
            .strip_suffix("Mi")
            .and_then(|mib| mib.parse().ok())
            .expect("MiB"),
    };
    let soft_mib: u64 = nats
        .split("{ name: GOMEMLIMIT, value: \"")
        .nth(1)
        .and_then(|rest| rest.split("MiB\"").next())
        .and_then(|mib| mib.parse().ok())
        .expect("nats-server is given GOMEMLIMIT in MiB");
    assert!(
        soft_mib * 100 >= limit_mib * 85 && soft_mib * 100 <= limit_mib * 95,
        "GOMEMLIMIT {soft_mib} MiB is not 85-95 % of the {limit_mib} MiB limit"
    );
    assert!(nats.contains("{ name: GOGC, value: \"200\" }"));
}

#[test]
fn nats_in_kubernetes_signs_in_every_client_as_nats_authorization_conf_says() {
    let nats = read("k8s/base/nats.yaml");
    let start = nats
        .find("  authorization.conf: |\n")
        .expect("the ConfigMap has authorization.conf");
    let copy: String = nats[start..]
        .lines()
        .skip(1)
        .take_while(|line| line.is_empty() || line.starts_with("    "))
        .map(|line| format!("{}\n", line.strip_prefix("    ").unwrap_or(line)))
        .collect();
    assert_eq!(
        copy.trim_end(),
        read("nats/authorization.conf").trim_end(),
        "k8s/base/nats.yaml's authorization.conf is a copy of nats/authorization.conf"
    );
    assert!(nats.contains("include ./authorization.conf"));
    let dev = read("k8s/overlays/dev/kustomization.yaml");
    assert!(
        dev.contains("include ./authorization.conf"),
        "the dev overlay's configuration keeps the users"
    );
    for service in ["auth", "ingest", "sink", "query"] {
        let text = read(&format!("k8s/base/{service}.yaml"));
        let key = format!("key: NATS_{}_PASSWORD", service.to_uppercase());
        assert!(
            text.contains(&format!("name: NATS_USER\n              value: {service}"))
                && text.contains(&key),
            "{service} signs in as its own NATS user"
        );
    }
    // The retention job reads each project's retention from NATS, as the sink, and may reach it.
    let retention = read("k8s/base/retention.yaml");
    assert!(
        retention.contains("name: NATS_USER\n                  value: sink")
            && retention.contains("key: NATS_SINK_PASSWORD"),
        "the retention job signs in as the sink"
    );
    let network = read("k8s/base/network.yaml");
    let nats_policy = network
        .split("---")
        .find(|policy| policy.contains("name: nats-from-services"))
        .expect("the NATS policy");
    assert!(nats_policy.contains("app.kubernetes.io/name: retention"));
}
