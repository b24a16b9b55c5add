//! Turning the paths a user gave into the files to read, in a stable order.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The extensions read when walking a directory.
const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// One file to read, or a directory that could not be listed.
#[derive(Debug)]
pub(crate) enum Entry {
    File(PathBuf),
    Unlisted(PathBuf, io::Error),
}

/// Lists the manifests under `dir`, depth first, sorted by name at each level.
///
/// Hidden files and directories (`.git`, `.helm`, ...) are skipped, and so are
/// symbolic links to directories, which could form loops.
pub(crate) fn walk(dir: &Path, out: &mut dyn FnMut(Entry)) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => return out(Entry::Unlisted(dir.to_owned(), err)),
    };
    let mut names = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => names.push(entry.file_name()),
            Err(err) => return out(Entry::Unlisted(dir.to_owned(), err)),
        }
    }
    names.sort();

    for name in names {
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = dir.join(&name);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, out);
        } else if is_manifest(&path) && fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            out(Entry::File(path));
        }
    }
}

fn is_manifest(path: &Path) -> bool {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    extension.is_some_and(|e| EXTENSIONS.contains(&e.as_str()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn walk_sorts_and_skips_hidden_and_other_files() {
        let root = std::env::temp_dir().join(format!("pvwarden-walk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for dir in ["b", ".git", "a"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in [
            "b/z.yml",
            "b/a.json",
            "a/x.yaml",
            ".git/c.yaml",
            "c.txt",
            "d.YAML",
            ".e.yaml",
        ] {
            fs::write(root.join(file), "").unwrap();
        }
        let mut found = Vec::new();
        walk(&root, &mut |entry| match entry {
            Entry::File(path) => found.push(path.strip_prefix(&root).unwrap().to_owned()),
            Entry::Unlisted(path, err) => panic!("{path:?}: {err}"),
        });
        let expected: Vec<PathBuf> = ["a/x.yaml", "b/a.json", "b/z.yml", "d.YAML"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(found, expected);
        fs::remove_dir_all(&root).unwrap();
    }
}
