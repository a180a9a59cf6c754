//! `tokenless sandbox`: a local npm registry, CircleCI API v2 and OIDC issuers.
