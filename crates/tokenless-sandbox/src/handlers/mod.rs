//! One module per area of the registry and the CircleCI API; each handler takes the request
//! context and returns `Result<Response, SandboxError>`.

pub mod circleci;
pub mod exchange;
pub mod faults;
pub mod github;
pub mod gitlab;
pub mod info;
pub mod login;
pub mod oidc;
pub mod push;
pub mod registry;
pub mod settings;
pub mod stage;
pub mod teams;
pub mod tokens;
