//! The Chainlink plugin's issue-20 behaviour through the real host against a
//! wiremock JSON-RPC provider: the chain check (`wrong_chain`), the L2
//! sequencer uptime check (`sequencer_down`, `grace_period`), `at_bound` from
//! the aggregator's bounds, staleness from `updatedAt` alone, and `get_round`.

use std::time::{SystemTime, UNIX_EPOCH};

use resilience_tests::TestHost;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ETH: &str = "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419";
const ARB_ETH: &str = "0x639Fe6ab55C921f74e7fac1ee960C0B6293ba612";
const ARB_SEQ: &str = "0xFdB631F5EE196F0ed6FAa767959853A9F217697D";
const AGG: &str = "0x00000000000000000000000000000000000a6601";
const ROUND: u128 = (6 << 64) | 0x4716;

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A provider on chain `chain_id` whose feeds all answer `answer` (8
/// decimals) updated `age_s` ago, with aggregator bounds `[1, max]`, and a
/// sequencer feed answering `sequencer` since `since_s` ago.
#[derive(Clone)]
struct Provider {
    chain_id: &'static str,
    answer: u128,
    age_s: u64,
    answered_in_round: u128,
    max: u128,
    sequencer: u128,
    since_s: u64,
}

impl Default for Provider {
    fn default() -> Self {
        Self {
            chain_id: "0x1",
            answer: 352_098_000_000,
            age_s: 10,
            answered_in_round: ROUND,
            max: 1_000_000_000_000,
            sequencer: 0,
            since_s: 100_000,
        }
    }
}

fn words(w: &[u128]) -> String {
    format!(
        "0x{}",
        w.iter().map(|v| format!("{v:064x}")).collect::<String>()
    )
}

impl Respond for Provider {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let call: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let to = call["params"][0]["to"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let data = call["params"][0]["data"].as_str().unwrap_or_default();
        let result = if call["method"] == "eth_chainId" {
            json!(self.chain_id)
        } else if to == ARB_SEQ.to_ascii_lowercase() {
            let since = u128::from(now_s() - self.since_s);
            json!(words(&[1, self.sequencer, since, since, 1]))
        } else {
            let updated = u128::from(now_s() - self.age_s);
            match &data[..10.min(data.len())] {
                "0xfeaf968c" | "0x9a6fc8f5" => json!(words(&[
                    ROUND,
                    self.answer,
                    updated,
                    updated,
                    self.answered_in_round
                ])),
                "0x313ce567" => json!(words(&[8])),
                "0x245a7bfc" => json!(format!("0x{:0>64}", AGG.trim_start_matches("0x"))),
                "0x22adbc78" => json!(words(&[1])),
                "0x70da2f67" => json!(words(&[self.max])),
                _ => json!("0x"),
            }
        };
        ResponseTemplate::new(200)
            .set_body_json(json!({"jsonrpc": "2.0", "id": call["id"], "result": result}))
    }
}

async fn start(p: Provider, settings: &str) -> (MockServer, TestHost) {
    let (mut servers, host) = start_many(vec![p], settings).await;
    (servers.remove(0), host)
}

/// A host whose chainlink venue has one endpoint per provider, in order.
async fn start_many(providers: Vec<Provider>, settings: &str) -> (Vec<MockServer>, TestHost) {
    let mut servers = Vec::new();
    for p in providers {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(p)
            .mount(&server)
            .await;
        servers.push(server);
    }
    let uris: Vec<String> = servers.iter().map(MockServer::uri).collect();
    (servers, host_for(&uris, settings).await)
}

/// A host whose chainlink venue has `uris` as its endpoints, one attempt each.
async fn host_for(uris: &[String], settings: &str) -> TestHost {
    let endpoints: Vec<String> = uris.iter().map(|u| format!("{u:?}")).collect();
    let venue = format!(
        "[venues.chainlink]\nplugin = \"chainlink\"\nendpoints = [{}]\n\
         timeout_ms = 2000\ndeadline_ms = 5000\nretry = {{ max_attempts = 1 }}\nsettings = {{ {settings} }}\n",
        endpoints.join(", ")
    );
    TestHost::start(&["chainlink"], "", &venue).await
}

async fn get_price(host: &TestHost, pair: &str) -> (u16, Value) {
    host.post("/v1/venues/chainlink/get_price", &json!({ "pair": pair }))
        .await
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn price_carries_at_bound_and_the_chain_is_checked_once() {
    let (server, host) = start(Provider::default(), "").await;
    for _ in 0..2 {
        let (status, body) = get_price(&host, "ETH/USD").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["price"], "3520.98");
        assert_eq!(body["at_bound"], false);
        assert_eq!(body["chain"], "ethereum");
    }
    let sent = bodies(&server).await;
    let chain_checks = sent.iter().filter(|b| b["method"] == "eth_chainId").count();
    // Once per instance; a second instance (if the host made one) asks again.
    assert!((1..=2).contains(&chain_checks), "{sent:?}");
    assert!(
        sent.iter()
            .any(|b| b["params"][0]["to"] == AGG && b["params"][0]["data"] == "0x22adbc78")
    );
}

#[tokio::test]
async fn answer_pinned_at_max_answer_is_flagged() {
    let p = Provider {
        answer: 1_000_000_000_000,
        ..Provider::default()
    };
    let (_server, host) = start(p, "").await;
    let (status, body) = get_price(&host, "ETH/USD").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["at_bound"], true);
}

#[tokio::test]
async fn provider_on_the_wrong_chain_is_refused_by_name() {
    let p = Provider {
        chain_id: "0xa4b1",
        ..Provider::default()
    };
    let (_server, host) = start(p, "").await;
    let (status, body) = get_price(&host, "ETH/USD").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["kind"], "upstream");
    assert_eq!(body["error"]["code"], "wrong_chain");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("42161"),
        "{body}"
    );
}

#[tokio::test]
async fn l2_price_reads_the_arbitrum_book_after_the_sequencer_check() {
    let p = Provider {
        chain_id: "0xa4b1",
        ..Provider::default()
    };
    let (server, host) = start(p, "chain = \"arbitrum\"").await;
    let (status, body) = get_price(&host, "ETH/USD").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["chain"], "arbitrum");
    let sent = bodies(&server).await;
    let to: Vec<&str> = sent
        .iter()
        .filter_map(|b| b["params"][0]["to"].as_str())
        .collect();
    assert!(to.contains(&ARB_SEQ) && to.contains(&ARB_ETH), "{to:?}");
    assert!(!to.contains(&ETH));
}

#[tokio::test]
async fn sequencer_down_is_refused_with_its_code() {
    let p = Provider {
        chain_id: "0xa4b1",
        sequencer: 1,
        ..Provider::default()
    };
    let (_server, host) = start(p, "chain = \"arbitrum\"").await;
    let (status, body) = host
        .post(
            "/v1/venues/chainlink/get_prices",
            &json!({"pairs": ["ETH/USD", "BTC/USD"]}),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "sequencer_down");
}

#[tokio::test]
async fn sequencer_back_within_the_grace_period_is_refused() {
    let p = Provider {
        chain_id: "0xa4b1",
        since_s: 120,
        ..Provider::default()
    };
    let (_server, host) = start(p, "chain = \"arbitrum\", sequencer_grace_s = \"600\"").await;
    let (status, body) = get_price(&host, "ETH/USD").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "grace_period");
}

#[tokio::test]
async fn old_answered_in_round_is_not_stale_but_old_updated_at_is() {
    let p = Provider {
        answered_in_round: ROUND - 1,
        ..Provider::default()
    };
    let (_server, host) = start(p, "").await;
    let (status, body) = get_price(&host, "ETH/USD").await;
    assert_eq!(status, 200, "{body}");

    let p = Provider {
        age_s: 4000,
        ..Provider::default()
    };
    let (_server, host) = start(p, "").await;
    let (status, body) = get_price(&host, "ETH/USD").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["kind"], "stale_data");
}

#[tokio::test]
async fn get_round_reads_a_past_round() {
    let p = Provider {
        age_s: 30 * 86_400,
        ..Provider::default()
    };
    let (server, host) = start(p, "").await;
    let (status, body) = host
        .post(
            "/v1/venues/chainlink/get_round",
            &json!({"pair": "ETH/USD", "round_id": "110680464442257327894"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["price"], "3520.98");
    assert_eq!(body["phase_id"], 6);
    let sent = bodies(&server).await;
    assert!(sent.iter().any(|b| b["params"][0]["data"]
        == "0x9a6fc8f50000000000000000000000000000000000000000000000060000000000004716"));
}

#[tokio::test]
async fn bad_round_id_and_unknown_chain_send_nothing() {
    let (server, host) = start(Provider::default(), "chain = \"polygon\"").await;
    let (status, body) = host
        .post(
            "/v1/venues/chainlink/get_round",
            &json!({"pair": "ETH/USD", "round_id": "0"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["kind"], "invalid_params");
    let (status, body) = get_price(&host, "ETH/USD").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["kind"], "unsupported");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn each_endpoint_is_checked_and_the_one_on_the_wrong_chain_is_named() {
    let wrong = Provider {
        chain_id: "0xa",
        ..Provider::default()
    };
    let (servers, host) = start_many(vec![Provider::default(), wrong], "").await;
    let (status, body) = get_price(&host, "ETH/USD").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "wrong_chain");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("endpoint 1 ") && message.contains("chain id 10"),
        "{body}"
    );
    for server in &servers {
        let asked = bodies(server).await;
        assert_eq!(
            asked
                .iter()
                .filter(|b| b["method"] == "eth_chainId")
                .count(),
            1,
            "each endpoint is asked its chain, pinned: {asked:?}"
        );
    }
}

#[tokio::test]
async fn quorum_2_reads_two_providers_and_refuses_when_they_disagree() {
    let (servers, host) = start_many(
        vec![Provider::default(), Provider::default()],
        "quorum = \"2\"",
    )
    .await;
    let (status, body) = get_price(&host, "ETH/USD").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["price"], &body["quorum"]),
        (&json!("3520.98"), &json!([0, 1]))
    );
    for server in &servers {
        let rounds = bodies(server)
            .await
            .iter()
            .filter(|b| b["params"][0]["data"] == "0xfeaf968c")
            .count();
        assert_eq!(rounds, 1, "each provider answers one latestRoundData()");
    }

    let lying = Provider {
        answer: 352_098_000_001,
        ..Provider::default()
    };
    let (_servers, host) = start_many(vec![Provider::default(), lying], "quorum = \"2\"").await;
    let (status, body) = host
        .post(
            "/v1/venues/chainlink/get_prices",
            &json!({"pairs": ["ETH/USD", "BTC/USD"]}),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "disagreement", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the same round differs"),
        "{body}"
    );
}

#[tokio::test]
async fn quorum_2_with_one_endpoint_is_refused_before_any_request() {
    let (server, host) = start(Provider::default(), "quorum = \"2\"").await;
    let (status, body) = get_price(&host, "ETH/USD").await;
    assert_eq!(body["error"]["kind"], "unsupported", "{body}");
    assert_eq!(status, 400, "{body}");
    assert!(bodies(&server).await.is_empty());
}

#[tokio::test]
async fn quorum_2_asks_the_third_provider_when_the_second_is_down() {
    let (first, third) = (MockServer::start().await, MockServer::start().await);
    for server in [&first, &third] {
        Mock::given(method("POST"))
            .respond_with(Provider::default())
            .mount(server)
            .await;
    }
    let dead = resilience_tests::faults::refused_addr().await;
    let uris = [first.uri(), format!("http://{dead}"), third.uri()];
    let host = host_for(&uris, "quorum = \"2\"").await;
    let (status, body) = get_price(&host, "ETH/USD").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["quorum"], json!([0, 2]), "{body}");
    // The third provider was asked its chain in round trip 1 and its round in
    // the replacement round trip.
    let asked: Vec<Value> = bodies(&third).await;
    assert!(
        asked.iter().any(|b| b["method"] == "eth_chainId"),
        "{asked:?}"
    );
    assert!(
        asked.iter().any(|b| b["params"][0]["data"] == "0xfeaf968c"),
        "{asked:?}"
    );
}
