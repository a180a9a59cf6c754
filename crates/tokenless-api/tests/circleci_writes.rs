//! CircleCI writes the migration makes, against the sandbox over loopback: a new context,
//! and the removal of context and project variables.

use tokenless_api::{CircleCiClient, ClientOptions, ErrorKind, Secret};
use tokenless_sandbox::{Sandbox, SandboxOptions, Scenario};

#[tokio::test(flavor = "multi_thread")]
async fn contexts_are_created_and_variables_deleted() {
    let sb = Sandbox::start(SandboxOptions {
        scenario: Scenario::Legacy,
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox starts");
    let info = sb.info();
    let org = info.circleci.org_id.clone();
    let circle = CircleCiClient::new(
        &info.circleci_api,
        Some(Secret::new(info.circleci.token.as_str())),
        ClientOptions::default(),
    )
    .expect("client");

    let created = circle
        .create_context(&org, "npm-oidc")
        .await
        .expect("context created");
    assert_eq!(created.name, "npm-oidc");
    assert!(!created.id.is_empty());
    let listed = circle.contexts(&org).await.expect("contexts");
    assert!(listed.contains(&created), "{listed:?}");
    let detail = circle.context(&created.id).await.expect("context");
    assert!(detail.restrictions.is_empty());
    // Names are unique within the organisation; another organisation is refused.
    let dup = circle.create_context(&org, "npm-oidc").await;
    assert!(dup.is_err_and(|e| e.status() == Some(400)));
    let foreign = circle
        .create_context("00000000-0000-0000-0000-000000000000", "x")
        .await;
    assert!(foreign.is_err_and(|e| e.is_not_found()));

    // A context variable: delete it, then it is gone, and a second delete is a 404.
    let (ctx, var) = {
        let mut found = None;
        for c in &info.circleci.contexts {
            let names = circle.context_variable_names(&c.id).await.expect("names");
            if let Some(n) = names.into_iter().next() {
                found = Some((c.id.clone(), n));
                break;
            }
        }
        found.expect("the legacy scenario has a context variable")
    };
    circle
        .delete_context_variable(&ctx, &var)
        .await
        .expect("deleted");
    let names = circle.context_variable_names(&ctx).await.expect("names");
    assert!(!names.contains(&var), "{names:?}");
    let again = circle.delete_context_variable(&ctx, &var).await;
    assert!(again.is_err_and(|e| e.is_not_found()));

    // A project variable likewise.
    let slug = info.circleci.projects[0].slug.clone();
    let names = circle.project_variable_names(&slug).await.expect("names");
    assert!(names.iter().any(|n| n == "NPM_TOKEN"), "{names:?}");
    circle
        .delete_project_variable(&slug, "NPM_TOKEN")
        .await
        .expect("deleted");
    let names = circle.project_variable_names(&slug).await.expect("names");
    assert!(!names.iter().any(|n| n == "NPM_TOKEN"), "{names:?}");
    let err = circle
        .delete_project_variable(&slug, "NPM_TOKEN")
        .await
        .expect_err("already gone");
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.path, format!("/project/{slug}/envvar/NPM_TOKEN"));
    // A slug that could leave its path is refused before any request.
    let err = circle
        .delete_project_variable("gh/../admin", "X")
        .await
        .expect_err("bad slug");
    assert!(matches!(err.kind, ErrorKind::Invalid(_)), "{err}");
}
