//! HTTP clients for the npm registry, the CircleCI API v2, and the GitHub and GitLab REST
//! APIs (the subsets tokenless reads and changes).
//!
//! All share one core ([`ClientOptions`]): per-attempt timeouts, bounded retries with
//! exponential backoff and jitter on 5xx and dropped connections (writes only when the
//! request cannot have been sent), `429` honoured through `Retry-After` by pausing every
//! request of the client (npm's 429 has no `Retry-After`: then the client-wide pause grows
//! exponentially, with jitter, while 429s continue), a bounded number of requests in flight, pagination, a
//! `User-Agent: tokenless/<version>`, and errors that name the request and never carry a
//! credential. Credentials are [`Secret`]s.

pub mod circleci;
mod error;
pub mod github;
pub mod gitlab;
mod http;
pub mod npm;
pub mod sandbox;

pub use circleci::CircleCiClient;
pub use error::{ApiError, ErrorKind};
pub use github::GitHubClient;
pub use gitlab::GitLabClient;
pub use http::{ClientOptions, StatsSnapshot, USER_AGENT};
pub use npm::NpmClient;
pub use tokenless_trust::Secret;
