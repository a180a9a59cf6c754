//! Every file the CLI reads from a path it was given is bounded before it is read: a device
//! (`/dev/zero`), a FIFO without a writer and a 10 GB sparse file each give a clear error
//! naming the path and what it is, within a second, for every flag that names a file. Each
//! run is under a 1 GiB address-space limit (`ulimit -v`), because reading such a file to
//! the end would otherwise exhaust the machine's memory instead of failing the test.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tokenless");

struct Run {
    code: Option<i32>,
    stderr: String,
    elapsed: Duration,
}

/// Runs the binary under `ulimit -v 1 GiB`, killed after 10 s if it hangs.
fn run_limited(dir: &Path, args: &[&str]) -> Run {
    let start = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 1048576 || exit 97; exec "$0" "$@""#)
        .arg(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("NPM_ID_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let deadline = start + Duration::from_secs(10);
    let status = loop {
        match child.try_wait().expect("wait") {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{args:?} still running after 10 s");
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let elapsed = start.elapsed();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read as _;
        let _ = pipe.read_to_string(&mut stderr);
    }
    assert_ne!(status.code(), Some(97), "ulimit -v is not available");
    Run {
        code: status.code(),
        stderr,
        elapsed,
    }
}

/// A directory with a usable token, trust config and JWKS, so that only the file under
/// test is wrong.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("token.jwt"), "x.y.z\n").expect("write");
    std::fs::write(
        dir.path().join("trust.json"),
        r#"{"type":"github","claims":{"repository":"acme/a","workflow_ref":{"file":"publish.yml"}},"permissions":["createPackage"]}"#,
    )
    .expect("write");
    std::fs::write(dir.path().join("jwks.json"), r#"{"keys":[]}"#).expect("write");
    dir
}

/// Every flag that names a file, with `target` in its place.
fn invocations(target: &str) -> Vec<(&'static str, Vec<String>)> {
    let explain = |flag: &str| {
        let mut args: Vec<String> = [
            "explain",
            "--id-token",
            "token.jwt",
            "--trust",
            "trust.json",
            "--jwks",
            "jwks.json",
            "--package",
            "@acme/a",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        if let Some(i) = args.iter().position(|a| a == flag) {
            args[i + 1] = target.to_owned();
        }
        args
    };
    let owned = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    vec![
        ("explain --id-token", explain("--id-token")),
        ("explain --trust", explain("--trust")),
        ("explain --jwks", explain("--jwks")),
        ("audit --config", owned(&["audit", "--config", target])),
        (
            "audit --record",
            owned(&[
                "audit",
                "--scope",
                "@acme",
                "--npm-token-env",
                "PATH",
                "--record",
                target,
            ]),
        ),
    ]
}

fn assert_refused_quickly(dir: &Path, target: &Path, what: &str) {
    let shown = target.display().to_string();
    for (name, args) in invocations(&shown) {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = run_limited(dir, &refs);
        assert_eq!(run.code, Some(2), "{name} {shown}: {}", run.stderr);
        assert!(
            run.stderr.contains(&shown) && run.stderr.contains(what),
            "{name} {shown}: the error should name the path and say {what:?}: {}",
            run.stderr
        );
        assert!(
            run.elapsed < Duration::from_secs(1),
            "{name} {shown}: took {:?}",
            run.elapsed
        );
    }
}

#[test]
fn dev_zero_is_refused_as_a_device() {
    let dir = workspace();
    assert_refused_quickly(
        dir.path(),
        Path::new("/dev/zero"),
        "is a character device, not a regular file",
    );
}

#[test]
fn a_fifo_without_a_writer_is_refused_without_blocking() {
    let dir = workspace();
    let fifo: PathBuf = dir.path().join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success(), "mkfifo failed");
    assert_refused_quickly(
        dir.path(),
        &fifo,
        "is a FIFO (named pipe), not a regular file",
    );
}

#[test]
fn a_ten_gigabyte_sparse_file_is_refused_by_its_size() {
    let dir = workspace();
    let big = dir.path().join("big.json");
    let file = std::fs::File::create(&big).expect("create");
    file.set_len(10 * 1024 * 1024 * 1024).expect("set_len");
    drop(file);
    assert_refused_quickly(dir.path(), &big, "is 10737418240 bytes, more than the");
}

#[test]
fn a_directory_is_refused_by_name() {
    let dir = workspace();
    let sub = dir.path().join("configs");
    std::fs::create_dir(&sub).expect("mkdir");
    assert_refused_quickly(dir.path(), &sub, "is a directory, not a regular file");
}
