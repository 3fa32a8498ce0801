//! The real Polymarket plugin against a wiremock CLOB, through the host's API:
//! the exact requests received, the L2 HMAC recomputed over the received
//! bytes, the order signature recomputed from the received order (EIP-712 in
//! this file, RFC 6979 with the host's own signer), and no secret in any
//! answer or metric.

use resilience_tests::TestHost;
use serde_json::{Value, json};
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Hardhat account 0: the key and its address.
const PRIVATE_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const API_KEY: &str = "5f0c1a2e-pm-test-api-key-6d4b";
const PASSPHRASE: &str = "pm-test-passphrase-0b7e91";
/// The L2 HMAC key as the host must hold it: the base64url-*decoded* API
/// secret (Polymarket would hand out `base64url(HMAC_KEY)`). ASCII so that
/// it can travel through an environment variable.
const HMAC_KEY: &str = "pm-l2-integration-hmac-key-32by!";
const V2_EXCHANGE: &str = "0xE111180000d2663C0091e4f400237545B87B996B";

fn venue(endpoint: &str) -> String {
    format!(
        "[venues.polymarket]\nplugin = \"polymarket\"\nendpoints = [\"{endpoint}\"]\n\
         timeout_ms = 2000\ndeadline_ms = 5000\n\
         settings = {{ address = \"{ADDRESS}\", owner = \"{API_KEY}\", chain_id = 137, exchange_version = \"2\" }}\n\
         secrets = {{ api_key = {{ env = \"PM_API_KEY\" }}, api_secret = {{ env = \"PM_API_SECRET\" }}, \
         passphrase = {{ env = \"PM_PASSPHRASE\" }}, private_key = {{ env = \"PM_PRIVATE_KEY\" }} }}\n"
    )
}

async fn host_for(server: &MockServer) -> TestHost {
    let env = [
        ("PM_API_KEY", API_KEY),
        ("PM_API_SECRET", HMAC_KEY),
        ("PM_PASSPHRASE", PASSPHRASE),
        ("PM_PRIVATE_KEY", PRIVATE_KEY),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec();
    TestHost::start_with_env(&["polymarket"], "", &venue(&server.uri()), env).await
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn header_of<'a>(req: &'a Request, name: &str) -> &'a str {
    req.headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing from {:?}", req.headers))
        .to_str()
        .unwrap()
}

/// The L2 headers of `req` are all there and `POLY_SIGNATURE` is the HMAC of
/// `timestamp + METHOD + path + body` over the bytes the venue received,
/// recomputed with the host's own HMAC and the venue's secret.
fn assert_l2_signed(host: &TestHost, req: &Request) {
    assert_eq!(header_of(req, "POLY_ADDRESS"), ADDRESS);
    assert_eq!(
        header_of(req, "POLY_API_KEY"),
        API_KEY,
        "placeholder substituted"
    );
    assert_eq!(header_of(req, "POLY_PASSPHRASE"), PASSPHRASE);
    let ts = header_of(req, "POLY_TIMESTAMP");
    let secs: u64 = ts.parse().expect("unix seconds");
    assert!(
        secs.abs_diff(now_s()) < 60,
        "POLY_TIMESTAMP {ts} is seconds, now"
    );
    let mut message = format!("{ts}{}{}", req.method.as_str(), req.url.path()).into_bytes();
    message.extend_from_slice(&req.body);
    let loaded = host.app.loaded();
    let ctx = &loaded.venues["polymarket"].ctx;
    let mac = ctx.hmac_sha256("api_secret", &message).unwrap();
    assert_eq!(header_of(req, "POLY_SIGNATURE"), base64url(&mac));
    assert_eq!(mac, hmac_reference(HMAC_KEY.as_bytes(), &message));
}

#[tokio::test]
async fn public_market_data_is_unsigned_and_reads_mid_price() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/midpoint"))
        .and(query_param("token_id", "1234"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"mid_price": "0.45"})))
        .expect(1)
        .mount(&server)
        .await;
    let host = host_for(&server).await;
    let (status, body) = host
        .post(
            "/v1/venues/polymarket/get_midpoint",
            &json!({"token_id": "1234"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"token_id": "1234", "mid": "0.45"}));
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert!(
        received[0]
            .headers
            .keys()
            .all(|k| !k.as_str().starts_with("poly_")),
        "public endpoints carry no credentials: {:?}",
        received[0].headers
    );
}

#[tokio::test]
async fn open_orders_pages_are_l2_signed_over_the_path_without_query() {
    let server = MockServer::start().await;
    for (cursor, next, ids) in [
        ("MA==", "Mg==", vec!["0xa", "0xb"]),
        ("Mg==", "LTE=", vec!["0xc"]),
    ] {
        let data: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id, "status": "LIVE"}))
            .collect();
        Mock::given(method("GET"))
            .and(path("/data/orders"))
            .and(query_param("asset_id", "1234"))
            .and(query_param("next_cursor", cursor))
            .and(header("POLY_API_KEY", API_KEY))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"data": data, "next_cursor": next})),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let host = host_for(&server).await;
    let (status, body) = host
        .post(
            "/v1/venues/polymarket/get_open_orders",
            &json!({"asset_id": "1234"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["0xa", "0xb", "0xc"]);
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    for req in &received {
        assert_eq!(req.method.as_str(), "GET");
        assert!(req.body.is_empty());
        assert_l2_signed(&host, req);
    }
    assert_eq!(
        received[0].url.query(),
        Some("asset_id=1234&next_cursor=MA%3D%3D")
    );
}

#[tokio::test]
async fn limit_order_is_signed_by_the_configured_key_and_l2_signed_over_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/order"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true, "errorMsg": "", "orderID": "0xfeed", "status": "live",
            "takingAmount": "", "makingAmount": "", "transactionsHashes": [], "tradeIDs": []
        })))
        .expect(1)
        .mount(&server)
        .await;
    let host = host_for(&server).await;
    let (status, out) = host
        .post(
            "/v1/venues/polymarket/create_limit_order",
            &json!({"token_id": "1234", "side": "BUY", "price": "0.52", "size": "12.5"}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        (out["orderID"].as_str(), out["status"].as_str()),
        (Some("0xfeed"), Some("live"))
    );

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let req = &received[0];
    assert_eq!(header_of(req, "content-type"), "application/json");
    assert_l2_signed(&host, req);

    let body: Value = serde_json::from_slice(&req.body).unwrap();
    let o = &body["order"];
    assert_eq!(
        (
            body["owner"].as_str(),
            body["orderType"].as_str(),
            body["deferExec"].as_bool(),
            body["postOnly"].as_bool()
        ),
        (Some(API_KEY), Some("GTC"), Some(false), Some(false))
    );
    // 0.52 × 12.5 = 6.5 USDC for 12.5 shares, in 6-decimal units.
    assert_eq!(
        (
            o["maker"].as_str(),
            o["signer"].as_str(),
            o["tokenId"].as_str(),
            o["makerAmount"].as_str(),
            o["takerAmount"].as_str(),
            o["side"].as_str(),
            o["signatureType"].as_u64(),
            o["expiration"].as_str()
        ),
        (
            Some(ADDRESS),
            Some(ADDRESS),
            Some("1234"),
            Some("6500000"),
            Some("12500000"),
            Some("BUY"),
            Some(0),
            Some("0")
        )
    );
    let ts: u128 = o["timestamp"].as_str().unwrap().parse().unwrap();
    assert!((ts / 1000) as u64 >= now_s() - 60);

    // The V2 EIP-712 digest of the order as received, computed here.
    let domain = keccak256(
        &[
            keccak256(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
            keccak256(b"Polymarket CTF Exchange"),
            keccak256(b"2"),
            uint(137),
            address(V2_EXCHANGE),
        ]
        .concat(),
    );
    let struct_hash = keccak256(
        &[
            keccak256(b"Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)"),
            uint(u128::from(o["salt"].as_u64().unwrap())),
            address(ADDRESS),
            address(ADDRESS),
            uint(1234),
            uint(6_500_000),
            uint(12_500_000),
            uint(0),
            uint(0),
            uint(ts),
            [0u8; 32],
            [0u8; 32],
        ]
        .concat(),
    );
    let digest = keccak256(&[&[0x19u8, 0x01][..], &domain, &struct_hash].concat());
    assert_eq!(out["order_hash"], format!("0x{}", hex(&digest)));
    // RFC 6979 is deterministic: the host's signer, given this digest and the
    // key whose address is ADDRESS, must produce exactly the signature sent.
    let loaded = host.app.loaded();
    let expected = loaded.venues["polymarket"]
        .ctx
        .sign_secp256k1("private_key", &digest)
        .unwrap();
    assert_eq!(o["signature"], format!("0x{}", hex(&expected)));
    assert!(matches!(expected[64], 27 | 28));
}

#[tokio::test]
async fn market_order_reads_the_book_in_prepare_then_posts_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/book"))
        .and(query_param("token_id", "1234"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "asks": [{"price": "0.60", "size": "100"}, {"price": "0.55", "size": "10"}],
            "bids": []
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/order"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true, "errorMsg": "", "orderID": "0xbeef", "status": "matched"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let host = host_for(&server).await;
    let (status, out) = host
        .post(
            "/v1/venues/polymarket/create_market_order",
            &json!({"token_id": "1234", "side": "BUY", "amount": "10"}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        (out["status"].as_str(), out["price"].as_str()),
        (Some("matched"), Some("0.60"))
    );
    let received = server.received_requests().await.unwrap();
    let order: Value = serde_json::from_slice(&received[1].body).unwrap();
    // 10 USDC at 0.60 = 3/5: 3333333 lots.
    assert_eq!(
        (
            order["order"]["makerAmount"].as_str(),
            order["order"]["takerAmount"].as_str(),
            order["orderType"].as_str()
        ),
        (Some("9999999"), Some("16666665"), Some("FOK"))
    );
    assert_l2_signed(&host, &received[1]);
}

#[tokio::test]
async fn venue_errors_are_upstream_and_nothing_shows_a_secret() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/order"))
        .and(body_string(r#"{"orderID":"0xabc"}"#))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"error": "Invalid order id"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/balance-allowance"))
        .and(query_param("asset_type", "COLLATERAL"))
        .and(query_param("signature_type", "0"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"balance": "1500000", "allowances": {}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let host = host_for(&server).await;
    let mut seen = Vec::new();

    let (status, err) = host
        .post(
            "/v1/venues/polymarket/cancel_order",
            &json!({"order_id": "0xabc"}),
        )
        .await;
    assert_eq!(status, 502, "{err}");
    assert_eq!(err["error"]["kind"], "upstream");
    assert_eq!(err["error"]["upstream_status"], 400);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid order id"),
        "{err}"
    );
    seen.push(err.to_string());

    let (status, balance) = host
        .post("/v1/venues/polymarket/get_balance", &json!({}))
        .await;
    assert_eq!(status, 200, "{balance}");
    assert_eq!(balance["balance"], "1500000");
    seen.push(balance.to_string());

    for req in server.received_requests().await.unwrap() {
        assert_l2_signed(&host, &req);
    }
    for p in ["/v1/venues", "/v1/stats"] {
        seen.push(host.get(p).await.1.to_string());
    }
    let (_, _, metrics) = host
        .request(http::Method::GET, "/metrics", Default::default(), &[])
        .await;
    seen.push(metrics.to_string());
    for (i, text) in seen.iter().enumerate() {
        for secret in [API_KEY, PASSPHRASE, HMAC_KEY, &PRIVATE_KEY[2..]] {
            assert!(!text.contains(secret), "output {i} leaks {secret}:\n{text}");
        }
    }
}

// --- Reference implementations, so the checks above do not trust the plugin's SDK.

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn uint(v: u128) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[16..].copy_from_slice(&v.to_be_bytes());
    w
}

fn address(a: &str) -> [u8; 32] {
    let digits = a.trim_start_matches("0x");
    let mut w = [0u8; 32];
    for i in 0..20 {
        w[12 + i] = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).unwrap();
    }
    w
}

/// Keccak-256 (Ethereum's padding), after the reference keccak-f[1600].
fn keccak256(data: &[u8]) -> [u8; 32] {
    const RC: [u64; 24] = [
        0x0000000000000001,
        0x0000000000008082,
        0x800000000000808a,
        0x8000000080008000,
        0x000000000000808b,
        0x0000000080000001,
        0x8000000080008081,
        0x8000000000008009,
        0x000000000000008a,
        0x0000000000000088,
        0x0000000080008009,
        0x000000008000000a,
        0x000000008000808b,
        0x800000000000008b,
        0x8000000000008089,
        0x8000000000008003,
        0x8000000000008002,
        0x8000000000000080,
        0x000000000000800a,
        0x800000008000000a,
        0x8000000080008081,
        0x8000000000008080,
        0x0000000080000001,
        0x8000000080008008,
    ];
    const RHO: [u32; 24] = [
        1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14, 27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44,
    ];
    const PI: [usize; 24] = [
        10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1,
    ];
    const RATE: usize = 136;
    let mut padded = data.to_vec();
    padded.push(0x01);
    padded.resize(padded.len().div_ceil(RATE) * RATE, 0);
    *padded.last_mut().unwrap() |= 0x80;
    let mut a = [0u64; 25];
    for block in padded.chunks(RATE) {
        for (lane, bytes) in a.iter_mut().zip(block.chunks(8)) {
            *lane ^= u64::from_le_bytes(bytes.try_into().unwrap());
        }
        for rc in RC {
            let c: [u64; 5] =
                std::array::from_fn(|x| a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20]);
            for x in 0..5 {
                let d = c[(x + 4) % 5] ^ c[(x + 1) % 5].rotate_left(1);
                for y in 0..5 {
                    a[x + 5 * y] ^= d;
                }
            }
            let mut last = a[1];
            for (rho, pi) in RHO.iter().zip(PI) {
                let next = a[pi];
                a[pi] = last.rotate_left(*rho);
                last = next;
            }
            for y in 0..5 {
                let row: [u64; 5] = std::array::from_fn(|x| a[5 * y + x]);
                for x in 0..5 {
                    a[5 * y + x] = row[x] ^ (!row[(x + 1) % 5] & row[(x + 2) % 5]);
                }
            }
            a[0] ^= rc;
        }
    }
    let mut out = [0u8; 32];
    for (chunk, lane) in out.chunks_mut(8).zip(a) {
        chunk.copy_from_slice(&lane.to_le_bytes());
    }
    out
}

/// HMAC-SHA256 (RFC 2104) over a straightforward SHA-256 (FIPS 180-4).
fn hmac_reference(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&sha256(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let inner: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(message.iter().copied())
        .collect();
    let outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).chain(sha256(&inner)).collect();
    sha256(&outer).to_vec()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes(block[4 * i..4 * i + 4].try_into().unwrap());
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (x, y) in h.iter_mut().zip(v) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[test]
fn reference_hashes_match_known_answers() {
    assert_eq!(
        hex(&keccak256(b"")),
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    );
    // More than one 136-byte block: the V2 domain separator on Amoy (vector file).
    let domain = [
        keccak256(
            b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
        ),
        keccak256(b"Polymarket CTF Exchange"),
        keccak256(b"2"),
        uint(80002),
        address(V2_EXCHANGE),
    ]
    .concat();
    assert_eq!(
        hex(&keccak256(&domain)),
        "a440cbd865bc0c6243d7a8df9a8bf48a8827b0a4abbb61c30e96d305423af148"
    );
    // RFC 4231 test case 2.
    assert_eq!(
        hex(&hmac_reference(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // The official Polymarket L2 vector (secret = 32 zero bytes).
    assert_eq!(
        base64url(&hmac_reference(
            &[0u8; 32],
            br#"1000000test-sign/orders{"hash": "0x123"}"#
        )),
        "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="
    );
    // EIP-712 V2 vector (shared/venues/vectors/polymarket_order_v2_eip712.json).
    assert_eq!(
        hex(&keccak256(b"Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)")),
        "bb86318a2138f5fa8ae32fbe8e659f8fcf13cc6ae4014a707893055433818589"
    );
}
