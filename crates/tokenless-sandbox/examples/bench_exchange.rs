//! OIDC exchanges per second over loopback HTTP at 32 concurrent keep-alive clients, with
//! p50/p99 latency, while 1,000 idle connections (connected, nothing sent) are held open,
//! next to the in-process verification rate of `tokenless-trust` measured in the same run on
//! the same kind of tokens. Run by `scripts/bench-sandbox`.
//!
//! Each exchange needs a fresh `(jti, package)` (replay protection), so the tokens are minted
//! before the clock starts: T tokens × P packages gives T·P distinct exchanges.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokenless_sandbox::{Sandbox, SandboxOptions, Scenario};
use tokenless_trust::{
    Action, InMemoryJtiStore, IssuerEntry, IssuerTable, KeySet, StaticJwks, TrustConfig, Verifier,
};

const PACKAGES: usize = 100;
const CLIENTS: usize = 32;

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tokens_n = arg(1, 200); // × PACKAGES exchanges over HTTP
    let idle_n = arg(2, 1000); // idle connections held open during the HTTP run
    let packages: Vec<String> = (0..PACKAGES).map(|i| format!("@bench/pkg-{i}")).collect();
    let trust = json!({"provider": "github", "repository": "bench/mono", "file": "publish.yml"});
    let scenario = json!({
        "org": "bench",
        "users": [{"name": "owner", "role": "owner"}],
        "packages": packages.iter().map(|p| json!({"name": p, "trust": trust})).collect::<Vec<_>>(),
    });
    let sb = Sandbox::start(SandboxOptions {
        scenario: Scenario::Inline(scenario.to_string()),
        ..SandboxOptions::default()
    })
    .await?;
    let base = sb.url().to_owned();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()?;

    let claims = |jti: String| {
        json!({
            "aud": sb.audience(), "jti": jti, "repository": "bench/mono",
            "workflow_ref": "bench/mono/.github/workflows/publish.yml@refs/heads/main",
            "event_name": "push", "repository_visibility": "private",
        })
    };
    let mint = |n: usize, tag: &str| {
        let (client, base) = (client.clone(), base.clone());
        let bodies: Vec<Value> = (0..n).map(|i| claims(format!("{tag}-{i}"))).collect();
        async move {
            let mut out = Vec::with_capacity(bodies.len());
            for body in bodies {
                let r: Value = client
                    .post(format!("{base}-/sandbox/oidc/github/token"))
                    .json(&body)
                    .send()
                    .await?
                    .json()
                    .await?;
                out.push(r["token"].as_str().unwrap_or_default().to_owned());
            }
            Ok::<_, reqwest::Error>(out)
        }
    };
    let http_tokens = mint(tokens_n, "http").await?;
    let local_tokens = mint(tokens_n, "local").await?;

    // In-process baseline: the trust library's verifier on the sandbox's GitHub issuer key.
    let jwks = client
        .get(format!("{base}-/sandbox/oidc/github/.well-known/jwks"))
        .send()
        .await?
        .bytes()
        .await?;
    let table = IssuerTable::new(vec![IssuerEntry::github(
        format!("{base}-/sandbox/oidc/github"),
        Arc::new(StaticJwks::new(KeySet::from_jwks_json(&jwks)?)),
    )]);
    let config = TrustConfig::from_json(
        &json!({"type": "github", "claims": {"repository": "bench/mono", "workflow_ref": {"file": "publish.yml"}}, "permissions": ["createPackage"]}),
        "bench",
    )?;
    let host = sb.audience().trim_start_matches("npm:").to_owned();
    let pairs: Vec<(usize, usize)> = (0..local_tokens.len())
        .flat_map(|t| (0..PACKAGES).map(move |p| (t, p)))
        .collect();
    let in_process = |threads: usize| -> Result<f64, String> {
        // Configured as the sandbox's exchange is (refusal details only).
        let verifier = Verifier::new(table.clone())
            .with_pass_details(false)
            .with_jti_store(Arc::new(InMemoryJtiStore::default()));
        let next = AtomicUsize::new(0);
        let start = Instant::now();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let now = tokenless_sandbox::clock::now_secs();
                        let mut refused = 0usize;
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&(t, p)) = pairs.get(i) else { break };
                            let d = verifier.verify_exchange(
                                &local_tokens[t],
                                std::slice::from_ref(&config),
                                &packages[p],
                                Action::Publish,
                                &host,
                                now,
                            );
                            refused += usize::from(!d.accepted);
                        }
                        refused
                    })
                })
                .collect();
            let refused: usize = handles.into_iter().map(|h| h.join().unwrap_or(1)).sum();
            if refused > 0 {
                Err(format!("{refused} in-process verifications refused"))
            } else {
                Ok(())
            }
        })?;
        Ok(pairs.len() as f64 / start.elapsed().as_secs_f64())
    };
    let cpu0 = cpu_seconds();
    let local_1 = in_process(1)?;
    let cpu_local = (cpu_seconds() - cpu0) / pairs.len() as f64;

    // Over HTTP: 32 keep-alive clients, each taking the next (token, package) pair.
    let http_tokens = Arc::new(http_tokens);
    let shared_packages = Arc::new(packages.clone());
    let total = http_tokens.len() * PACKAGES;
    let next = Arc::new(AtomicUsize::new(0));
    let addr = sb.addr();
    let mut idle = Vec::with_capacity(idle_n);
    for _ in 0..idle_n {
        idle.push(tokio::net::TcpStream::connect(addr).await?);
    }
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (tokens, packages, next) = (http_tokens.clone(), shared_packages.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = KeepAlive::connect(addr).await?;
            let mut lat = Vec::new();
            let mut failed = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let (t, p) = (i / PACKAGES, i % PACKAGES);
                let path = format!(
                    "/-/npm/v1/oidc/token/exchange/package/{}",
                    packages[p].replace('/', "%2f")
                );
                let t0 = Instant::now();
                let status = conn.post(&path, &tokens[t]).await?;
                lat.push(t0.elapsed());
                failed += usize::from(status != 201);
            }
            Ok::<_, std::io::Error>((lat, failed))
        }));
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(total);
    let mut failed = 0;
    for t in tasks {
        let (l, f) = t.await??;
        latencies.extend(l);
        failed += f;
    }
    let elapsed = start.elapsed();
    let cpu_http = (cpu_seconds() - cpu0) / total as f64;
    // Still open: the server neither closed them early nor stopped serving because of them.
    let still_open = idle
        .iter()
        .filter(|s| {
            let mut buf = [0u8; 1];
            matches!(s.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    drop(idle);
    let local_2 = in_process(2)?;
    latencies.sort();
    let pct = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let http_rate = total as f64 / elapsed.as_secs_f64();
    let (p50, p99) = (pct(0.50), pct(0.99));

    println!(
        "OIDC exchange benchmark ({} exchanges, {CLIENTS} keep-alive clients, {idle_n} idle connections, {} cores)",
        total,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("{:<44} {:>12}", "measure", "value");
    println!(
        "{:<44} {:>10.0}/s",
        "in-process verify_exchange, 1 thread", local_1
    );
    println!(
        "{:<44} {:>10.0}/s",
        "in-process verify_exchange, 2 threads", local_2
    );
    println!(
        "{:<44} {:>10.0}/s",
        "HTTP exchange (verify + mint + 201)", http_rate
    );
    println!(
        "{:<44} {:>10.2}ms",
        "HTTP p50 latency",
        p50.as_secs_f64() * 1e3
    );
    println!(
        "{:<44} {:>10.2}ms",
        "HTTP p99 latency",
        p99.as_secs_f64() * 1e3
    );
    println!(
        "{:<44} {:>11.0}%",
        "HTTP / in-process (1 thread)",
        100.0 * http_rate / local_1
    );
    println!(
        "{:<44} {:>11.0}%",
        "HTTP / in-process (2 threads)",
        100.0 * http_rate / local_2
    );
    println!(
        "{:<44} {:>10.0}µs",
        "CPU per in-process verification",
        cpu_local * 1e6
    );
    println!(
        "{:<44} {:>10.0}µs",
        "CPU per HTTP exchange (server + client)",
        cpu_http * 1e6
    );
    println!("{:<44} {:>12}", "failed exchanges", failed);
    println!(
        "{:<44} {:>12}",
        "idle connections held (open at the end)",
        format!("{idle_n} ({still_open})")
    );
    let goal = http_rate >= 0.5 * local_1 && p99 < Duration::from_millis(10) && failed == 0;
    println!(
        "goal (HTTP >= 50% of in-process 1-thread rate, p99 < 10 ms, no failures): {}",
        if goal { "met" } else { "NOT met" }
    );
    sb.shutdown().await;
    Ok(())
}

/// A minimal HTTP/1.1 keep-alive client (like wrk's): one connection, one request at a time,
/// so the benchmark measures the server and not a client library.
struct KeepAlive {
    stream: tokio::io::BufReader<tokio::net::TcpStream>,
    host: String,
}

impl KeepAlive {
    async fn connect(addr: std::net::SocketAddr) -> std::io::Result<KeepAlive> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(KeepAlive {
            stream: tokio::io::BufReader::new(stream),
            host: addr.to_string(),
        })
    }

    /// POSTs with no body and a bearer token; returns the status after reading the response.
    async fn post(&mut self, path: &str, token: &str) -> std::io::Result<u16> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nnpm-command: publish\r\ncontent-length: 0\r\n\r\n",
            self.host
        );
        self.stream.get_mut().write_all(req.as_bytes()).await?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            if self.stream.read_line(&mut line).await? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body).await?;
        Ok(status)
    }
}

/// CPU time (user + system) this process has used, from `/proc/self/stat` (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
