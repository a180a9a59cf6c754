//! Which reader a file gets, by its name (and, for pnpm's and npm's global files, its
//! place).

use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// npm's ini: `.npmrc`, `npmrc` (`$PREFIX/etc/npmrc`), pnpm's `rc` and `auth.ini`.
    Npmrc,
    /// Yarn 2+: `.yarnrc.yml`.
    YarnrcYml,
    /// Yarn 1: `.yarnrc`.
    Yarnrc,
    /// Bun: `bunfig.toml`, `.bunfig.toml`.
    Bunfig,
    /// Shell profiles, histories and scripts; `.env` files (`NAME=value` lines).
    Shell,
    /// Anything else that is text: JSON, YAML, source.
    Text,
}

/// The format of the file at `path`.
pub fn of(path: &Path) -> Format {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match name.as_str() {
        ".npmrc" | "npmrc" | "auth.ini" => Format::Npmrc,
        "rc" if parent == "pnpm" => Format::Npmrc,
        ".yarnrc.yml" | ".yarnrc.yaml" => Format::YarnrcYml,
        ".yarnrc" => Format::Yarnrc,
        "bunfig.toml" | ".bunfig.toml" => Format::Bunfig,
        ".bashrc" | ".bash_profile" | ".bash_login" | ".bash_logout" | ".profile" | ".zshrc"
        | ".zprofile" | ".zshenv" | ".zlogin" | ".bash_history" | ".zsh_history" | ".history"
        | ".sh_history" | "fish_history" | "config.fish" | ".envrc" => Format::Shell,
        n if n == ".env" || n.starts_with(".env.") || n.ends_with(".env") => Format::Shell,
        n if n.ends_with(".sh") || n.ends_with(".bash") || n.ends_with(".zsh") => Format::Shell,
        n if n.ends_with(".fish") => Format::Shell,
        _ => Format::Text,
    }
}

/// Files whose format says they hold credentials: read whatever their content.
pub fn is_config(format: Format) -> bool {
    matches!(
        format,
        Format::Npmrc | Format::YarnrcYml | Format::Yarnrc | Format::Bunfig
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_decide() {
        for (path, want) in [
            ("a/.npmrc", Format::Npmrc),
            ("/usr/etc/npmrc", Format::Npmrc),
            ("h/.config/pnpm/rc", Format::Npmrc),
            ("h/.config/pnpm/auth.ini", Format::Npmrc),
            ("x/rc", Format::Text),
            (".yarnrc.yml", Format::YarnrcYml),
            (".yarnrc", Format::Yarnrc),
            ("bunfig.toml", Format::Bunfig),
            (".zsh_history", Format::Shell),
            (".local/share/fish/fish_history", Format::Shell),
            (".env.production", Format::Shell),
            ("deploy.sh", Format::Shell),
            ("package.json", Format::Text),
        ] {
            assert_eq!(of(Path::new(path)), want, "{path}");
        }
    }
}
