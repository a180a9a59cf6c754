//! An npm org's state and what tokenless decides about it, with no argument parsing and no
//! rendering (those stay in the `tokenless` binary).
//!
//! - [`audit`]: the org as one [`audit::Snapshot`], collected concurrently through the
//!   `tokenless-api` clients ([`audit::collect`]), tokenless's own record of changes it
//!   applied ([`audit::record`]), and the nine checks of the Definition of Done over the
//!   snapshot ([`audit::checks`]), giving an [`audit::Report`] of `pass`/`fail`/`unknown`
//!   with evidence.
//! - [`members`]: the `[members]` table of tokenless.toml (who is an owner, a person or a
//!   service account), which the snapshot carries.
//!
//! Later: the desired state (tokenless.toml), the plan (desired − actual as a list of
//! operations) and the apply engine, all over the same snapshot.

pub mod audit;
pub mod members;
