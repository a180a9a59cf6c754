use super::*;

const NPM: &str = "npm_abcdefghijklmnopqrstuvwxyz0123456789";
const GHP: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
const UUID: &str = "1b2c3d4e-aaaa-bbbb-cccc-0123456789ab";

fn found(format: Format, text: &str) -> Vec<String> {
    credentials(format, "f", text)
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {}",
                c.line,
                c.kind.as_str(),
                c.registry.as_deref().unwrap_or("-"),
                c.redacted
            )
        })
        .collect()
}

/// Short secrets (a password) show nothing of themselves: `…`.
#[test]
fn npmrc_lines_name_their_registry() {
    let text = format!(
        "; comment\nregistry=http://npm.internal:4873/\n//registry.npmjs.org/:_authToken={NPM}\n\
         //npm.pkg.github.com/:_authToken={GHP}\n_authToken={UUID}\n//npm.internal:4873/:_auth=dXNlcjpwYXNz\n\
         //x.test/:_authToken=${{NPM_TOKEN}}\n//x.test/:_password=\"c2VjcmV0c2VjcmV0\"\nemail=a@b.c\n"
    );
    assert_eq!(
        found(Format::Npmrc, &text),
        [
            "3 npm-token registry.npmjs.org npm_…6789",
            "4 github-token npm.pkg.github.com ghp_…6789",
            "5 legacy-token npm.internal:4873 1b2c…89ab",
            "6 basic-auth npm.internal:4873 …",
            "7 reference x.test ${NPM_TOKEN}",
            "8 password x.test …",
        ]
    );
    let creds = credentials(Format::Npmrc, "f", &text);
    assert_eq!(creds[2].scheme.as_deref(), Some("http"));
    assert_eq!(creds[0].scheme, None);
}

#[test]
fn yarnrc_yml_scopes_and_registries() {
    let text = format!(
        "npmRegistryServer: \"https://registry.npmjs.org\"\nnpmAuthToken: {NPM}\nnpmScopes:\n  acme:\n    npmRegistryServer: \"https://npm.pkg.github.com\"\n    npmAuthToken: \"{GHP}\"\nnpmRegistries:\n  \"//npm.internal:4873\":\n    npmAuthToken: {UUID}\n    npmAlwaysAuth: true\n"
    );
    assert_eq!(
        found(Format::YarnrcYml, &text),
        [
            "2 npm-token registry.npmjs.org npm_…6789",
            "6 github-token npm.pkg.github.com ghp_…6789",
            "9 legacy-token npm.internal:4873 1b2c…89ab",
        ]
    );
    // Without a server, yarn's own default registry.
    assert_eq!(
        found(Format::YarnrcYml, &format!("npmAuthToken: {NPM}\n")),
        ["1 npm-token registry.yarnpkg.com npm_…6789"]
    );
}

#[test]
fn yarnrc_bunfig_and_shell() {
    assert_eq!(
        found(
            Format::Yarnrc,
            &format!(
                "\"//registry.npmjs.org/:_authToken\" \"{NPM}\"\nregistry \"https://registry.npmjs.org\"\n"
            )
        ),
        ["1 npm-token registry.npmjs.org npm_…6789"]
    );
    let bunfig = format!(
        "[install]\nregistry = {{ url = \"https://registry.npmjs.org/\", token = \"{NPM}\" }}\n[install.scopes]\nacme = {{ token = \"{GHP}\", url = \"https://npm.pkg.github.com/\" }}\nother = \"https://user:hunter2hunter2@npm.internal/\"\n"
    );
    assert_eq!(
        found(Format::Bunfig, &bunfig),
        [
            "2 npm-token registry.npmjs.org npm_…6789",
            "4 github-token npm.pkg.github.com ghp_…6789",
            "5 password npm.internal …",
        ]
    );
    let shell = format!(
        "export NPM_TOKEN={NPM}\n: 1700000000:0;npm config set //npm.internal/:_authToken {UUID}\nset -gx NODE_AUTH_TOKEN \"{NPM}\"\necho \"//registry.npmjs.org/:_authToken=${{NPM_TOKEN}}\" > ~/.npmrc\nnpm_config_cache=/tmp/x\nNPM_ID_TOKEN=$(circleci run oidc get)\nNPM_TOKEN={UUID}\n"
    );
    assert_eq!(
        found(Format::Shell, &shell),
        [
            "1 npm-token registry.npmjs.org npm_…6789",
            "2 legacy-token npm.internal 1b2c…89ab",
            "3 npm-token registry.npmjs.org npm_…6789",
            "4 reference registry.npmjs.org ${NPM_TOKEN}",
            "7 legacy-token - 1b2c…89ab",
        ]
    );
}

#[test]
fn shell_lines_that_only_mention_a_token_variable_are_not_credentials() {
    let shell = "grep NPM_TOKEN .env\necho NPM_TOKEN is set\nunset NPM_TOKEN\n[ -n \"$NPM_TOKEN\" ] && echo ok\nNPM_TOKEN=$(cat ~/.npm-token)\nsetenv NPM_TOKEN abc123abc123abc123\n";
    assert_eq!(
        found(Format::Shell, shell),
        ["5 reference - $(cat ~/.npm-token)", "6 auth-token - …",]
    );
}

#[test]
fn free_text_takes_shapes_and_token_named_keys_only() {
    let json = format!(
        "{{\n  \"npmToken\": \"{NPM}\",\n  \"npm_config_cache\": \"/tmp\",\n  \"integrity\": \"sha512-abcdefghijklmnopqrstuvwxyz0123456789abcdefghij==\",\n  \"authToken\": \"not-a-token-shape\",\n  \"gh\": \"{GHP}\"\n}}\n"
    );
    assert_eq!(
        found(Format::Text, &json),
        [
            "2 npm-token registry.npmjs.org npm_…6789",
            "6 github-token - ghp_…6789",
        ]
    );
    // npm_ plus fewer than 36 characters, or inside an identifier: nothing.
    assert!(
        found(
            Format::Text,
            "const npm_lifecycle_event = process.env.npm_package_version;\n"
        )
        .is_empty()
    );
    assert!(found(Format::Text, &format!("x{NPM}\n")).is_empty());
}

#[test]
fn lines_never_panic_on_odd_input() {
    for text in [
        "",
        "=",
        "//:_authToken=",
        "//x/:_",
        "\u{0}\u{ffff}",
        "npmScopes:\n  :\n    npmAuthToken:",
        "[install\ntoken = \"",
        "\"//a\" ",
        ": 1:0",
        "export =",
        "\"",
    ] {
        for format in [
            Format::Npmrc,
            Format::YarnrcYml,
            Format::Yarnrc,
            Format::Bunfig,
            Format::Shell,
            Format::Text,
        ] {
            let _ = credentials(format, "f", text);
        }
    }
}

#[test]
fn npmrc_content_written_by_scripts_and_every_reference_form() {
    let shell = "echo \"//pkgs.dev.azure.com/o/_packaging/f/npm/registry/:_password=${PAT}\" >> .npmrc\n\
        echo \"//npm.pkg.github.com/:_authToken=$1\" > .npmrc\n\
        npm config set -g '//registry.npmjs.org/:_authToken' '${NPM_TOKEN}'\n\
        echo -e \"_auth=$GITHUB_TOKEN\\nalways-auth=true\" >> .npmrc\n\
        cat > .npmrc <<EOF\n\
        registry=https://repo.example.com/npm/\n\
        _auth=${NPM_AUTH}\n\
        EOF\n";
    assert_eq!(
        found(Format::Shell, shell),
        [
            "1 reference pkgs.dev.azure.com ${PAT}",
            "2 reference npm.pkg.github.com $1",
            "3 reference registry.npmjs.org ${NPM_TOKEN}",
            "4 reference registry.npmjs.org $GITHUB_TOKEN",
            "7 reference repo.example.com ${NPM_AUTH}",
        ]
    );
    let js = "const rc = `//registry.npmjs.org/:_authToken=${process.env.NPM_TOKEN}\\n`;\nconst _authToken = getToken();\n";
    assert_eq!(
        found(Format::Text, js),
        ["1 reference registry.npmjs.org ${process.env.NPM_TOKEN}"]
    );
    assert_eq!(
        found(
            Format::YarnrcYml,
            "npmAuthToken: \"${secrets.NPM_TOKEN}\"\n"
        ),
        ["1 reference registry.yarnpkg.com ${secrets.NPM_TOKEN}"]
    );
}

#[test]
fn docker_style_auth_entries_are_decoded_when_they_hold_a_token() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let json = format!(
        "{{\n  \"auths\": {{\n    \"https://npm.pkg.github.com\": {{\n      \"auth\": \"{}\"\n    }},\n    \"registry.example.com\": {{ \"auth\": \"{}\" }}\n  }}\n}}\n",
        b64(&format!("me:{GHP}")),
        b64("me:an ordinary password")
    );
    assert_eq!(
        found(Format::Text, &json),
        ["4 github-token npm.pkg.github.com ghp_…6789"]
    );
}
