//! Every relative link of the repository's Markdown files resolves: the file or folder exists, and
//! a `#fragment` names a heading of the file it points into (GitHub's anchors).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The Markdown files of the checkout, `target/` and hidden folders left out.
fn markdown_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" || name == "runs" {
            continue;
        }
        // `assets/mnist-sample` is a link to ae-data's folder: read the files once, there.
        if entry.file_type().is_ok_and(|kind| kind.is_symlink()) {
            continue;
        }
        if path.is_dir() {
            markdown_files(&path, found);
        } else if name.ends_with(".md") {
            found.push(path);
        }
    }
}

/// The text outside fenced code blocks and inline code spans.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Drop inline code: a link inside backticks is an example, not a link.
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// The targets of the inline links and images (`[text](target)`, `![alt](target)`).
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        let target = after[..end].split_whitespace().next().unwrap_or("");
        targets.push(target.to_string());
        rest = &after[end..];
    }
    targets
}

/// GitHub's anchor of a heading: lowercase, punctuation but `-` and `_` dropped, spaces to `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings (repeated headings get `-1`, `-2`, ...).
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#').replace('`', "");
        let base = anchor(&heading);
        let mut name = base.clone();
        let mut n = 0;
        while seen.contains(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        seen.insert(name);
    }
    seen
}

/// Where a link points: `Ok(())`, or what is wrong.
fn check(file: &Path, target: &str) -> Result<(), String> {
    if target.is_empty() {
        return Err("an empty link".into());
    }
    if target.contains("://") || target.starts_with("mailto:") {
        return Ok(());
    }
    let (path, fragment) = match target.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (target, None),
    };
    let base = file.parent().unwrap_or(Path::new("."));
    let resolved = if path.is_empty() {
        file.to_path_buf()
    } else {
        base.join(path)
    };
    if !resolved.exists() {
        return Err(format!("{} does not exist", resolved.display()));
    }
    if let Some(fragment) = fragment {
        if resolved.extension().is_none_or(|ext| ext != "md") {
            return Err(format!(
                "#{fragment} points into a file that is not Markdown"
            ));
        }
        let text = std::fs::read_to_string(&resolved).map_err(|e| e.to_string())?;
        if !anchors(&text).contains(fragment) {
            return Err(format!("{} has no heading #{fragment}", resolved.display()));
        }
    }
    Ok(())
}

#[test]
fn every_relative_link_of_the_markdown_files_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("crates").is_dir() && root.join("docs").is_dir(),
        "run from the repository: {} has no crates/ or docs/",
        root.display()
    );
    let mut files = Vec::new();
    markdown_files(root, &mut files);
    assert!(
        files.len() >= 20,
        "found only {} Markdown files",
        files.len()
    );
    let mut broken = Vec::new();
    let mut links = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a Markdown file of the checkout");
        for target in link_targets(&prose(&text)) {
            links += 1;
            if let Err(why) = check(file, &target) {
                let shown = file.strip_prefix(root).unwrap_or(file);
                broken.push(format!("{}: ({target}): {why}", shown.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(links >= 50, "found only {links} links");
}

#[test]
fn the_checker_finds_broken_links_and_anchors() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("a.md");
    std::fs::write(
        &file,
        "# Where it stands\n## A `code` heading: yes\n## Twice\n## Twice\n",
    )
    .expect("write");
    assert_eq!(check(&file, "#where-it-stands"), Ok(()));
    assert_eq!(check(&file, "a.md#a-code-heading-yes"), Ok(()));
    assert_eq!(check(&file, "#twice-1"), Ok(()));
    assert!(check(&file, "#nowhere").is_err());
    assert!(check(&file, "b.md").is_err());
    assert!(check(&file, "").is_err());
    assert_eq!(check(&file, "https://burn.dev"), Ok(()));
    assert_eq!(
        link_targets(&prose(
            "[x](a.md) `[y](b.md)`\n```\n[z](c.md)\n```\n![p](d.png \"t\")"
        )),
        vec!["a.md", "d.png"]
    );
}
