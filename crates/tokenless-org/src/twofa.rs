//! The second factor for a run of many registry writes.
//!
//! - **Codes** (an authenticator app, `--otp-command`): a code is reused while the
//!   registry accepts it and asked for again when it is refused; `--otp-command` runs a
//!   command (a password manager) for each new code.
//! - **Web 2FA** (`authUrl`/`doneUrl` in the challenge): the URL is shown once, the
//!   approval is awaited, and the 5-minute "skip 2FA" window it opens is ridden by every
//!   write until the registry challenges again.
//!
//! Concurrent writes that are challenged together queue behind one approval: one prompt,
//! not one per request.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tokenless_api::npm::{Challenge, NpmClient, OtpSource};
use tokio::sync::Mutex;

/// Where a person is asked: the binary implements it (a terminal prompt, stderr lines).
pub trait Asker: Send + Sync {
    /// Show the web 2FA URL to open (once per approval).
    fn show_approval_url(&self, url: &str);
    /// Ask for a one-time password; `None` when nobody can answer (no terminal).
    fn ask_code(&self, refused: bool) -> Option<String>;
}

/// How long `--otp-command` may take.
pub const OTP_COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// An authenticator code older than this is not offered again: it is about to rotate,
/// and every refused code counts towards the registry's lockout.
const CODE_FRESH_FOR: Duration = Duration::from_secs(25);

/// How long a web approval is awaited.
pub const APPROVAL_TIMEOUT: Duration = Duration::from_secs(600);

struct State {
    /// The code (or web approval token) last handed out.
    code: Option<String>,
    /// When that code arrived (authenticator codes live 30 seconds).
    code_at: Option<Instant>,
    /// When the last web approval arrived: a write challenged just before it was sent
    /// (while the approval was pending) rides the window it opened.
    approved_at: Option<Instant>,
}

/// How recent an approval must be for a challenged write to retry on it instead of
/// asking again (the writes sent while the approval was pending).
const FRESH_APPROVAL: Duration = Duration::from_secs(30);

/// The run's second factor, shared by every write.
pub struct TwoFactor {
    npm: NpmClient,
    asker: Arc<dyn Asker>,
    otp_command: Option<String>,
    state: Mutex<State>,
    approvals: AtomicUsize,
}

impl TwoFactor {
    pub fn new(npm: NpmClient, asker: Arc<dyn Asker>, otp_command: Option<String>) -> Self {
        TwoFactor {
            npm,
            asker,
            otp_command,
            state: Mutex::new(State {
                code: None,
                code_at: None,
                approved_at: None,
            }),
            approvals: AtomicUsize::new(0),
        }
    }

    /// Approvals and codes asked for so far.
    pub fn approvals(&self) -> usize {
        self.approvals.load(Ordering::Relaxed)
    }

    /// Run `--otp-command`: its first line of output is the code. Output beyond a few
    /// hundred bytes is not read and a command that does not finish within
    /// [`OTP_COMMAND_TIMEOUT`] is killed: a password manager prints a code and exits.
    async fn run_command(&self, command: &str) -> Option<String> {
        use tokio::io::AsyncReadExt;
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        let mut stdout = child.stdout.take()?;
        let run = async {
            let mut buf = Vec::new();
            (&mut stdout).take(256).read_to_end(&mut buf).await.ok()?;
            drop(stdout);
            let status = child.wait().await.ok()?;
            status.success().then_some(buf)
        };
        let buf = tokio::time::timeout(OTP_COMMAND_TIMEOUT, run)
            .await
            .ok()??;
        let text = String::from_utf8_lossy(&buf);
        let code = text.lines().next().unwrap_or_default().trim().to_owned();
        (!code.is_empty() && code.len() <= 64).then_some(code)
    }

    async fn next(&self, challenge: &Challenge) -> Option<String> {
        let mut state = self.state.lock().await;
        // Reuse the current code until the registry refuses it; after a web approval,
        // writes challenged while it was pending retry inside the window it opened.
        let fresh = state
            .approved_at
            .is_some_and(|at| at.elapsed() < FRESH_APPROVAL);
        let young = state
            .code_at
            .is_some_and(|at| at.elapsed() < CODE_FRESH_FOR);
        if !challenge.retry
            && state.code.is_some()
            && ((challenge.web.is_none() && young) || (challenge.web.is_some() && fresh))
        {
            return state.code.clone();
        }
        let code = if let Some(web) = &challenge.web {
            self.asker.show_approval_url(&web.auth_url);
            match self
                .npm
                .wait_for_web_approval(&web.done_url, APPROVAL_TIMEOUT)
                .await
            {
                Ok(token) => Some(token.expose().to_owned()),
                Err(_) => None,
            }
        } else if let Some(cmd) = &self.otp_command {
            self.run_command(cmd).await
        } else {
            let asker = Arc::clone(&self.asker);
            let refused = challenge.retry;
            tokio::task::spawn_blocking(move || asker.ask_code(refused))
                .await
                .ok()
                .flatten()
        };
        if code.is_some() {
            self.approvals.fetch_add(1, Ordering::Relaxed);
            state.approved_at = challenge.web.is_some().then(Instant::now);
        }
        state.code = code.clone();
        state.code_at = code.as_ref().map(|_| Instant::now());
        code
    }
}

impl OtpSource for TwoFactor {
    fn code<'a>(
        &'a self,
        challenge: &'a Challenge,
    ) -> Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>> {
        Box::pin(self.next(challenge))
    }

    /// A young authenticator code, sent with the first attempt. A web approval's code is
    /// spent once used: the open window carries the writes, not the code.
    fn current(&self) -> Option<String> {
        let state = self.state.try_lock().ok()?;
        let young = state
            .code_at
            .is_some_and(|at| at.elapsed() < CODE_FRESH_FOR);
        (young && state.approved_at.is_none())
            .then(|| state.code.clone())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nobody;
    impl Asker for Nobody {
        fn show_approval_url(&self, _: &str) {}
        fn ask_code(&self, _: bool) -> Option<String> {
            None
        }
    }

    fn twofa(cmd: &str) -> TwoFactor {
        let npm = NpmClient::new("http://127.0.0.1:9/", None, Default::default()).expect("client");
        TwoFactor::new(npm, Arc::new(Nobody), Some(cmd.to_owned()))
    }

    fn first() -> Challenge {
        Challenge {
            retry: false,
            web: None,
        }
    }

    #[tokio::test]
    async fn a_code_is_reused_until_refused_and_asked_again_then() {
        let dir = tempfile::tempdir().expect("tempdir");
        let counter = dir.path().join("n");
        // Each run prints the next number: a new code per run.
        let t = twofa(&format!(
            "n=$(cat '{0}' 2>/dev/null || echo 100000); echo $((n+1)) > '{0}'; echo $((n+1))",
            counter.display()
        ));
        assert_eq!(t.code(&first()).await.as_deref(), Some("100001"));
        assert_eq!(t.code(&first()).await.as_deref(), Some("100001"), "reused");
        let refused = Challenge {
            retry: true,
            web: None,
        };
        assert_eq!(t.code(&refused).await.as_deref(), Some("100002"));
        assert_eq!(t.approvals(), 2);
    }

    #[tokio::test]
    async fn a_hostile_otp_command_neither_hangs_nor_fills_memory() {
        // Endless output: only the first bytes are read, and the first line is no code.
        let t = twofa("yes 123456123456123456123456123456123456123456123456123456123456123456");
        assert_eq!(t.code(&first()).await, None);
        // Failure and empty output give no code.
        assert_eq!(twofa("exit 1").code(&first()).await, None);
        assert_eq!(twofa("true").code(&first()).await, None);
        // A first line is a code even when more follows.
        assert_eq!(
            twofa("printf '654321\\nextra\\n'")
                .code(&first())
                .await
                .as_deref(),
            Some("654321")
        );
    }
}
