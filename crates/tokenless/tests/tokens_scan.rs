//! `tokenless tokens scan` on a generated home and project tree: every planted credential
//! is found at its file and line with its registry, no decoy is, and no output format ever
//! holds a whole token.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// A token of npm's shape, distinct per `n`.
fn npm(n: u32) -> String {
    format!(
        "npm_{:0>36}",
        format!("Planted{n}x")
            .repeat(4)
            .chars()
            .take(36)
            .collect::<String>()
    )
}

fn ghp(n: u32) -> String {
    format!(
        "ghp_{:0>36}",
        format!("Gh{n}")
            .repeat(12)
            .chars()
            .take(36)
            .collect::<String>()
    )
}

const UUID: &str = "8f14e45f-ceea-467f-a0e6-5d2a8b4b1c2d";

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    std::fs::write(path, text).expect("write");
}

/// (path, line, kind, registry) of every planted credential; the secrets planted.
struct Planted {
    expected: BTreeSet<(String, usize, String, String)>,
    secrets: Vec<String>,
}

impl Planted {
    fn new() -> Self {
        Planted {
            expected: BTreeSet::new(),
            secrets: Vec::new(),
        }
    }

    fn at(&mut self, path: &str, line: usize, kind: &str, registry: &str, secret: &str) {
        self.expected
            .insert((path.into(), line, kind.into(), registry.into()));
        if !secret.starts_with('$') {
            self.secrets.push(secret.to_owned());
        }
    }
}

/// A home with a credential of every kind in every place the scan knows, and decoys.
fn plant(home: &Path) -> Planted {
    let mut p = Planted::new();
    let (t1, t2, t3, t4, t5, t6, t7, t8, t9) = (
        npm(1),
        npm(2),
        npm(3),
        npm(4),
        npm(5),
        npm(6),
        npm(7),
        npm(8),
        npm(9),
    );
    let (g1, g2) = (ghp(1), ghp(2));
    write(
        home,
        ".npmrc",
        &format!(
            "; user config\nregistry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={t1}\n\
             //npm.pkg.github.com/:_authToken={g1}\n@corp:registry=https://npm.corp.example/\n\
             //npm.corp.example/:_authToken={UUID}\nemail=me@example.com\ncache=/home/me/.npm\n"
        ),
    );
    p.at(".npmrc", 3, "npm-token", "registry.npmjs.org", &t1);
    p.at(".npmrc", 4, "github-token", "npm.pkg.github.com", &g1);
    p.at(".npmrc", 6, "legacy-token", "npm.corp.example", UUID);
    write(
        home,
        ".config/pnpm/rc",
        &format!("//registry.npmjs.org/:_authToken={t2}\n"),
    );
    p.at(".config/pnpm/rc", 1, "npm-token", "registry.npmjs.org", &t2);
    write(
        home,
        ".config/pnpm/auth.ini",
        "//npm.corp.example/:_auth=bWU6c2VjcmV0LXBhc3N3b3JkLTEyMw==\n",
    );
    p.at(
        ".config/pnpm/auth.ini",
        1,
        "basic-auth",
        "npm.corp.example",
        "bWU6c2VjcmV0LXBhc3N3b3JkLTEyMw==",
    );
    write(
        home,
        "work/app/.yarnrc.yml",
        &format!(
            "nodeLinker: node-modules\nnpmScopes:\n  corp:\n    npmRegistryServer: \"https://npm.pkg.github.com\"\n    npmAuthToken: \"{g2}\"\nnpmAuthToken: {t3}\nnpmRegistryServer: \"https://registry.npmjs.org\"\n"
        ),
    );
    p.at(
        "work/app/.yarnrc.yml",
        5,
        "github-token",
        "npm.pkg.github.com",
        &g2,
    );
    p.at(
        "work/app/.yarnrc.yml",
        6,
        "npm-token",
        "registry.npmjs.org",
        &t3,
    );
    write(
        home,
        "work/old/.yarnrc",
        &format!(
            "registry \"https://registry.npmjs.org/\"\n\"//registry.npmjs.org/:_authToken\" \"{t4}\"\n"
        ),
    );
    p.at(
        "work/old/.yarnrc",
        2,
        "npm-token",
        "registry.npmjs.org",
        &t4,
    );
    write(
        home,
        "work/bunapp/bunfig.toml",
        &format!(
            "[install]\nregistry = {{ url = \"https://registry.npmjs.org/\", token = \"{t5}\" }}\n"
        ),
    );
    p.at(
        "work/bunapp/bunfig.toml",
        2,
        "npm-token",
        "registry.npmjs.org",
        &t5,
    );
    write(
        home,
        ".bashrc",
        &format!(
            "alias ll='ls -l'\nexport PATH=$HOME/bin:$PATH\nexport NPM_TOKEN={t6}\nexport npm_config_cache=$HOME/.npm\n"
        ),
    );
    p.at(".bashrc", 3, "npm-token", "registry.npmjs.org", &t6);
    write(
        home,
        ".zsh_history",
        &format!(
            ": 1700000000:0;ls\n: 1700000100:0;npm config set //registry.npmjs.org/:_authToken {t7}\n: 1700000200:0;echo $npm_package_version\n"
        ),
    );
    p.at(".zsh_history", 2, "npm-token", "registry.npmjs.org", &t7);
    write(
        home,
        ".local/share/fish/fish_history",
        &format!("- cmd: set -gx NODE_AUTH_TOKEN {t8}\n  when: 1700000000\n"),
    );
    p.at(
        ".local/share/fish/fish_history",
        1,
        "npm-token",
        "registry.npmjs.org",
        &t8,
    );
    write(
        home,
        "work/app/.env",
        &format!("DATABASE_URL=postgres://x\nNPM_TOKEN={UUID}\nnpm_lifecycle_event=build\n"),
    );
    p.at("work/app/.env", 2, "legacy-token", "", UUID);
    write(
        home,
        "work/app/.npmrc",
        "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n",
    );
    p.at(
        "work/app/.npmrc",
        1,
        "reference",
        "registry.npmjs.org",
        "${NPM_TOKEN}",
    );
    write(
        home,
        "work/app/config/deploy.json",
        &format!(
            "{{\n  \"name\": \"deploy\",\n  \"npmToken\": \"{t9}\",\n  \"integrity\": \"sha512-3q2+7w==\"\n}}\n"
        ),
    );
    p.at(
        "work/app/config/deploy.json",
        3,
        "npm-token",
        "registry.npmjs.org",
        &t9,
    );
    // Docker's config.json style: base64 of user:token under the registry's key.
    let g3 = ghp(3);
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("me:{g3}"),
    );
    write(
        home,
        ".docker/config.json",
        &format!(
            "{{\n  \"auths\": {{\n    \"https://npm.pkg.github.com\": {{\n      \"auth\": \"{auth}\"\n    }}\n  }}\n}}\n"
        ),
    );
    p.at(
        ".docker/config.json",
        4,
        "github-token",
        "npm.pkg.github.com",
        &g3,
    );
    let t10 = npm(10);
    write(
        home,
        "notes.txt",
        &format!("remember to rotate\n\n  {t10}\n"),
    );
    p.at("notes.txt", 3, "npm-token", "registry.npmjs.org", &t10);
    // Inside node_modules only .npmrc files are read.
    let t11 = npm(11);
    write(
        home,
        "work/app/node_modules/leftover/.npmrc",
        &format!("//registry.npmjs.org/:_authToken={t11}\n"),
    );
    p.at(
        "work/app/node_modules/leftover/.npmrc",
        1,
        "npm-token",
        "registry.npmjs.org",
        &t11,
    );

    // Decoys: none of these may be reported.
    write(
        home,
        "work/app/node_modules/leftover/index.js",
        &format!("module.exports = \"{}\";\n", npm(90)),
    );
    write(
        home,
        "work/app/package-lock.json",
        "{\"packages\": {\"node_modules/a\": {\"integrity\": \"sha512-aGVsbG8gd29ybGQgdGhpcyBpcyBhIGxvbmcgYmFzZTY0IGJsb2IgdGhhdCBpcyBub3QgYSB0b2tlbg==\"}}}\n",
    );
    write(
        home,
        "work/app/src/env.js",
        "const c = process.env.npm_config_cache;\nconst v = process.env.npm_package_version;\nconst npm_token_name = 'npm_short';\nconst blob = 'bnBtX2FiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6MDEyMzQ1Njc4OQ==';\n",
    );
    write(home, ".cache/tool/state.txt", &format!("{}\n", npm(91)));
    write(home, ".npm/_cacache/index-v5/aa", &format!("{}\n", npm(92)));
    let mut binary = b"\x89PNG\r\n\x1a\n\0\0\0".to_vec();
    binary.extend_from_slice(npm(93).as_bytes());
    std::fs::write(home.join("work/app/logo.png"), binary).expect("png");
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc", home.join("work/etc-link")).expect("symlink");
    p
}

fn run(args: &[&str], home: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = assert_cmd::Command::cargo_bin("tokenless").expect("binary");
    cmd.args(args)
        .current_dir(home)
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn found(json: &str) -> BTreeSet<(String, usize, String, String)> {
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["path"]
                    .as_str()
                    .unwrap_or("")
                    .trim_start_matches("./")
                    .to_owned(),
                f["line"].as_u64().unwrap_or(0) as usize,
                f["kind"].as_str().unwrap_or("").to_owned(),
                f["registry"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_planted_credential_is_found_and_no_decoy_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("me");
    std::fs::create_dir_all(&home).expect("home");
    let planted = plant(&home);
    let (code, json, stderr) = run(&["tokens", "scan", ".", "--format", "json"], &home, &[]);
    assert_eq!(code, 1, "{stderr}");
    let got = found(&json);
    // `.` scans the caches too (only --home leaves them out): those two are extra here.
    let extra: Vec<_> = got.difference(&planted.expected).collect();
    let missed: Vec<_> = planted.expected.difference(&got).collect();
    assert!(missed.is_empty(), "missed: {missed:#?}");
    assert_eq!(
        extra.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        [".cache/tool/state.txt", ".npm/_cacache/index-v5/aa"],
        "{extra:#?}"
    );

    // --home: the same, without the caches.
    let (code, json, stderr) = run(
        &["tokens", "scan", "--home", "--format", "json"],
        &home,
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    let got: BTreeSet<_> = found(&json)
        .into_iter()
        .map(|(p, l, k, r)| {
            let rel = Path::new(&p)
                .strip_prefix(&home)
                .map(|r| r.display().to_string())
                .unwrap_or(p);
            (rel, l, k, r)
        })
        .collect();
    assert_eq!(got, planted.expected);

    // No format shows a whole secret.
    for format in ["text", "json", "sarif"] {
        let (_, out, err) = run(
            &["tokens", "scan", "--home", "--format", format],
            &home,
            &[],
        );
        for s in &planted.secrets {
            assert!(
                !out.contains(s.as_str()) && !err.contains(s.as_str()),
                "{format} leaked a secret"
            );
        }
        if format == "sarif" {
            let v: Value = serde_json::from_str(&out).expect("sarif");
            assert_eq!(
                v["runs"][0]["results"].as_array().map(Vec::len),
                Some(planted.expected.len())
            );
        }
    }
}

#[test]
fn gitignored_files_are_scanned_unless_asked_and_nothing_found_exits_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, ".gitignore", ".env\n");
    write(root, ".env", &format!("NPM_TOKEN={}\n", npm(1)));
    write(root, "src/a.js", "console.log(1)\n");
    let (code, json, _) = run(&["tokens", "scan", ".", "--format", "json"], root, &[]);
    assert_eq!((code, found(&json).len()), (1, 1));
    let (code, json, _) = run(
        &[
            "tokens",
            "scan",
            ".",
            "--respect-gitignore",
            "--format",
            "json",
        ],
        root,
        &[],
    );
    assert_eq!((code, found(&json).len()), (0, 0), "{json}");
}

#[test]
fn the_environment_is_scanned_with_env() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let t = npm(5);
    let (code, json, stderr) = run(
        &["tokens", "scan", "--env", "--format", "json"],
        root,
        &[
            ("NPM_TOKEN", t.as_str()),
            ("npm_config_//npm.corp.example/:_authToken", UUID),
            ("npm_config_cache", "/tmp/npm"),
            ("npm_package_version", "1.0.0"),
            ("NODE_AUTH_TOKEN", "${NPM_TOKEN}"),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(!json.contains(&t));
    assert_eq!(
        found(&json),
        [
            ("env:NODE_AUTH_TOKEN", 0, "reference", ""),
            ("env:NPM_TOKEN", 0, "npm-token", "registry.npmjs.org"),
            (
                "env:npm_config_//npm.corp.example/:_authToken",
                0,
                "legacy-token",
                "npm.corp.example"
            ),
        ]
        .map(|(a, b, c, d)| (a.to_owned(), b, c.to_owned(), d.to_owned()))
        .into_iter()
        .collect()
    );
}

#[test]
fn bad_arguments_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (args, says) in [
        (
            vec!["tokens", "scan", "no-such-dir"],
            "no-such-dir: no such file or directory",
        ),
        (
            vec!["tokens", "scan", "--resolve", "nohost"],
            "expected HOST=ADDR",
        ),
        (
            vec!["tokens", "scan", "--resolve", "a.test=not-an-ip"],
            "ADDR is an IP address",
        ),
    ] {
        let (code, _, stderr) = run(&args, dir.path(), &[]);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// A loopback listener standing in for a registry host: it records the bearer token of
/// every request; it forwards to `upstream` (a sandbox) or, without one, answers itself
/// (`live` is the only token it knows, a bypass-2FA one of carol's).
struct Listener {
    port: u16,
    seen: std::sync::Arc<std::sync::Mutex<BTreeSet<String>>>,
}

async fn listener(upstream: Option<String>, live: Option<String>) -> Listener {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = socket.local_addr().expect("addr").port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        loop {
            let Ok((mut conn, _)) = socket.accept().await else {
                return;
            };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
                match conn.read(&mut byte).await {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let token = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("authorization")
                        .then(|| v.trim().trim_start_matches("Bearer ").to_owned())
                })
                .unwrap_or_default();
            record.lock().expect("lock").insert(token.clone());
            let (status, body) = match &upstream {
                Some(base) => {
                    let r = http
                        .get(format!("{}{}", base.trim_end_matches('/'), path))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .expect("upstream");
                    (r.status().as_u16(), r.text().await.unwrap_or_default())
                }
                None if live.as_deref() == Some(token.as_str()) => match path.as_str() {
                    "/-/whoami" => (200, r#"{"username":"carol"}"#.to_owned()),
                    _ => (
                        200,
                        serde_json::json!({"objects": [{"key": "k-carol", "token": &token[..8],
                            "bypass_2fa": true, "readonly": false}], "urls": {}})
                        .to_string(),
                    ),
                },
                None => (401, r#"{"error":"Unauthorized"}"#.to_owned()),
            };
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(reply.as_bytes()).await;
        }
    });
    Listener { port, seen }
}

/// A sandbox of the `legacy` org (granular tokens for alice, bob and acme-ci-bot).
async fn legacy_sandbox() -> tokenless_sandbox::SandboxHandle {
    use tokenless_sandbox::{Sandbox, SandboxOptions, Scenario};
    Sandbox::start(SandboxOptions {
        scenario: Scenario::Legacy,
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox")
}

/// The scenario's granular token called `name`.
fn token_named(info: &tokenless_sandbox::SandboxInfo, name: &str) -> tokenless_sandbox::InfoToken {
    info.tokens
        .iter()
        .find(|t| t.name == name)
        .expect("token")
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_tells_live_from_revoked_and_sends_each_token_only_to_its_own_registry() {
    let sandbox = legacy_sandbox().await;
    let info = sandbox.info();
    let token = |name: &str| token_named(&info, name);
    let (live, gone) = (token("circleci-publish"), token("laptop-read"));
    // bob revokes his laptop token.
    let bob = info.users.iter().find(|u| u.name == "bob").expect("bob");
    let totp = tokenless_api::npm::StaticOtp(Some(
        tokenless_sandbox::totp::current_code(&bob.totp_secret).expect("code"),
    ));
    tokenless_api::NpmClient::new(
        &info.registry,
        Some(tokenless_api::Secret::new(bob.token.as_str())),
        tokenless_api::ClientOptions::default(),
    )
    .expect("client")
    .delete_token(&gone.key, &totp)
    .await
    .expect("revoked");

    let a = listener(Some(info.registry.clone()), None).await;
    let carols = npm(20);
    let b = listener(None, Some(carols.clone())).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    write(
        &root,
        ".npmrc",
        &format!(
            "registry=http://reg-a.test:{pa}/\n@b:registry=http://reg-b.test:{pb}/\n\
             //reg-a.test:{pa}/:_authToken={}\n//reg-a.test:{pa}/:_authToken={}\n//reg-b.test:{pb}/:_authToken={carols}\n",
            live.token,
            gone.token,
            pa = a.port,
            pb = b.port
        ),
    );
    // A bare token counts as npmjs's: resolved to loopback, where nothing listens on 443.
    let bare = npm(21);
    write(&root, ".env", &format!("NPM_TOKEN={bare}\n"));
    let (code, json, stderr) = tokio::task::spawn_blocking(move || {
        run(
            &[
                "tokens",
                "scan",
                ".",
                "--verify",
                "--format",
                "json",
                "--resolve",
                "reg-a.test=127.0.0.1",
                "--resolve",
                "reg-b.test=127.0.0.1",
                "--resolve",
                "registry.npmjs.org=127.0.0.1",
            ],
            &root,
            &[],
        )
    })
    .await
    .expect("joins");
    assert_eq!(code, 1, "{stderr}");
    for s in [&live.token, &gone.token, &carols, &bare] {
        assert!(
            !json.contains(s.as_str()) && !stderr.contains(s.as_str()),
            "a secret leaked"
        );
    }
    let v: Value = serde_json::from_str(&json).expect("json");
    let status = |path: &str, line: u64| -> Value {
        v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["path"] == path && f["line"] == line)
            .map(|f| f["status"].clone())
            .unwrap_or(Value::Null)
    };
    let a_live = status(".npmrc", 3);
    assert_eq!(a_live["state"], "live", "{a_live}");
    assert_eq!(a_live["user"], "acme-ci-bot");
    assert_eq!(status(".npmrc", 4)["state"], "revoked");
    let b_live = status(".npmrc", 5);
    assert_eq!(b_live["user"], "carol", "{b_live}");
    assert_eq!(b_live["loses_direct_publishing_2027"], true, "{b_live}");
    assert_eq!(status(".env", 1)["state"], "unknown");
    // Each listener saw only the tokens configured for it.
    let seen = |l: &Listener| l.seen.lock().expect("lock").clone();
    assert_eq!(
        seen(&a),
        BTreeSet::from([live.token.clone(), gone.token.clone()])
    );
    assert_eq!(seen(&b), BTreeSet::from([carols]));
}

/// Files that never end, loops and giants: skipped and counted, never a hang or a read of
/// gigabytes.
#[cfg(unix)]
#[test]
fn fifos_loops_and_giant_files_are_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(
        root,
        "a/.npmrc",
        &format!("//registry.npmjs.org/:_authToken={}\n", npm(1)),
    );
    let made = std::process::Command::new("mkfifo")
        .arg(root.join("a/pipe.env"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    std::os::unix::fs::symlink("..", root.join("a/loop")).expect("symlink");
    // A sparse 64 MiB file with a token at its start: over a 1 MiB bound, not read.
    std::fs::write(root.join("a/giant.log"), format!("{}\n", npm(2))).expect("giant");
    let giant = std::fs::OpenOptions::new()
        .write(true)
        .open(root.join("a/giant.log"))
        .expect("open");
    giant.set_len(64 << 20).expect("sparse");
    // A name that is not UTF-8.
    use std::os::unix::ffi::OsStrExt;
    let odd = root.join(std::ffi::OsStr::from_bytes(b"a/\xff\xfe.env"));
    std::fs::write(&odd, format!("NPM_TOKEN={}\n", npm(3))).expect("odd name");
    let started = std::time::Instant::now();
    let (code, json, stderr) = run(
        &[
            "tokens",
            "scan",
            ".",
            "--max-file-mb",
            "1",
            "--format",
            "json",
        ],
        root,
        &[],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(code, 1, "{stderr}");
    let got = found(&json);
    let paths: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(paths.len(), 2, "{got:?}");
    assert!(paths.contains(&"a/.npmrc"), "{got:?}");
    assert!(
        paths.iter().any(|p| p.ends_with(".env")),
        "the odd name is read: {got:?}"
    );
    let v: Value = serde_json::from_str(&json).expect("json");
    assert!(v["skipped"].as_u64().unwrap_or(0) >= 2, "{json}");
    let (_, text, _) = run(&["tokens", "scan", ".", "--max-file-mb", "1"], root, &[]);
    assert!(text.contains("larger than 1 MiB"), "{text}");
}

/// `--revoke`: the signed-in member's live token is revoked through `tokens revoke` (with
/// its second factor), another member's is left to them, and the lines go only with
/// `--write`; no output holds a whole token.
#[tokio::test(flavor = "multi_thread")]
async fn revoke_takes_the_members_own_tokens_and_write_removes_the_lines() {
    let sandbox = legacy_sandbox().await;
    let info = sandbox.info();
    let token = |name: &str| token_named(&info, name);
    let (bobs, bots) = (token("laptop-read"), token("circleci-publish"));
    let url = sandbox.url().to_string();
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let npmrc = format!(
        "registry={url}\n//{host}/:_authToken={}\n//{host}/:_authToken={}\ncolor=false\n",
        bobs.token, bots.token
    );
    write(&root, ".npmrc", &npmrc);
    let otp = format!(
        "'{}' sandbox otp --url {url} bob",
        env!("CARGO_BIN_EXE_tokenless")
    );
    let scan = |extra: &'static [&'static str]| {
        let (root, url, otp) = (root.clone(), url.clone(), otp.clone());
        tokio::task::spawn_blocking(move || {
            let mut args = vec![
                "tokens",
                "scan",
                ".",
                "--revoke",
                "--yes",
                "--sandbox",
                &url,
                "--as",
                "bob",
                "--otp-command",
                &otp,
            ];
            args.extend_from_slice(extra);
            run(&args, &root, &[])
        })
    };
    let (code, out, err) = scan(&[]).await.expect("joins");
    assert_eq!(code, 1, "{err}");
    for s in [&bobs.token, &bots.token] {
        assert!(
            !out.contains(s.as_str()) && !err.contains(s.as_str()),
            "a secret leaked"
        );
    }
    assert!(err.contains("1 token(s) of bob to revoke"), "{err}");
    assert!(err.contains("is acme-ci-bot's"), "{err}");
    assert!(err.contains("--write removes these lines"), "{err}");
    assert!(err.contains("-//"), "the diff shows the line going: {err}");
    assert_eq!(
        std::fs::read_to_string(root.join(".npmrc")).expect("read"),
        npmrc,
        "nothing written without --write"
    );
    // bob's token is gone from the registry; the bot's is not.
    let listed: Value = reqwest::Client::new()
        .get(format!("{url}-/whoami"))
        .bearer_auth(&bobs.token)
        .send()
        .await
        .expect("whoami")
        .json()
        .await
        .unwrap_or(Value::Null);
    assert!(listed.get("username").is_none(), "revoked: {listed}");

    // Again with --write: the dead token's line goes, the bot's stays.
    let (code, _, err) = scan(&["--write"]).await.expect("joins");
    assert_eq!(code, 1, "{err}");
    let now = std::fs::read_to_string(root.join(".npmrc")).expect("read");
    assert!(
        !now.contains(&bobs.token) && now.contains(&bots.token),
        "{now}"
    );
    assert!(now.contains("color=false"));
}

/// `--home` also reads npm's and pnpm's config files that live outside the home: the user
/// config and global config npm's environment names, `$PREFIX/etc/npmrc`, pnpm's files
/// under `$XDG_CONFIG_HOME`.
#[test]
fn home_includes_the_config_files_npm_and_pnpm_read_from_elsewhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&home).expect("home");
    let line = |n: u32| format!("//registry.npmjs.org/:_authToken={}\n", npm(n));
    write(&elsewhere, "user.npmrc", &line(1));
    write(&elsewhere, "prefix/etc/npmrc", &line(2));
    write(&elsewhere, "xdg/pnpm/rc", &line(3));
    write(&home, ".npmrc", &line(4));
    let (code, json, stderr) = run(
        &["tokens", "scan", "--home", "--format", "json"],
        &home,
        &[
            (
                "npm_config_userconfig",
                elsewhere.join("user.npmrc").to_str().expect("utf-8"),
            ),
            (
                "npm_config_prefix",
                elsewhere.join("prefix").to_str().expect("utf-8"),
            ),
            (
                "XDG_CONFIG_HOME",
                elsewhere.join("xdg").to_str().expect("utf-8"),
            ),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    let paths: Vec<String> = found(&json).into_iter().map(|f| f.0).collect();
    for want in [
        "user.npmrc",
        "prefix/etc/npmrc",
        "xdg/pnpm/rc",
        "home/.npmrc",
    ] {
        assert!(paths.iter().any(|p| p.ends_with(want)), "{want}: {paths:?}");
    }
    assert_eq!(paths.len(), 4, "each file once: {paths:?}");
}
