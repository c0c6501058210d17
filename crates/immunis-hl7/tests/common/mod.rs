//! Shared helpers for the integration tests: locating the shared corpus.
#![allow(dead_code)]

use std::path::PathBuf;

/// `$IMMUNIS_SHARED`, else `CARGO_MANIFEST_DIR/../../../shared`.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("IMMUNIS_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}

/// `(file name, bytes)` of every file in `hl7/messages/`, sorted by name.
pub fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = shared_dir().join("hl7/messages");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read corpus {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "hl7"))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(e.path()).expect("readable corpus file");
            (name, bytes)
        })
        .collect();
    out.sort();
    assert!(out.len() > 100, "corpus looks incomplete: {}", out.len());
    out
}

/// One corpus file as text (lossy for non-UTF-8 bytes).
pub fn corpus_text(prefix: &str) -> String {
    let (_, bytes) = corpus()
        .into_iter()
        .find(|(n, _)| n.starts_with(prefix))
        .unwrap_or_else(|| panic!("no corpus file {prefix}"));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `file name -> segment count` from the README catalogue (`N segs`).
pub fn catalogue_segment_counts() -> Vec<(String, usize)> {
    let readme = std::fs::read_to_string(shared_dir().join("hl7/README.md")).expect("README");
    readme
        .lines()
        .filter_map(|line| {
            let line = line.strip_prefix("| `")?;
            let (name, rest) = line.split_once('`')?;
            let segs = rest.split(" segs").next()?;
            let n = segs.rsplit(' ').next()?.parse().ok()?;
            Some((name.to_string(), n))
        })
        .collect()
}
