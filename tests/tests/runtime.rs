//! The plugin runtime under misbehaving plugins built from source
//! (`tests/plugins/*`): runaway loops, memory bombs, traps, wrong WIT versions.

use std::time::Duration;

use resilience_host::App;
use resilience_host::config::Config;
use resilience_tests::{TestHost, config_text, plugin_dir};
use serde_json::json;

fn venue(name: &str, plugin: &str) -> String {
    // Endpoints are never reached by these tests; port 9 is discard.
    format!(
        "[venues.{name}]\nplugin = \"{plugin}\"\nendpoints = [\"http://127.0.0.1:9\"]\ntimeout_ms = 1000\ndeadline_ms = 10000\n"
    )
}

/// One tokio thread only, and in-process calls (no sockets): the echo venue
/// can only make progress if the spinning guest yields to the executor at
/// epoch ticks instead of holding the thread until its deadline.
#[tokio::test(flavor = "current_thread")]
async fn spinning_guest_yields_so_other_calls_run_on_the_same_thread() {
    let host = TestHost::start(
        &["spin_loop", "echo"],
        "cpu_ms = 300",
        &format!("{}{}", venue("spin", "spin-loop"), venue("echo", "echo")),
    )
    .await;
    let app = host.app.clone();
    let spin = tokio::spawn(async move { app.call("spin", "spin", &json!({})).await });
    tokio::task::yield_now().await;
    let mut served_while_spinning = 0;
    for i in 0..20 {
        let out = host
            .app
            .call("echo", "echo", &json!({ "i": i }))
            .await
            .unwrap();
        assert_eq!(out["i"], i);
        if !spin.is_finished() {
            served_while_spinning += 1;
        }
        tokio::task::yield_now().await;
    }
    let result = spin.await.unwrap();
    assert!(
        served_while_spinning > 0,
        "echo calls only ran after the spin ended: {result:?}"
    );
    let err = result.unwrap_err();
    assert_eq!(err.kind(), "plugin");
    assert!(err.to_string().contains("CPU deadline"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_is_cut_off_at_the_cpu_deadline_while_other_venues_keep_serving() {
    let host = TestHost::start(
        &["spin_loop", "echo"],
        "cpu_ms = 300",
        &format!("{}{}", venue("spin", "spin-loop"), venue("echo", "echo")),
    )
    .await;
    let app = host.app.clone();
    let spin = tokio::spawn(async move { app.call("spin", "spin", &json!({})).await });
    while host.app.loaded().venues["spin"].pool.instances_created() == 0 {
        tokio::task::yield_now().await;
    }

    // While the guest spins, the echo venue answers through the API.
    let mut served_while_spinning = 0;
    for i in 0..20 {
        let (status, body) = host.post("/v1/venues/echo/echo", &json!({ "i": i })).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["i"], i);
        if !spin.is_finished() {
            served_while_spinning += 1;
        }
    }
    let spin_result = spin.await.unwrap();
    assert!(
        served_while_spinning > 0,
        "echo calls only ran after the spin ended: {spin_result:?}"
    );

    let err = spin_result.unwrap_err();
    assert_eq!(err.kind(), "plugin");
    assert!(err.to_string().contains("CPU deadline"), "{err}");

    // The spinning instance was discarded; the plugin still serves.
    let (status, body) = host.post("/v1/venues/spin/ok", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(host.app.loaded().venues["spin"].pool.traps(), 1);
}

#[tokio::test]
async fn memory_bomb_fails_cleanly_and_the_plugin_recovers() {
    let host = TestHost::start(
        &["memory_bomb"],
        "memory_mib = 32",
        &venue("bomb", "memory-bomb"),
    )
    .await;
    let (status, body) = host
        .post("/v1/venues/bomb/allocate", &json!({"mib": 256}))
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["kind"], "plugin");
    let (status, body) = host
        .post("/v1/venues/bomb/allocate", &json!({"mib": 4}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = host.post("/v1/venues/bomb/ok", &json!({})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn trap_is_a_plugin_error_and_the_next_call_runs_on_a_fresh_instance() {
    let host = TestHost::start(&["trap"], "", &venue("trap", "trap")).await;
    // The warm instance is reused: its call counter climbs.
    let (_, a) = host.post("/v1/venues/trap/calls", &json!({})).await;
    let (_, b) = host.post("/v1/venues/trap/calls", &json!({})).await;
    assert_eq!(
        (a["calls"].as_u64(), b["calls"].as_u64()),
        (Some(1), Some(2))
    );
    let created = host.app.loaded().venues["trap"].pool.instances_created();

    let (status, body) = host.post("/v1/venues/trap/panic", &json!({})).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["kind"], "plugin");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("deliberate panic in trap plugin"),
        "guest panic message surfaced: {msg}"
    );

    let (status, c) = host.post("/v1/venues/trap/calls", &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(c["calls"], 1, "a fresh instance starts counting again");
    assert_eq!(
        host.app.loaded().venues["trap"].pool.instances_created(),
        created + 1
    );

    let (status, body) = host.post("/v1/venues/trap/unreachable", &json!({})).await;
    assert_eq!(status, 500, "{body}");
    let (status, _) = host.post("/v1/venues/trap/ok", &json!({})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn plugin_built_for_another_wit_version_is_refused_naming_both_and_others_load() {
    let dir = plugin_dir(&["wrong_wit", "echo"]);
    let text = config_text(dir.path(), "", &venue("echo", "echo"));
    let app = App::build(Config::parse(&text, false, &vec![]).unwrap(), &vec![])
        .await
        .unwrap();
    assert!(app.loaded().plugins.contains_key("echo"));
    assert_eq!(
        app.loaded().load_errors.len(),
        1,
        "{:?}",
        app.loaded().load_errors
    );
    let e = &app.loaded().load_errors[0];
    assert!(e.file.ends_with("wrong_wit.wasm"), "{e}");
    assert!(e.reason.contains("resilience:venue@0.2.0"), "{e}");
    assert!(e.reason.contains("resilience:venue@0.1.0"), "{e}");
    assert_eq!(
        app.call("echo", "echo", &json!({"a": 1})).await.unwrap(),
        json!({"a": 1})
    );
}

#[tokio::test]
async fn corrupt_file_is_reported_by_name_and_others_load() {
    let dir = plugin_dir(&["echo"]);
    std::fs::write(dir.path().join("broken.wasm"), b"\0asm garbage").unwrap();
    let text = config_text(dir.path(), "", &venue("echo", "echo"));
    let app = App::build(Config::parse(&text, false, &vec![]).unwrap(), &vec![])
        .await
        .unwrap();
    assert_eq!(app.loaded().load_errors.len(), 1);
    assert!(app.loaded().load_errors[0].file.ends_with("broken.wasm"));
    assert!(
        app.loaded().load_errors[0]
            .reason
            .contains("not a valid component"),
        "{}",
        app.loaded().load_errors[0]
    );
    assert!(app.loaded().plugins.contains_key("echo"));
}

#[tokio::test]
async fn venue_whose_plugin_is_missing_is_reported_and_health_degrades() {
    let host = TestHost::start(
        &["echo"],
        "",
        &format!("{}{}", venue("echo", "echo"), venue("ghost", "nope")),
    )
    .await;
    let (status, body) = host.get("/health").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["venues"]["ghost"], "plugin not loaded", "{body}");
    // The reason (config key, plugins folder) is for authenticated callers.
    let (status, body) = host.get("/v1/health").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["venues"]["ghost"]
            .as_str()
            .unwrap()
            .contains("venues.ghost.plugin"),
        "{body}"
    );
    let (status, _) = host.get("/health?venue=echo").await;
    assert_eq!(status, 200);
    let (status, body) = host.post("/v1/venues/ghost/anything", &json!({})).await;
    assert_eq!(status, 500, "{body}");
    let (status, _) = host.post("/v1/venues/echo/echo", &json!({})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn instance_pool_bounds_concurrency_and_reuses_instances() {
    let host = TestHost::start(&["echo"], "max_instances = 2", &venue("echo", "echo")).await;
    let mut calls = Vec::new();
    for i in 0..16 {
        let app = host.app.clone();
        calls.push(tokio::spawn(async move {
            app.call("echo", "echo", &json!({"i": i})).await
        }));
    }
    for (i, c) in calls.into_iter().enumerate() {
        assert_eq!(c.await.unwrap().unwrap(), json!({"i": i}));
    }
    let created = host.app.loaded().venues["echo"].pool.instances_created();
    assert!(
        (1..=2).contains(&created),
        "at most max_instances instances: {created}"
    );
}

#[tokio::test]
async fn compiled_components_are_cached_by_content_hash() {
    let dir = plugin_dir(&["echo"]);
    let cache = tempfile::tempdir().unwrap();
    let text = format!(
        "[journal]\npath = {:?}\n[plugins]\ndir = {:?}\ncache_dir = {:?}\n{}",
        dir.path().join("journal.db").display().to_string(),
        dir.path().display().to_string(),
        cache.path().display().to_string(),
        venue("echo", "echo")
    );
    let first = std::time::Instant::now();
    let app = App::build(Config::parse(&text, false, &vec![]).unwrap(), &vec![])
        .await
        .unwrap();
    let cold = first.elapsed();
    drop(app);
    let entries: Vec<_> = std::fs::read_dir(cache.path()).unwrap().collect();
    assert_eq!(entries.len(), 1, "one cache entry per plugin");
    let second = std::time::Instant::now();
    let app = App::build(Config::parse(&text, false, &vec![]).unwrap(), &vec![])
        .await
        .unwrap();
    let warm = second.elapsed();
    assert_eq!(
        app.call("echo", "echo", &json!({})).await.unwrap(),
        json!({})
    );
    // Informational only (timings are not asserted on shared machines).
    eprintln!("start-up with cold cache {cold:?}, warm cache {warm:?}");
    let _ = Duration::ZERO;
}

/// After a burst, the instances it needed are dropped once unused for
/// `idle_instance_ms`: by the periodic trim, and when an instance is given
/// back; the one in use stays warm. Both ways are counted for the trimmer,
/// which gives the heap back when any were dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_instances_are_trimmed_after_a_burst() {
    let host = TestHost::start(
        &["sleeper"],
        "max_instances = 8\nidle_instance_ms = 300",
        &venue("sleepy", "sleeper"),
    )
    .await;
    let pool = || host.app.loaded().venues["sleepy"].pool.idle();
    let burst: Vec<_> = (0..6)
        .map(|_| {
            let app = host.app.clone();
            tokio::spawn(async move { app.call("sleepy", "sleep", &json!({"ms": 200})).await })
        })
        .collect();
    for c in burst {
        c.await.unwrap().unwrap();
    }
    assert_eq!(pool(), 6, "six calls at once needed six instances");
    assert_eq!(
        host.app.loaded().venues["sleepy"].pool.trim_idle(),
        0,
        "nothing is stale yet"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    // One call afterwards: the instance it used is fresh, the other five stale.
    host.app
        .call("sleepy", "sleep", &json!({"ms": 1}))
        .await
        .unwrap();
    assert_eq!(pool(), 1, "the five unused instances were dropped");
    let trimmed = || host.app.loaded().venues["sleepy"].pool.take_trimmed();
    assert_eq!(trimmed(), 5, "dropped when an instance was given back");
    assert_eq!(trimmed(), 0, "counted once");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(host.app.loaded().venues["sleepy"].pool.trim_idle(), 1);
    assert_eq!(pool(), 0);
    assert_eq!(trimmed(), 1, "dropped by the periodic trim");
}
