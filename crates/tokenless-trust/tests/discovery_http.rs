//! HTTP discovery over real loopback: `<iss>/.well-known/openid-configuration` → `jwks_uri`,
//! cached, refreshed on an unknown kid at most once a minute, old keys kept on failure.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokenless_trust::discovery::HttpFetcher;
use tokenless_trust::signer::{SigningKey, jwks_document};
use tokenless_trust::{CachingJwks, JwksFetcher, JwksSource, KeyLookupError};

/// A tiny HTTP/1.1 server: path → (status, body). Counts requests.
struct Server {
    base: String,
    routes: Arc<Mutex<Vec<(String, u16, String)>>>,
    hits: Arc<AtomicUsize>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let routes: Arc<Mutex<Vec<(String, u16, String)>>> = Arc::new(Mutex::new(Vec::new()));
        let hits = Arc::new(AtomicUsize::new(0));
        let (r, h) = (routes.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                h.fetch_add(1, Ordering::SeqCst);
                let text = String::from_utf8_lossy(&buf);
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, body) = r
                    .lock()
                    .map(|routes| {
                        routes
                            .iter()
                            .find(|(p, _, _)| *p == path)
                            .map(|(_, s, b)| (*s, b.clone()))
                            .unwrap_or((404, "{}".into()))
                    })
                    .unwrap_or((500, String::new()));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Server { base, routes, hits }
    }

    fn route(&self, path: &str, status: u16, body: &Value) {
        let mut routes = self.routes.lock().expect("lock");
        routes.retain(|(p, _, _)| p != path);
        routes.push((path.to_owned(), status, body.to_string()));
    }
}

#[test]
fn discovery_then_jwks_over_loopback_with_cache_policy() {
    let server = Server::start();
    let iss = format!("{}/-/sandbox/oidc/github", server.base);
    let k1 = SigningKey::generate_es256("k1").expect("key");
    let k2 = SigningKey::generate_es256("k2").expect("key");
    server.route(
        "/-/sandbox/oidc/github/.well-known/openid-configuration",
        200,
        &json!({"issuer": iss, "jwks_uri": format!("{}/-/sandbox/oidc/github/.well-known/jwks", server.base)}),
    );
    server.route(
        "/-/sandbox/oidc/github/.well-known/jwks",
        200,
        &jwks_document([&k1]),
    );

    let cache = CachingJwks::new(HttpFetcher::allow_http().expect("client"));
    assert_eq!(
        cache.key(&iss, "k1", 1000).map(|k| k.kid().to_owned()),
        Ok("k1".to_owned())
    );
    assert_eq!(server.hits.load(Ordering::SeqCst), 2, "discovery + jwks");
    // Cached.
    assert!(cache.key(&iss, "k1", 1001).is_ok());
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    // Rotation: unknown kid within the cooldown is not fetched.
    server.route(
        "/-/sandbox/oidc/github/.well-known/jwks",
        200,
        &jwks_document([&k1, &k2]),
    );
    assert!(matches!(
        cache.key(&iss, "k2", 1010),
        Err(KeyLookupError::UnknownKid { .. })
    ));
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    // After a minute it is.
    assert!(cache.key(&iss, "k2", 1060).is_ok());
    assert_eq!(server.hits.load(Ordering::SeqCst), 4);
    // The issuer goes down: old keys stay usable.
    server.route("/-/sandbox/oidc/github/.well-known/jwks", 503, &json!({}));
    assert!(cache.key(&iss, "k3", 1200).is_err());
    assert_eq!(server.hits.load(Ordering::SeqCst), 6);
    assert!(cache.key(&iss, "k1", 1201).is_ok());
    assert!(cache.key(&iss, "k2", 1202).is_ok());
}

#[test]
fn discovery_refuses_mismatched_issuer_and_http_when_https_only() {
    let server = Server::start();
    let iss = format!("{}/iss", server.base);
    server.route(
        "/iss/.well-known/openid-configuration",
        200,
        &json!({"issuer": "https://evil.example", "jwks_uri": format!("{}/jwks", server.base)}),
    );
    let fetcher = HttpFetcher::allow_http().expect("client");
    let err = fetcher.fetch(&iss).err().unwrap_or_default();
    assert!(err.contains("issuer is"), "{err}");
    let https_only = HttpFetcher::https_only().expect("client");
    let err = https_only.fetch(&iss).err().unwrap_or_default();
    assert!(err.contains("only https"), "{err}");
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        1,
        "the https-only fetcher sent nothing"
    );
}
