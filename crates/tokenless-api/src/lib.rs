//! HTTP clients for the npm registry and the CircleCI API v2.
