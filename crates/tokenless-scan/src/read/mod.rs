//! One reader per [`Format`]: lines in, [`Credential`]s out. Readers never fail: a line
//! they do not understand is only searched for tokens of a known shape.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use regex::Regex;

use crate::format::Format;
use crate::shape::{self, Kind, unquote};
use crate::{Credential, NPMJS};

/// Everything in `text` (the file shown as `path`) that is a credential.
pub fn credentials(format: Format, path: &str, text: &str) -> Vec<Credential> {
    let mut found = Found::new(path);
    match format {
        Format::Npmrc => npmrc(&mut found, text),
        Format::YarnrcYml => yarnrc_yml(&mut found, text),
        Format::Yarnrc => yarnrc(&mut found, text),
        Format::Bunfig => bunfig(&mut found, text),
        Format::Shell | Format::Text => lines(&mut found, text, format == Format::Shell),
    }
    found.all
}

/// Whether a file in free text can hold anything at all (a fast first look).
pub fn may_hold(text: &[u8]) -> bool {
    TRIGGERS.is_match(text)
}

static TRIGGERS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build([
            "npm_",
            "ghp_",
            "gho_",
            "ghu_",
            "ghs_",
            "ghr_",
            "github_pat_",
            "glpat-",
            "_auth",
            "_password",
            "authtoken",
            "npmtoken",
            "node_auth",
            "\"auth\"",
        ])
        .expect("static patterns")
});

/// Collects credentials once each per line.
struct Found<'a> {
    path: &'a str,
    all: Vec<Credential>,
    seen: HashSet<(usize, String)>,
}

impl<'a> Found<'a> {
    fn new(path: &'a str) -> Self {
        Found {
            path,
            all: Vec::new(),
            seen: HashSet::new(),
        }
    }

    fn add(&mut self, line: usize, kind: Kind, registry: Option<String>, value: &str) {
        if value.is_empty() || !self.seen.insert((line, value.to_owned())) {
            return;
        }
        // `_auth=${NPM_TOKEN}`: where the secret comes from, not the secret.
        let kind = if shape::of_value(value) == Some(Kind::Reference) {
            Kind::Reference
        } else {
            kind
        };
        self.all
            .push(Credential::new(self.path, line, kind, registry, value));
    }

    /// A value from a place that holds a credential, attributed to `registry`; a bare
    /// value with no registry counts as npmjs's only with npm's own shape.
    fn value(&mut self, line: usize, value: &str, registry: Option<String>) {
        let value = unquote(value);
        let Some(kind) = shape::of_value(value) else {
            return;
        };
        let registry = registry.or_else(|| (kind == Kind::NpmToken).then(|| NPMJS.to_owned()));
        self.add(line, kind, registry, value);
    }

    /// An npm credential field (`authToken`, `auth`, `password`: after `_` or `//host/:_`)
    /// holding `value`, for `registry`; other fields hold no credential.
    fn field(&mut self, line: usize, field: &str, value: &str, registry: Option<String>) {
        match field {
            "authToken" => self.value(line, value, registry),
            "auth" => self.add(line, Kind::BasicAuth, registry, unquote(value)),
            "password" => self.add(line, Kind::Password, registry, unquote(value)),
            _ => {}
        }
    }

    /// Tokens of a known shape anywhere in `text`.
    fn bare(&mut self, line: usize, text: &str) {
        for (kind, token) in shape::bare(text) {
            let registry = (kind == Kind::NpmToken).then(|| NPMJS.to_owned());
            self.add(line, kind, registry, token);
        }
    }
}

/// `//host[:port][/path]/:field` → (host[:port], field).
fn nerf_dart(key: &str) -> Option<(String, &str)> {
    let rest = key.trim().strip_prefix("//")?;
    let (url, field) = rest.rsplit_once(":_")?;
    let host = url.split('/').next().filter(|h| !h.is_empty())?;
    Some((host.to_ascii_lowercase(), field))
}

/// `https://host[:port]/path` → (scheme, host[:port]).
fn url_host(url: &str) -> Option<(String, String)> {
    let url = unquote(url);
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| (scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

/// npm's ini (and pnpm's): `key=value` lines, `;` and `#` comments.
fn npmrc(found: &mut Found<'_>, text: &str) {
    let pairs: Vec<(usize, &str, &str)> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.trim();
            if l.is_empty() || l.starts_with(';') || l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            Some((i + 1, k.trim(), v.trim()))
        })
        .collect();
    // The registries named (`registry=`, `@scope:registry=`) give hosts their scheme, and
    // `registry=` the host an un-scoped `_authToken` is for.
    let mut schemes: BTreeMap<String, String> = BTreeMap::new();
    let mut default = NPMJS.to_owned();
    for (_, k, v) in &pairs {
        if (*k == "registry" || k.ends_with(":registry"))
            && let Some((scheme, host)) = url_host(v)
        {
            schemes.insert(host.clone(), scheme);
            if *k == "registry" {
                default = host;
            }
        }
    }
    for (line, k, v) in pairs {
        let before = found.all.len();
        match (nerf_dart(k), k.strip_prefix('_')) {
            (Some((host, field)), _) => found.field(line, field, v, Some(host)),
            (None, Some(field @ ("authToken" | "auth" | "password"))) => {
                found.field(line, field, v, Some(default.clone()))
            }
            _ => found.bare(line, v),
        }
        for c in &mut found.all[before..] {
            c.scheme = c.registry.as_ref().and_then(|h| schemes.get(h).cloned());
        }
    }
}

/// One `key: value` line of YAML: (indent, key, value).
type YamlPair<'a> = (usize, &'a str, &'a str);

fn yaml_pair(line: &str) -> Option<YamlPair<'_>> {
    let indent = line.len() - line.trim_start().len();
    let t = line.trim();
    if t.starts_with('#') || t.starts_with('-') {
        return None;
    }
    let (k, v) = t.split_once(':').filter(|(k, _)| !k.contains("://"))?;
    // `"//npm.pkg.github.com":` keeps its colon-free key inside quotes.
    let (k, v) = if let Some(inner) = t.strip_prefix('"') {
        let (key, rest) = inner.split_once('"')?;
        (key, rest.trim_start().strip_prefix(':')?)
    } else {
        (k, v)
    };
    let v = v.split(" #").next().unwrap_or(v).trim();
    Some((indent, unquote(k), v))
}

/// Yarn 2+: `npmAuthToken` at the top, under `npmScopes.<scope>` or under
/// `npmRegistries."<registry>"`; the registry from the nearest `npmRegistryServer`.
fn yarnrc_yml(found: &mut Found<'_>, text: &str) {
    let parsed: Vec<(usize, Option<YamlPair<'_>>)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, yaml_pair(l)))
        .collect();
    // Each line's mapping path, and the registry server declared in each mapping.
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut paths: Vec<Vec<String>> = Vec::new();
    let mut servers: BTreeMap<Vec<String>, String> = BTreeMap::new();
    for (_, pair) in &parsed {
        let Some((indent, key, value)) = pair else {
            paths.push(Vec::new());
            continue;
        };
        while stack.last().is_some_and(|(i, _)| *i >= *indent) {
            stack.pop();
        }
        let path: Vec<String> = stack.iter().map(|(_, k)| k.clone()).collect();
        if *key == "npmRegistryServer"
            && let Some((_, host)) = url_host(value)
        {
            servers.insert(path.clone(), host);
        }
        paths.push(path);
        if value.is_empty() {
            stack.push((*indent, (*key).to_owned()));
        }
    }
    let default = servers
        .get(&Vec::new())
        .cloned()
        .unwrap_or_else(|| "registry.yarnpkg.com".to_owned());
    for ((line, pair), path) in parsed.iter().zip(&paths) {
        let Some((_, key, value)) = pair else {
            continue;
        };
        let registry = match path.first().map(String::as_str) {
            Some("npmRegistries") => path.get(1).and_then(|r| {
                url_host(r).map(|(_, h)| h).or_else(|| {
                    r.strip_prefix("//")
                        .and_then(|h| h.split('/').next())
                        .map(str::to_ascii_lowercase)
                })
            }),
            Some("npmScopes") => servers.get(path).cloned().or(Some(default.clone())),
            _ => Some(default.clone()),
        };
        match *key {
            "npmAuthToken" => found.value(*line, value, registry),
            "npmAuthIdent" => found.add(*line, Kind::BasicAuth, registry, unquote(value)),
            _ => found.bare(*line, value),
        }
    }
}

/// Yarn 1: `key value` lines, either side possibly quoted.
fn yarnrc(found: &mut Found<'_>, text: &str) {
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('#') {
            continue;
        }
        let (k, v) = if let Some(inner) = t.strip_prefix('"') {
            match inner.split_once('"') {
                Some((k, v)) => (k, v.trim()),
                None => continue,
            }
        } else {
            match t.split_once(char::is_whitespace) {
                Some((k, v)) => (k, v.trim()),
                None => continue,
            }
        };
        match nerf_dart(k) {
            Some((host, field)) => found.field(i + 1, field, v, Some(host)),
            None if k == "_authToken" || k == "npmAuthToken" => found.value(i + 1, v, None),
            None => found.bare(i + 1, v),
        }
    }
}

static TOML_STRING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(token|url|password)\s*=\s*"([^"]*)""#).expect("static regex")
});

/// Bun: `token = "…"` in `[install.registry]`, `[install.scopes]` or an inline table, its
/// registry from the `url` beside it; a `user:password@` in a registry URL.
fn bunfig(found: &mut Found<'_>, text: &str) {
    // The url of each [section], for tokens that sit beside it on other lines.
    let mut section = String::new();
    let mut urls: BTreeMap<String, String> = BTreeMap::new();
    let mut lines: Vec<(usize, String, &str)> = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            section = t.trim_matches(['[', ']']).trim().to_owned();
            continue;
        }
        if !t.contains('{')
            && let Some(c) = TOML_STRING.captures(t)
            && &c[1] == "url"
            && let Some((_, host)) = url_host(&c[2])
        {
            urls.insert(section.clone(), host);
        }
        lines.push((i + 1, section.clone(), t));
    }
    for (line, section, t) in lines {
        let mut token = None;
        let mut host = None;
        for c in TOML_STRING.captures_iter(t) {
            match &c[1] {
                "token" => token = c.get(2).map(|m| m.as_str()),
                "url" => host = url_host(&c[2]).map(|(_, h)| h),
                _ => {}
            }
        }
        // `registry = "https://user:secret@host/"`.
        if let Some(at) = t.find("://").map(|i| &t[i + 3..])
            && let Some((creds, rest)) = at.split_once('@')
            && let Some((_, secret)) = creds.split_once(':')
        {
            let host = rest.split(['/', '"']).next().map(str::to_ascii_lowercase);
            found.add(line, Kind::Password, host, secret);
        }
        match token {
            Some(v) => {
                let registry = host.or_else(|| urls.get(&section).cloned());
                found.value(line, v, registry);
            }
            None => found.bare(line, t),
        }
    }
}

static ASSIGN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?:^|[\s;&|(])(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*|npm_config_//[^=\s]+)=("[^"]*"|'[^']*'|\$\([^)]*\)|[^\s;&|]+)"#,
    )
    .expect("static regex")
});
/// fish's `set -gx NAME value`, csh's `setenv NAME value`.
static SET_VAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?:^|[\s;&|(])(?:set\s+-[a-zA-Z]*x[a-zA-Z]*|setenv)\s+([A-Za-z_][A-Za-z0-9_]*)\s+("[^"]*"|'[^']*'|[^\s;&|]+)"#,
    )
    .expect("static regex")
});
static CONFIG_SET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?:npm|pnpm|yarn)\s+config\s+set\s+(?:--?[A-Za-z-]+(?:=\S+)?\s+)*(["']?//[^\s="']+:_(?:authToken|auth|password)["']?|_authToken|npmAuthToken)(?:=|\s+)("[^"]*"|'[^']*'|\S+)"#,
    )
    .expect("static regex")
});
static NERF_ASSIGN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(//[A-Za-z0-9.\-]+(?::\d+)?(?:/[^\s:"'=]*)?:_(?:authToken|auth|password))\s*[=:]\s*"?(\$\{[^}\s]*\}|[^\s"',;}]+)"#)
        .expect("static regex")
});
static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)["']?\b(npm_?token|npm_?auth_?token|node_auth_token|yarn_npm_auth_token|auth_?token)["']?\s*[:=]\s*("[^"]*"|'[^']*'|[^\s,;}]+)"#,
    )
    .expect("static regex")
});

/// npmrc content inside a script or a document (`echo "_auth=…" >> .npmrc`, a heredoc):
/// `registry=URL` sets the host for the un-scoped fields after it.
static NPMRC_REGISTRY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[\s"'`;]|\\n)registry\s*=\s*["']?(https?://[^\s"'`\\]+)"#)
        .expect("static regex")
});
static NPMRC_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[\s"'`;]|\\n)_(authToken|auth|password)\s*=\s*("[^"]*"|'[^']*'|\$\{[^}\s]*\}|[^\s"'`\\;]+)"#)
        .expect("static regex")
});

/// Docker's `config.json` style: `"<registry>": {"auth": "<base64 of user:secret>"}`.
static JSON_AUTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""auth"\s*:\s*"([A-Za-z0-9+/]{8,}={0,2})""#).expect("static regex")
});
static JSON_OBJECT_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""([^"]+)"\s*:\s*\{"#).expect("static regex"));

/// The secret in a base64 `user:secret`, when it has a token's shape.
fn basic_secret(encoded: &str) -> Option<(Kind, String)> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (_, secret) = text.split_once(':')?;
    let (kind, token) = shape::bare(secret).next()?;
    (token == secret).then(|| (kind, token.to_owned()))
}

/// Names of variables that hold an npm credential (`NPM_ID_TOKEN` is an id token).
fn is_token_variable(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    n != "NPM_ID_TOKEN"
        && (n == "NODE_AUTH_TOKEN"
            || n.starts_with("NPM_CONFIG_//")
            || (n.contains("NPM") && (n.contains("TOKEN") || n.ends_with("_AUTH"))))
}

/// Shell lines (profiles, histories, scripts, `.env`) and free text: assignments to token
/// variables, `npm config set` lines, npmrc lines written from a script, token-named keys,
/// and tokens of a known shape anywhere.
fn lines(found: &mut Found<'_>, text: &str, shell: bool) {
    let mut npmrc_registry: Option<String> = None;
    let mut object_key: Option<String> = None;
    for (i, l) in text.lines().enumerate() {
        if let Some(c) = NPMRC_REGISTRY.captures(l) {
            npmrc_registry = url_host(&c[1]).map(|(_, h)| h);
        }
        if let Some(c) = JSON_OBJECT_KEY.captures(l) {
            let key = &c[1];
            object_key = url_host(key).map(|(_, h)| h).or_else(|| {
                key.trim_start_matches("//")
                    .split('/')
                    .next()
                    .map(str::to_ascii_lowercase)
            });
        }
        if !may_hold(l.as_bytes()) {
            continue;
        }
        let line = i + 1;
        // zsh's extended history: `: 1700000000:0;command`.
        let l = match l.strip_prefix(": ").and_then(|r| r.split_once(';')) {
            Some((_, cmd)) => cmd,
            None => l,
        };
        for c in CONFIG_SET.captures_iter(l) {
            let key = unquote(&c[1]);
            match nerf_dart(key) {
                Some((host, field)) => found.field(line, field, &c[2], Some(host)),
                None => found.value(line, &c[2], None),
            }
        }
        for c in NERF_ASSIGN.captures_iter(l) {
            if let Some((host, field)) = nerf_dart(&c[1]) {
                found.field(line, field, &c[2], Some(host));
            }
        }
        for c in JSON_AUTH.captures_iter(l) {
            if let Some((kind, token)) = basic_secret(&c[1]) {
                let registry = object_key
                    .clone()
                    .or_else(|| (kind == Kind::NpmToken).then(|| NPMJS.to_owned()));
                found.add(line, kind, registry, &token);
            }
        }
        for c in NPMRC_FIELD.captures_iter(l) {
            let registry = npmrc_registry.clone().or_else(|| Some(NPMJS.to_owned()));
            let v = unquote(&c[2]);
            // In free text only what has a token's shape or is a reference.
            let shaped = shape::of_value(v).is_some_and(|k| k != Kind::AuthToken);
            if shell || shaped {
                found.field(line, &c[1], v, registry);
            }
        }
        if shell {
            for c in ASSIGN.captures_iter(l).chain(SET_VAR.captures_iter(l)) {
                let name = &c[1];
                if !is_token_variable(name) {
                    continue;
                }
                let host = name
                    .strip_prefix("npm_config_")
                    .and_then(nerf_dart)
                    .map(|(h, _)| h);
                found.value(line, &c[2], host);
            }
        } else {
            for c in KEY_VALUE.captures_iter(l) {
                let v = unquote(&c[2]);
                // In free text, only a value that looks like a token or a reference.
                if shape::of_value(v).is_some_and(|k| k != Kind::AuthToken) {
                    found.value(line, v, None);
                }
            }
        }
        found.bare(line, l);
    }
}

#[cfg(test)]
mod tests;
