//! `cargo xtask bench plugin_call`: per-call overhead of a plugin call that
//! does no I/O (the template's `ping`), warm instance vs fresh instance, and
//! host start-up with a warm vs a cold compiled-component cache. Needs
//! `cargo xtask plugins` first (the xtask does it).

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use resilience_host::App;
use resilience_host::config::Config;
use serde_json::json;
use support::{median, percentile, us};

fn plugins_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("plugins");
    assert!(
        dir.join("template.wasm").exists(),
        "{} has no template.wasm: run `cargo xtask plugins` (or `cargo xtask bench`)",
        dir.display()
    );
    dir
}

fn config(cache: &std::path::Path, limits: &str) -> Config {
    config_with(cache, limits, true)
}

fn config_with(cache: &std::path::Path, limits: &str, metrics: bool) -> Config {
    let text = format!(
        "[server]\nmetrics = {metrics}\n[journal]\npath = {:?}\n[plugins]\ndir = {:?}\ncache_dir = {:?}\n[plugins.limits]\n{limits}\n\
         [venues.t]\nplugin = \"template\"\nendpoints = [\"http://127.0.0.1:9\"]\n",
        cache.join("journal.db").display().to_string(),
        plugins_dir().display().to_string(),
        cache.display().to_string()
    );
    Config::parse(&text, false, &vec![]).expect("bench config")
}

async fn per_call(app: &App, n: usize) -> Vec<Duration> {
    let params = json!({});
    for _ in 0..200 {
        app.call("t", "ping", &params).await.expect("ping");
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        app.call("t", "ping", &params).await.expect("ping");
        samples.push(t.elapsed());
    }
    samples
}

/// Each call as its own task, timed from spawn to result: the time includes
/// waiting for a tokio worker, which a plugin hogging workers would inflate.
async fn spawned_calls(app: &std::sync::Arc<App>, n: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let app = app.clone();
        let t = Instant::now();
        tokio::spawn(async move { app.call("t", "ping", &json!({})).await.expect("ping") })
            .await
            .expect("task");
        samples.push(t.elapsed());
    }
    samples
}

/// A good venue's calls while another plugin spins at its CPU deadline,
/// vs the same calls with nothing spinning.
async fn good_venue_beside_a_spinner() -> String {
    let target = plugins_dir()
        .parent()
        .map(|p| p.join("test-plugins"))
        .expect("target dir");
    assert!(
        target.join("spin_loop.wasm").exists(),
        "{} has no spin_loop.wasm: run `cargo xtask plugins`",
        target.display()
    );
    let dir = tempfile_dir("spin");
    std::fs::copy(target.join("spin_loop.wasm"), dir.join("spin_loop.wasm"))
        .expect("copy spin_loop");
    std::fs::copy(
        plugins_dir().join("template.wasm"),
        dir.join("template.wasm"),
    )
    .expect("copy template");
    let text = format!(
        "[journal]\npath = {:?}\n[plugins]\ndir = {:?}\n[plugins.limits]\ncpu_ms = 200\n\
         [venues.t]\nplugin = \"template\"\nendpoints = [\"http://127.0.0.1:9\"]\n\
         [venues.s]\nplugin = \"spin-loop\"\nendpoints = [\"http://127.0.0.1:9\"]\n",
        dir.join("journal.db").display().to_string(),
        dir.display().to_string()
    );
    let app = std::sync::Arc::new(
        App::build(
            Config::parse(&text, false, &vec![]).expect("config"),
            &vec![],
        )
        .await
        .expect("host"),
    );
    let quiet = spawned_calls(&app, 500).await;
    // Two spinners, one per core, each hitting its 200 ms deadline again and again.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut spinners = Vec::new();
    for _ in 0..2 {
        let (app, stop) = (app.clone(), stop.clone());
        spinners.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = app.call("s", "spin", &json!({})).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let noisy = spawned_calls(&app, 500).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in spinners {
        let _ = s.await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (qm, q99, nm, n99) = (
        median(quiet.clone()),
        percentile(quiet, 0.99),
        median(noisy.clone()),
        percentile(noisy, 0.99),
    );
    format!(
        "| good venue (each call a spawned task) while 2 plugin calls spin at their CPU deadline (2 cores) | p50 {:.1} us, p99 {:.1} us | nothing spinning: p50 {:.1} us, p99 {:.1} us | p50 {:.2}x, p99 {:.2}x |",
        us(nm),
        us(n99),
        us(qm),
        us(q99),
        us(nm) / us(qm),
        us(n99) / us(q99)
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let cache = tempfile_dir("warm");
        let warm_app = App::build(config(&cache, ""), &vec![]).await.expect("host");
        let warm = per_call(&warm_app, 20_000).await;
        let fresh_app = App::build(config(&cache, "max_calls_per_instance = 1"), &vec![])
            .await
            .expect("host");
        let fresh = per_call(&fresh_app, 5_000).await;
        let (wm, w99, fm) = (median(warm.clone()), percentile(warm, 0.99), median(fresh));
        // Interleave rounds so drift on a shared machine hits both sides alike.
        let no_metrics_app = App::build(config_with(&cache, "", false), &vec![]).await.expect("host");
        let (mut on_rounds, mut off_rounds) = (Vec::new(), Vec::new());
        for _ in 0..10 {
            off_rounds.push(median(per_call(&no_metrics_app, 2_000).await));
            on_rounds.push(median(per_call(&warm_app, 2_000).await));
        }
        let (on, off) = (median(on_rounds), median(off_rounds));

        // Start-up: warm cache (already populated above) vs cold (empty dir).
        let mut warm_start = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let app = App::build(config(&cache, ""), &vec![]).await.expect("host");
            warm_start.push(t.elapsed());
            drop(app);
        }
        let mut cold_start = Vec::new();
        for i in 0..3 {
            let dir = tempfile_dir(&format!("cold{i}"));
            let t = Instant::now();
            let app = App::build(config(&dir, ""), &vec![]).await.expect("host");
            cold_start.push(t.elapsed());
            drop(app);
            let _ = std::fs::remove_dir_all(&dir);
        }
        let _ = std::fs::remove_dir_all(&cache);
        let (ws, cs) = (median(warm_start), median(cold_start));

        println!("| scenario | measured | baseline (same run) | ratio |");
        println!("|---|---|---|---|");
        println!(
            "| plugin call, no I/O (template `ping`, through App::call) | warm instance: median {:.1} us, p99 {:.1} us | fresh instance per call: median {:.1} us | warm is {:.1}x faster |",
            us(wm),
            us(w99),
            us(fm),
            us(fm) / us(wm)
        );
        println!(
            "| metrics cost on the warm call | metrics on: median {:.1} us | metrics off (`server.metrics = false`): median {:.1} us | on/off {:.3} |",
            us(on),
            us(off),
            us(on) / us(off)
        );
        println!("{}", good_venue_beside_a_spinner().await);
        println!(
            "| host start-up (config, engine, {} plugin(s), describe) | warm component cache: median {:.1} ms | cold cache (compile): median {:.1} ms | {:.1}x faster |",
            warm_app.loaded().plugins.len(),
            ws.as_secs_f64() * 1e3,
            cs.as_secs_f64() * 1e3,
            cs.as_secs_f64() / ws.as_secs_f64()
        );
    });
}

fn tempfile_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("resilience-bench-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
