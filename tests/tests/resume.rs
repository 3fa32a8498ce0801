//! Reads that give their instance back while the venue answers
//! (`resilience_host::plugin::resume`), with the `echo` plugin against mock
//! venues that answer every request with what they received.
//!
//! The oracle is the same host that never parks: a host with
//! `max_waiting_instances = 0` (every read's wait parks) and one that holds
//! its instances must answer every call alike, and their venues must see
//! the same requests, each once per call. `RESUME_SEED=N` reproduces the
//! randomized run; every failure names its seed.

use std::collections::BTreeMap;
use std::time::Duration;

use std::sync::Arc;

use resilience_tests::seeded::{self, Rng};
use resilience_tests::{TestHost, parse_prometheus, series};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The seed when `RESUME_SEED` is not set.
const DEFAULT_SEED: u64 = 20_261_129;

fn seed() -> u64 {
    seeded::seed("RESUME_SEED", DEFAULT_SEED)
}

/// Answers each request with what it received, naming the endpoint; a path
/// with `/missing` gets a 404. After `delay`.
struct Mirror {
    endpoint: &'static str,
    delay: Duration,
}

impl Respond for Mirror {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let status = if req.url.path().contains("/missing") {
            404
        } else {
            200
        };
        let seen = json!({
            "endpoint": self.endpoint,
            "method": req.method.as_str(),
            "path": req.url.path(),
            "query": req.url.query(),
            "body": String::from_utf8_lossy(&req.body),
        });
        ResponseTemplate::new(status)
            .set_body_string(seen.to_string())
            .set_delay(self.delay)
    }
}

async fn mirror(endpoint: &'static str, delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Mirror { endpoint, delay })
        .mount(&server)
        .await;
    server
}

/// The echo venue `v` on two mirrors, endpoint 0 answering after `delays.0`
/// and endpoint 1 after `delays.1`, in a host with these plugin `limits`.
struct EchoVenue {
    host: TestHost,
    e0: MockServer,
    e1: MockServer,
}

async fn echo_venue(delays: (Duration, Duration), limits: &str) -> EchoVenue {
    let e0 = mirror("e0", delays.0).await;
    let e1 = mirror("e1", delays.1).await;
    let venue = format!(
        "[venues.v]\nplugin = \"echo\"\nendpoints = [\"{}\", \"{}\"]\ntimeout_ms = 5000\ndeadline_ms = 20000\n",
        e0.uri(),
        e1.uri()
    );
    let host = TestHost::start(&["echo"], limits, &venue).await;
    EchoVenue { host, e0, e1 }
}

impl EchoVenue {
    async fn received(&self) -> Vec<String> {
        received(&[&self.e0, &self.e1]).await
    }
}

/// What a venue received, one line per request, sorted.
async fn received(servers: &[&MockServer]) -> Vec<String> {
    let mut seen = Vec::new();
    for (i, s) in servers.iter().enumerate() {
        for r in s.received_requests().await.unwrap_or_default() {
            seen.push(format!(
                "endpoint {i}: {} {} {}",
                r.method,
                r.url.path(),
                String::from_utf8_lossy(&r.body)
            ));
        }
    }
    seen.sort();
    seen
}

/// One `send` step's params to `path`: a read, a non-idempotent write, an
/// idempotent write, or a read the venue answers 404.
fn send_params(rng: &mut Rng, path: &str) -> Value {
    match rng.below(6) {
        0 => json!({"method": "POST", "path": path, "body": "order", "idempotent": false}),
        1 => json!({"method": "PUT", "path": path, "body": "set", "idempotent": true}),
        2 => json!({"path": format!("{path}/missing")}),
        _ => json!({"path": path}),
    }
}

/// A random `sequence`: sends, batches with and without pinned endpoints,
/// clock readings, log lines and usage reports.
fn random_sequence(rng: &mut Rng, call: usize) -> Value {
    let steps = (0..1 + rng.below(4))
        .map(|step| {
            let path = format!("/c{call}/s{step}");
            match rng.below(10) {
                0..=4 => json!({"send": send_params(rng, &path)}),
                5..=7 => {
                    let requests: Vec<Value> = (0..1 + rng.below(3))
                        .map(|r| {
                            let mut p = send_params(rng, &format!("{path}/r{r}"));
                            match rng.below(3) {
                                0 => p["endpoint"] = json!(0),
                                1 => p["endpoint"] = json!(1),
                                _ => {}
                            }
                            p
                        })
                        .collect();
                    json!({"send_all": {"requests": requests}})
                }
                8 => json!({"now": {}}),
                _ if rng.below(2) == 0 => json!({"log": format!("step {step} of call {call}")}),
                _ => json!({"usage": {"used": rng.below(100), "window_ms": 60000}}),
            }
        })
        .collect::<Vec<_>>();
    json!({ "steps": steps })
}

/// A call's outcome without what differs between two hosts by design: clock
/// readings and the venue's `date` header.
fn comparable(outcome: Result<Value, String>) -> Result<Value, String> {
    fn blank(v: &mut Value) {
        match v {
            Value::Object(o) => {
                if o.get("now_ms").is_some_and(Value::is_u64) {
                    o.insert("now_ms".into(), json!("a reading"));
                }
                if let Some(Value::Array(headers)) = o.get_mut("headers") {
                    headers.retain(|h| h[0] != "date");
                }
                o.values_mut().for_each(blank);
            }
            Value::Array(a) => a.iter_mut().for_each(blank),
            _ => {}
        }
    }
    outcome.map(|mut v| {
        blank(&mut v);
        v
    })
}

async fn call(host: &TestHost, op: &str, params: &Value) -> Result<Value, String> {
    host.app
        .call("v", op, params)
        .await
        .map_err(|e| format!("{}: {e}", e.kind()))
}

/// Every call answered alike by a host whose reads always park and by one
/// whose reads never do; each venue sees the same requests, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_resumed_by_replay_answers_as_a_held_one_and_sends_each_request_once() {
    let seed = seed();
    println!("RESUME_SEED={seed}");
    let slow = Duration::from_millis(5);
    // Two instances for all the parking host's calls, eight at once.
    let parking = echo_venue((slow, slow), "max_waiting_instances = 0\nmax_instances = 2").await;
    let holding = echo_venue(
        (Duration::ZERO, Duration::ZERO),
        "max_waiting_instances = 1024",
    )
    .await;

    let mut rng = Rng::new(seed);
    let calls: Vec<Value> = (0..120).map(|i| random_sequence(&mut rng, i)).collect();
    let parking = Arc::new(parking);
    let mut parked_answers = Vec::new();
    for chunk in calls.chunks(8) {
        let runs: Vec<_> = chunk
            .iter()
            .map(|p| {
                let (venue, p) = (Arc::clone(&parking), p.clone());
                tokio::spawn(async move { call(&venue.host, "sequence", &p).await })
            })
            .collect();
        for run in runs {
            parked_answers.push(run.await.expect("the call's task ran"));
        }
    }
    for (i, (params, parked)) in calls.iter().zip(parked_answers).enumerate() {
        let held = call(&holding.host, "sequence", params).await;
        assert_eq!(
            comparable(parked),
            comparable(held),
            "seed={seed}: call {i} answered differently when parked\nparams: {params}"
        );
    }
    assert_eq!(
        parking.received().await,
        holding.received().await,
        "seed={seed}: the venues saw different requests"
    );

    let parked = &parking.host.app.loaded().venues["v"].pool;
    let held = &holding.host.app.loaded().venues["v"].pool;
    assert!(
        parked.parks() >= 60,
        "seed={seed}: only {} parks: the run did not exercise parking",
        parked.parks()
    );
    assert_eq!(
        held.parks(),
        0,
        "seed={seed}: a host under its limit parked"
    );
    assert!(parked.instances_created() <= 2, "seed={seed}");
    assert_eq!(parked.waiting_on_venue(), 0, "seed={seed}: a wait leaked");
}

/// Many slow reads through two instances: none waits for an instance while
/// another only waits on the venue, and the venue sees each request once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_reads_share_two_instances() {
    let venue = Arc::new(
        echo_venue(
            (Duration::from_millis(300), Duration::ZERO),
            "max_waiting_instances = 0\nmax_instances = 2",
        )
        .await,
    );
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let venue = Arc::clone(&venue);
            tokio::spawn(async move {
                call(&venue.host, "send", &json!({"path": format!("/slow/{i}")})).await
            })
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        let out = t.await.unwrap().unwrap_or_else(|e| panic!("call {i}: {e}"));
        assert_eq!(out["status"], 200);
        let seen: Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
        assert_eq!(seen["path"], format!("/slow/{i}"));
    }
    let pool = &venue.host.app.loaded().venues["v"].pool;
    assert_eq!(pool.parks(), 64, "each read parked once");
    assert!(pool.instances_created() <= 2);
    assert_eq!(pool.waiting_on_venue(), 0);
    assert_eq!(venue.received().await.len(), 64);
    let metrics = venue.host.get("/metrics").await.1;
    let metrics = parse_prometheus(metrics.as_str().unwrap_or_default());
    let parks = series("resilience_plugin_parks_total", &[("plugin", "echo")]);
    assert_eq!(metrics.get(&parks), Some(&64.0), "{metrics:?}");
    // Two runs per call: the parked one and the one with the answer.
    let runs = series("resilience_plugin_invocations_total", &[("plugin", "echo")]);
    assert_eq!(metrics.get(&runs), Some(&128.0), "{metrics:?}");
}

/// A caller that hangs up while its read is parked leaves nothing behind:
/// no instance counted as waiting, none lost, and the venue serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_hanging_up_on_a_parked_read_leaves_nothing_behind() {
    // The mirrors must outlive the calls: wiremock hands a dropped server
    // to the next test that starts one.
    let venue = echo_venue(
        (Duration::from_secs(2), Duration::ZERO),
        "max_waiting_instances = 0\nmax_instances = 1",
    )
    .await;
    let host = &venue.host;
    for i in 0..4 {
        let params = json!({"path": format!("/hang-up/{i}")});
        let cut = tokio::time::timeout(Duration::from_millis(300), call(host, "send", &params));
        assert!(cut.await.is_err(), "the venue answers after 2 s");
    }
    let pool = &host.app.loaded().venues["v"].pool;
    assert_eq!(pool.parks(), 4, "each call parked before its caller left");
    assert_eq!(pool.waiting_on_venue(), 0);
    assert_eq!(
        pool.idle() as u64,
        pool.instances_created(),
        "no instance lost"
    );
    // The one instance serves a call that gets its answer.
    let out = call(
        host,
        "send_all",
        &json!({"requests": [{"path": "/after", "endpoint": 1}]}),
    )
    .await
    .unwrap();
    assert_eq!(out[0]["status"], 200, "{out}");
}

/// A journaled order never parks: its instance waits with it, and the venue
/// gets the order once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_never_parks() {
    let venue = echo_venue(
        (Duration::from_millis(50), Duration::ZERO),
        "max_waiting_instances = 0",
    )
    .await;
    let (status, _, body) = venue
        .host
        .post_raw(
            "/v1/venues/v/place",
            json!({"method": "POST", "path": "/order", "body": "buy", "idempotent": false})
                .to_string(),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let pool = &venue.host.app.loaded().venues["v"].pool;
    assert_eq!(pool.parks(), 0);
    let mut by_path = BTreeMap::new();
    for line in venue.received().await {
        *by_path.entry(line).or_insert(0) += 1;
    }
    assert_eq!(by_path.len(), 1, "{by_path:?}");
    assert!(by_path.values().all(|n| *n == 1), "{by_path:?}");
}

/// The path the venue saw for a `send` outcome (the mirror's answer).
fn echoed_path(outcome: &Value) -> String {
    let seen: Value =
        serde_json::from_str(outcome["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
    seen["path"].as_str().unwrap_or_default().to_string()
}

/// Runs that ask for other requests than the run before them (the plugin
/// draws a fresh number into a path each run) are answered what they ask
/// for, never an answer recorded for another request; a call whose runs
/// never agree parks at most `MAX_PARKS` times, then holds its instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_that_asks_for_other_requests_gets_their_answers() {
    let venue = echo_venue(
        (Duration::from_millis(5), Duration::ZERO),
        "max_waiting_instances = 0\nmax_instances = 2",
    )
    .await;
    let host = &venue.host;
    let steps = json!({"steps": [
        {"send": {"path": "/fixed/a"}},
        {"send_unique": {"path": "/drawn"}},
        {"send": {"path": "/fixed/b"}},
    ]});
    let out = call(host, "sequence", &steps).await.unwrap();
    assert_eq!(echoed_path(&out[0]), "/fixed/a", "{out}");
    assert_eq!(
        echoed_path(&out[1]),
        out[1]["sent"].as_str().unwrap(),
        "{out}"
    );
    assert_eq!(echoed_path(&out[2]), "/fixed/b", "{out}");

    let pool = &host.app.loaded().venues["v"].pool;
    let max = u64::from(resilience_host::plugin::resume::MAX_PARKS);
    assert_eq!(pool.parks(), max, "parked until the bound, then held");
    let seen = venue.received().await;
    let drawn = seen.iter().filter(|l| l.contains("/drawn/")).count() as u64;
    assert_eq!(
        drawn, max,
        "one drawn request per run but the first: {seen:#?}"
    );
    for fixed in ["/fixed/a", "/fixed/b"] {
        let n = seen.iter().filter(|l| l.contains(fixed)).count();
        assert_eq!(n, 1, "{fixed} sent once: {seen:#?}");
    }
}

/// A rate limit the plugin reads from the answer to a parked request (a
/// Kraken-style error in a 200 body) is booked against the endpoint that
/// answered, as for a held call: with per-endpoint limits the call runs
/// again at the next endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_read_from_a_parked_answer_is_booked_against_its_endpoint() {
    use wiremock::matchers::path;
    let (first, second) = (MockServer::start().await, MockServer::start().await);
    Mock::given(path("/ticker"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"error": ["EAPI:Rate limit exceeded"], "retry_after_ms": 60000}),
            ),
        )
        .mount(&first)
        .await;
    Mock::given(path("/ticker"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"error": [], "result": "second"})),
        )
        .mount(&second)
        .await;
    let host = TestHost::start(
        &["echo"],
        "max_waiting_instances = 0",
        &format!(
            "[venues.v]\nplugin = \"echo\"\nendpoints = [\"{}\", \"{}\"]\ntimeout_ms = 1000\n\
             deadline_ms = 8000\nretry = {{ max_attempts = 3, base_delay_ms = 10, jitter = 0.0, \
             failover_on_rate_limit = true }}\n",
            first.uri(),
            second.uri()
        ),
    )
    .await;
    let out = call(&host, "checked", &json!({"path": "/ticker"})).await;
    assert_eq!(out, Ok(json!("second")));
    let counts = (
        first.received_requests().await.unwrap_or_default().len(),
        second.received_requests().await.unwrap_or_default().len(),
    );
    assert_eq!(counts, (1, 1), "each endpoint asked once");
    let pool = &host.app.loaded().venues["v"].pool;
    assert_eq!(pool.parks(), 2, "both runs parked at their send");
    let metrics = host.get("/metrics").await.1;
    let metrics = parse_prometheus(metrics.as_str().unwrap_or_default());
    let limited = series("resilience_rate_limited_total", &[("venue", "v")]);
    assert_eq!(metrics.get(&limited), Some(&1.0), "{metrics:?}");
}

/// A `send-all` over the host's bound of 64 requests is refused whole before
/// anything is sent, recorded or replayed, whether the read may park or not.
#[tokio::test]
async fn an_oversized_send_all_is_refused_before_anything_is_sent_or_recorded() {
    for limits in ["max_waiting_instances = 0", "max_waiting_instances = 1024"] {
        let v = echo_venue((Duration::ZERO, Duration::ZERO), limits).await;
        let requests: Vec<Value> = (0..65).map(|i| json!({"path": format!("/r{i}")})).collect();
        let (s, b) = v
            .host
            .post("/v1/venues/v/send_all", &json!({"requests": requests}))
            .await;
        assert_eq!(s, 200, "{limits}: {b}");
        let results = b.as_array().expect("one result per request");
        assert_eq!(results.len(), 65, "{limits}");
        for r in results {
            let text = r["error"].as_str().unwrap_or_default();
            assert!(text.contains("at most 64"), "{limits}: {r}");
        }
        assert!(v.received().await.is_empty(), "{limits}");
    }
}
