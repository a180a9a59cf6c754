//! Development aid: `TOKENLESS_DUMP=path cargo test -p tokenless-ci --test dump -- --nocapture`
//! prints the findings for one file (provider from its folder or name).
use tokenless_ci::{Document, NoFiles, Provider, lint};

#[test]
fn dump() {
    let Ok(paths) = std::env::var("TOKENLESS_DUMP") else {
        return;
    };
    for path in paths.split(',') {
        let Ok(src) = std::fs::read_to_string(path) else {
            continue;
        };
        let provider = if path.contains("github") {
            Provider::GitHub
        } else if path.contains("gitlab") {
            Provider::GitLab
        } else {
            Provider::CircleCi
        };
        println!("== {path}");
        match lint(
            Document {
                path,
                source: &src,
                provider,
            },
            &NoFiles,
        ) {
            Ok(fs) => {
                for f in fs {
                    let line = src[..f.span.start].matches('\n').count() + 1;
                    println!(
                        "  {line} {} [{}] {:?}\n      {}",
                        f.rule,
                        f.severity,
                        &src[f.span.start..f.span.end],
                        f.message
                    );
                }
            }
            Err(e) => println!("  ERROR {e}"),
        }
    }
}
