//! An npm org's state and what tokenless decides about it and does to it, with no
//! argument parsing and no rendering (those stay in the `tokenless` binary).
//!
//! - [`audit`]: the org as one [`audit::Snapshot`], collected concurrently through the
//!   `tokenless-api` clients ([`audit::collect`]), and the nine checks of the Definition
//!   of Done over it, giving an [`audit::Report`] of `pass`/`fail`/`unknown` with evidence.
//! - [`config`]: `tokenless.toml`, whose [`desired`] tables are the state `plan` and
//!   `apply` work towards; [`members`] is its `[members]` table.
//! - [`actual`]: what the plan reads of the registry and the CI providers.
//! - [`plan`]: desired − actual as ordered steps, additive then destructive.
//! - [`apply`]: the engine (canary, concurrency, pacing, re-login), with [`twofa`] for the
//!   second factor, [`journal`] for resuming and [`record`] for what it verified.

pub mod actual;
pub mod apply;
pub mod attestation;
pub mod audit;
pub mod config;
pub mod desired;
pub mod init;
pub mod journal;
pub mod members;
pub mod plan;
pub mod record;
pub mod twofa;
