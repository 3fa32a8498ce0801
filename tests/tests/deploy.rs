//! Lint for the shipped ops files in `deploy/`: the Grafana dashboard is
//! well-formed, and every metric the dashboard and the alert rules query is
//! one the host actually exports (checked against a live `/metrics` scrape).
//! `promtool check rules` / `promtool test rules` run in `.ci/run`.

use std::collections::BTreeSet;

use resilience_tests::{TestHost, parse_prometheus, workspace_root};
use serde_json::{Value, json};

fn metric_names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("resilience_") {
        let start = i + pos;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        out.insert(text[start..end].to_string());
        i = end;
    }
    out
}

#[test]
fn dashboard_is_well_formed() {
    let path = workspace_root().join("deploy/grafana/dashboard.json");
    let dash: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect("dashboard is JSON");
    assert_eq!(dash["uid"], "resilience-host");
    let panels = dash["panels"].as_array().expect("panels");
    assert!(panels.len() >= 6);
    let mut ids = BTreeSet::new();
    let mut titles = Vec::new();
    for p in panels {
        assert!(
            ids.insert(p["id"].as_u64().expect("panel id")),
            "duplicate panel id"
        );
        titles.push(p["title"].as_str().unwrap().to_lowercase());
        for k in ["h", "w", "x", "y"] {
            assert!(p["gridPos"][k].is_u64(), "{} has gridPos.{k}", p["title"]);
        }
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty());
        for t in targets {
            let expr = t["expr"].as_str().expect("expr");
            assert!(expr.contains("resilience_"), "{expr}");
            assert_eq!(
                expr.matches('(').count(),
                expr.matches(')').count(),
                "balanced: {expr}"
            );
            assert_eq!(t["datasource"]["uid"], "${datasource}");
        }
    }
    for wanted in [
        "success rate",
        "latency",
        "breaker",
        "pool",
        "retries",
        "rate limiting",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(wanted)),
            "a panel for {wanted}"
        );
    }
}

#[tokio::test]
async fn dashboard_and_alerts_query_only_exported_metrics() {
    let h = TestHost::start(
        &["echo"],
        "",
        "[venues.v]\nplugin = \"echo\"\nendpoints = [\"http://127.0.0.1:9\"]\nrate_limit = { weight_per_minute = 100 }\n",
    )
    .await;
    h.app.call("v", "echo", &json!({})).await.unwrap();
    let (_, _, body) = h
        .request(http::Method::GET, "/metrics", Default::default(), &[])
        .await;
    let exported: BTreeSet<String> = parse_prometheus(body.as_str().unwrap())
        .keys()
        .map(|k| k.split('{').next().unwrap().to_string())
        .collect();
    let root = workspace_root();
    let dash = std::fs::read_to_string(root.join("deploy/grafana/dashboard.json")).unwrap();
    let alerts = std::fs::read_to_string(root.join("deploy/prometheus/alerts.yml")).unwrap();
    let used: BTreeSet<String> = metric_names_in(&dash)
        .into_iter()
        .chain(metric_names_in(&alerts))
        .collect();
    assert!(used.len() >= 10, "{used:?}");
    let missing: Vec<&String> = used.iter().filter(|m| !exported.contains(*m)).collect();
    assert!(
        missing.is_empty(),
        "queried but not exported: {missing:?}\nexported: {exported:?}"
    );
}
