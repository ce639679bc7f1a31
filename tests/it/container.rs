//! The container build's context: `.dockerignore` is an allowlist, so a file the Dockerfile
//! copies but the list leaves out breaks `docker build` ("not found"), which no other test
//! would see (CI has no Docker daemon).

use std::path::Path;

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

/// The paths `.dockerignore` lets into the context (`!path` lines, without a trailing `/`).
fn allowed() -> Vec<String> {
    read(".dockerignore")
        .lines()
        .filter_map(|l| l.trim().strip_prefix('!'))
        .map(|p| p.trim_end_matches('/').to_owned())
        .collect()
}

#[test]
fn everything_the_dockerfile_copies_is_in_the_build_context() {
    let allowed = allowed();
    let mut sources = Vec::new();
    for line in read("Dockerfile").lines() {
        let Some(args) = line.trim().strip_prefix("COPY ") else {
            continue;
        };
        // From another stage, not from the context.
        if args.contains("--from=") {
            continue;
        }
        let words: Vec<&str> = args.split_whitespace().collect();
        sources.extend(words[..words.len() - 1].iter().map(|s| s.to_string()));
    }
    assert!(sources.len() >= 10, "{sources:?}");
    for source in &sources {
        let source = source.trim_end_matches('/');
        let listed = allowed
            .iter()
            .any(|a| a == source || source.starts_with(&format!("{a}/")));
        assert!(
            listed,
            "the Dockerfile copies {source}, which .dockerignore leaves out"
        );
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(source).exists(),
            "the Dockerfile copies {source}, which does not exist"
        );
    }
}
