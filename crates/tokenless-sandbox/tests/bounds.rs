//! The sandbox cannot be starved or made to grow without bound: half-sent headers time out,
//! shutdown is bounded with connections open, broken bodies are 400, stored strings and
//! collections are capped, the state file is private and never written through a symlink,
//! and scenario/state files are read only when they are regular files of bounded size.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{get_json, send_json, start, start_with};
use reqwest::Method;
use serde_json::json;
use tokenless_sandbox::{Sandbox, SandboxOptions, Scenario};

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap_or_else(|e| panic!("{e}"));
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_are_dropped_and_do_not_starve_other_clients() {
    let sb = start(Scenario::Legacy).await;
    let addr = sb.addr();
    let started = Instant::now();
    let stalled: Vec<TcpStream> = tokio::task::spawn_blocking(move || {
        (0..300)
            .map(|_| {
                let mut s = connect(addr);
                s.write_all(b"GET /-/ping HTTP/1.1\r\nHost: x\r\n")
                    .unwrap_or_else(|e| panic!("{e}"));
                s
            })
            .collect()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    // Others are still served while 300 connections hold half their headers.
    let (status, _) = get_json(&format!("{}-/ping", sb.url()), None).await;
    assert_eq!(status, 200);
    // The stalled connections are closed once the header timeout passes.
    let closed = tokio::task::spawn_blocking(move || {
        let mut closed = 0;
        for mut s in stalled.into_iter().take(20) {
            let mut buf = [0u8; 512];
            // EOF (0) or an error both mean the server gave up on the connection; a
            // response to half a request would be a bug.
            match s.read(&mut buf) {
                Ok(0) | Err(_) => closed += 1,
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if text.contains("408") || text.contains("400") {
                        closed += 1;
                    }
                }
            }
        }
        closed
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(closed, 20);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "closed after {:?}",
        started.elapsed()
    );
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_open_connections_is_bounded_and_saves_state() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = dir.path().join("state.json");
    let sb = start_with(SandboxOptions {
        state: Some(state.clone()),
        ..SandboxOptions::default()
    })
    .await;
    let addr = sb.addr();
    let held: Vec<TcpStream> = (0..50)
        .map(|i| {
            let mut s = connect(addr);
            if i % 2 == 0 {
                let _ = s.write_all(b"GET /-/ping HTTP/1.1\r\nHost: x\r\n");
            }
            s
        })
        .collect();
    let t = Instant::now();
    sb.shutdown().await;
    let took = t.elapsed();
    assert!(
        took <= Duration::from_secs(2),
        "shutdown took {took:?} with 50 open connections"
    );
    drop(held);
    let meta = std::fs::metadata(&state).unwrap_or_else(|e| panic!("state file: {e}"));
    assert!(meta.len() > 0);
}

#[cfg(unix)]
#[tokio::test]
async fn state_file_is_private_and_never_written_through_a_symlink() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let target = dir.path().join("elsewhere.txt");
    std::fs::write(&target, "precious").unwrap_or_else(|e| panic!("{e}"));
    let state = dir.path().join("state.json");
    std::os::unix::fs::symlink(&target, &state).unwrap_or_else(|e| panic!("{e}"));
    // A dangling-looking state (the symlink points at a non-state file): loading must fail
    // cleanly, and the target must survive.
    let loaded = Sandbox::start(SandboxOptions {
        state: Some(state.clone()),
        ..SandboxOptions::default()
    })
    .await;
    assert!(
        loaded.is_err(),
        "a symlink to a non-state file is not a state file"
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap_or_default(),
        "precious"
    );
    // A fresh path: written 0600.
    let fresh = dir.path().join("fresh.json");
    let sb = start_with(SandboxOptions {
        state: Some(fresh.clone()),
        ..SandboxOptions::default()
    })
    .await;
    sb.shutdown().await;
    let mode = std::fs::metadata(&fresh)
        .unwrap_or_else(|e| panic!("{e}"))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    // Replace it by a symlink to a victim file: the next save replaces the link, not the
    // victim.
    std::fs::remove_file(&fresh).unwrap_or_else(|e| panic!("{e}"));
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep").unwrap_or_else(|e| panic!("{e}"));
    let sb = start_with(SandboxOptions {
        state: Some(fresh.clone()),
        ..SandboxOptions::default()
    })
    .await;
    std::os::unix::fs::symlink(&victim, dir.path().join("link.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::rename(dir.path().join("link.json"), &fresh).unwrap_or_else(|e| panic!("{e}"));
    sb.shutdown().await;
    assert_eq!(std::fs::read_to_string(&victim).unwrap_or_default(), "keep");
    assert!(
        !std::fs::symlink_metadata(&fresh)
            .unwrap_or_else(|e| panic!("{e}"))
            .file_type()
            .is_symlink()
    );
}

#[tokio::test]
async fn a_broken_chunked_body_is_400_not_413() {
    let sb = start(Scenario::Legacy).await;
    let addr = sb.addr();
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = connect(addr);
        s.write_all(
            b"PUT /left-pad HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        answer.starts_with("HTTP/1.1 400"),
        "a malformed chunk is the client's error: {answer}"
    );
}

#[tokio::test]
async fn oversized_strings_and_collections_are_refused() {
    let sb = start(Scenario::Legacy).await;
    let info = sb.info();
    let api = info.circleci_api.clone();
    let org = info.circleci.org_id.clone();
    let circle = Some(info.circleci.token.as_str());
    let huge = "x".repeat(10 * 1024 * 1024);
    let (status, body) = send_json(
        Method::POST,
        &format!("{api}/context"),
        circle,
        None,
        &json!({"name": huge, "owner": {"id": org, "type": "organization"}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let ctx = &info.circleci.contexts[0].id;
    let (status, _) = send_json(
        Method::PUT,
        &format!("{api}/context/{ctx}/environment-variable/BIG"),
        circle,
        None,
        &json!({"value": "v".repeat(100_000)}),
    )
    .await;
    assert_eq!(status, 400);
    let mut last = 0;
    for i in 0..120 {
        let (status, _) = send_json(
            Method::POST,
            &format!("{api}/context/{ctx}/restrictions"),
            circle,
            None,
            &json!({"restriction_type": "expression", "restriction_value": format!("pipeline.git.branch == \"b{i}\"")}),
        )
        .await;
        last = status;
        if status != 201 {
            break;
        }
    }
    assert_eq!(last, 409, "restrictions stop at the cap");
    let (_, doc) = get_json(&format!("{}-/sandbox/info", sb.url()), None).await;
    assert!(doc.to_string().len() < 1024 * 1024, "info stays small");
}

#[tokio::test]
async fn scenario_files_that_never_end_are_refused_at_once() {
    let t = Instant::now();
    let zero = Scenario::File("/dev/zero".into()).load();
    assert!(
        zero.as_ref()
            .err()
            .is_some_and(|e| e.to_string().contains("not a regular file")),
        "{zero:?}"
    );
    #[cfg(unix)]
    {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap_or_else(|e| panic!("mkfifo: {e}"));
        assert!(made.success());
        let loaded = Scenario::File(fifo.clone()).load();
        assert!(loaded.is_err(), "a FIFO with no writer must not block");
        let state = Sandbox::start(SandboxOptions {
            state: Some(fifo),
            ..SandboxOptions::default()
        })
        .await;
        assert!(state.is_err());
        let sparse = dir.path().join("sparse.json");
        std::fs::File::create(&sparse)
            .and_then(|f| f.set_len(10 * 1024 * 1024 * 1024))
            .unwrap_or_else(|e| panic!("{e}"));
        let loaded = Scenario::File(sparse).load();
        assert!(
            loaded
                .as_ref()
                .err()
                .is_some_and(|e| e.to_string().contains("more than")),
            "{loaded:?}"
        );
    }
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}
