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

/// How long a web approval is awaited.
pub const APPROVAL_TIMEOUT: Duration = Duration::from_secs(600);

struct State {
    /// The code (or web approval token) last handed out.
    code: Option<String>,
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
                approved_at: None,
            }),
            approvals: AtomicUsize::new(0),
        }
    }

    /// Approvals and codes asked for so far.
    pub fn approvals(&self) -> usize {
        self.approvals.load(Ordering::Relaxed)
    }

    async fn run_command(&self, command: &str) -> Option<String> {
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .output()
            .await
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let code = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (!code.is_empty() && code.len() <= 64).then_some(code)
    }

    async fn next(&self, challenge: &Challenge) -> Option<String> {
        let mut state = self.state.lock().await;
        // Reuse the current code until the registry refuses it; after a web approval,
        // writes challenged while it was pending retry inside the window it opened.
        let fresh = state
            .approved_at
            .is_some_and(|at| at.elapsed() < FRESH_APPROVAL);
        if !challenge.retry && state.code.is_some() && (challenge.web.is_none() || fresh) {
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
}
