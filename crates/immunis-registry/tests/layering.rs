//! The workspace's layering, checked from `cargo metadata` and the sources
//! (issue 15). Each rule is data; each check is a pure function over the
//! metadata JSON or over (path, text) pairs, so the unit tests at the bottom
//! show every check failing on a deliberate violation.
//!
//! - Pure domain and wire-format crates depend on no other Immunis crate but
//!   `immunis-model`, on no storage, runtime or web crate, and do no I/O and
//!   read no clock.
//! - The store depends on no Immunis crate but `immunis-model`.
//! - The application (`immunis-registry`) links no web framework, SMTP or
//!   HTTP client, or TLS stack: those are adapters.
//! - Adapters (`immunis-server`, `immunis-web`, `immunis-channels`) do not
//!   depend on the store or the policy, and their sources never name them.
//! - Only the application calls the access policy (`immunis_access::decide`),
//!   and only from the modules listed in `POLICY_CALLERS` — a ratchet: the
//!   application-core work moves every call into one checkpoint module and
//!   this list shrinks with it; a new module calling the policy fails here.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Crates that hold domain logic or wire formats: pure.
const PURE: [&str; 8] = [
    "immunis-model",
    "immunis-access",
    "immunis-cdsi",
    "immunis-matching",
    "immunis-schools",
    "immunis-hl7",
    "immunis-documents",
    "immunis-synth",
];

/// Dependencies no pure crate may have (besides other Immunis crates).
const IMPURE_DEPS: [&str; 12] = [
    "tokio",
    "rusqlite",
    "postgres",
    "tokio-postgres",
    "axum",
    "hyper",
    "lettre",
    "ureq",
    "rustls",
    "maud",
    "tracing",
    "reqwest",
];

/// Source tokens of I/O or a clock, not allowed in a pure crate.
const IMPURE_TOKENS: [&str; 9] = [
    "std::fs",
    "std::net",
    "std::process",
    "std::env::var",
    "SystemTime::now",
    "Instant::now",
    "Local::now",
    "Utc::now",
    "tokio::",
];

const ADAPTERS: [&str; 3] = ["immunis-server", "immunis-web", "immunis-channels"];

/// What the application crate must not link.
const NOT_IN_APPLICATION: [&str; 9] = [
    "axum",
    "hyper",
    "maud",
    "tower",
    "lettre",
    "ureq",
    "rustls",
    "tokio-rustls",
    "url",
];

/// The application's modules that call the access policy today (see the
/// module doc: the checkpoint work shrinks this list).
const POLICY_CALLERS: [&str; 11] = [
    "auth.rs",
    "backup.rs",
    "checkpoint.rs",
    "consent.rs",
    "extract.rs",
    "lib.rs",
    "portal.rs",
    "query.rs",
    "recall.rs",
    "review.rs",
    "school.rs",
];

/// One broken rule, said so a reader can fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Violation(String);

/// The normal (non-dev, non-build) dependencies of each workspace package.
fn dependencies(metadata: &Value) -> Vec<(String, Vec<String>)> {
    metadata["packages"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    let name = p["name"].as_str().unwrap_or_default().to_string();
                    let deps = p["dependencies"]
                        .as_array()
                        .map(|ds| {
                            ds.iter()
                                .filter(|d| d["kind"].is_null())
                                .filter_map(|d| d["name"].as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    (name, deps)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn check_dependencies(metadata: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    for (name, deps) in dependencies(metadata) {
        let n = name.as_str();
        let immunis = |d: &&String| d.starts_with("immunis");
        if PURE.contains(&n) || n == "immunis-store" {
            for d in deps.iter().filter(immunis) {
                if d != "immunis-model" {
                    out.push(Violation(format!(
                        "{n} depends on {d}: domain, wire-format and storage crates depend on immunis-model only"
                    )));
                }
            }
        }
        if PURE.contains(&n) {
            for d in deps.iter().filter(|d| IMPURE_DEPS.contains(&d.as_str())) {
                out.push(Violation(format!(
                    "{n} depends on {d}: a pure crate does no I/O"
                )));
            }
        }
        if n == "immunis-registry" {
            for d in deps
                .iter()
                .filter(|d| NOT_IN_APPLICATION.contains(&d.as_str()))
            {
                out.push(Violation(format!(
                    "immunis-registry depends on {d}: transports and delivery channels are adapters"
                )));
            }
        }
        if ADAPTERS.contains(&n) {
            for d in deps
                .iter()
                .filter(|d| *d == "immunis-store" || *d == "immunis-access")
            {
                out.push(Violation(format!(
                    "{n} depends on {d}: adapters reach data and decisions only through the application"
                )));
            }
        }
    }
    out
}

/// Whether a source calls the access policy: names `immunis_access::decide`
/// or imports `decide` in a `use immunis_access::{…}` group.
fn calls_policy(text: &str) -> bool {
    if text.contains("immunis_access::decide") {
        return true;
    }
    text.match_indices("immunis_access::{").any(|(at, _)| {
        let group = &text[at..];
        let end = group.find('}').unwrap_or(group.len());
        group[..end]
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|w| w == "decide")
    })
}

/// Checks sources given as (crate, path relative to its `src`, text).
fn check_sources(files: &[(String, String, String)]) -> Vec<Violation> {
    let mut out = Vec::new();
    for (krate, path, text) in files {
        let k = krate.as_str();
        if PURE.contains(&k) {
            for t in IMPURE_TOKENS.iter().filter(|t| text.contains(*t)) {
                out.push(Violation(format!(
                    "{k}/src/{path} uses {t}: a pure crate does no I/O and reads no clock (take it as an argument)"
                )));
            }
        }
        if ADAPTERS.contains(&k) {
            for t in ["immunis_store", "immunis_access"] {
                if text.contains(t) {
                    out.push(Violation(format!(
                        "{k}/src/{path} names {t}: adapters go through the application"
                    )));
                }
            }
        }
        if k != "immunis-access" && calls_policy(text) {
            let allowed = k == "immunis-registry" && POLICY_CALLERS.contains(&path.as_str());
            if !allowed {
                out.push(Violation(format!(
                    "{k}/src/{path} calls the access policy: only the application's checkpoint may"
                )));
            }
        }
    }
    out
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

fn rust_sources(dir: &Path, base: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_sources(&p, base, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p
                .strip_prefix(base)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((rel, std::fs::read_to_string(&p).expect("source")));
        }
    }
}

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("metadata JSON")
}

#[test]
fn the_workspace_keeps_its_layers() {
    let meta = metadata();
    let packages = dependencies(&meta);
    assert!(packages.len() >= 14, "{packages:?}");
    let mut violations = check_dependencies(&meta);
    let mut files = Vec::new();
    for (name, _) in &packages {
        let src = workspace_root().join("crates").join(name).join("src");
        let mut found = Vec::new();
        rust_sources(&src, &src, &mut found);
        assert!(!found.is_empty(), "no sources for {name}");
        files.extend(found.into_iter().map(|(p, t)| (name.clone(), p, t)));
    }
    violations.extend(check_sources(&files));
    assert!(violations.is_empty(), "{violations:#?}");
    // The ratchet lists only modules that still call the policy.
    for m in POLICY_CALLERS {
        let text = files
            .iter()
            .find(|(k, p, _)| k == "immunis-registry" && p == m)
            .map(|(_, _, t)| t.as_str())
            .unwrap_or_default();
        assert!(
            calls_policy(text),
            "{m} no longer calls the policy: take it off POLICY_CALLERS"
        );
    }
}

fn fake_metadata(name: &str, deps: &[&str]) -> Value {
    serde_json::json!({ "packages": [{
        "name": name,
        "dependencies": deps.iter().map(|d| serde_json::json!({"name": d, "kind": null})).collect::<Vec<_>>(),
    }]})
}

#[test]
fn an_adapter_depending_on_the_store_is_caught() {
    let v = check_dependencies(&fake_metadata(
        "immunis-web",
        &["immunis-registry", "immunis-store"],
    ));
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].0.contains("immunis-web depends on immunis-store"));
}

#[test]
fn the_application_linking_a_web_framework_or_a_mailer_is_caught() {
    let v = check_dependencies(&fake_metadata(
        "immunis-registry",
        &["immunis-store", "axum", "lettre"],
    ));
    assert_eq!(v.len(), 2, "{v:?}");
}

#[test]
fn a_pure_crate_with_io_or_a_second_immunis_dependency_is_caught() {
    let v = check_dependencies(&fake_metadata("immunis-cdsi", &["immunis-store", "tokio"]));
    assert_eq!(v.len(), 2, "{v:?}");
    let files = vec![(
        "immunis-cdsi".to_string(),
        "engine.rs".to_string(),
        "fn today() -> NaiveDate { chrono::Local::now().date_naive() }".to_string(),
    )];
    let v = check_sources(&files);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].0.contains("Local::now"));
}

#[test]
fn a_policy_call_outside_the_application_or_in_a_new_module_is_caught() {
    let call = "use immunis_access::{decide, Action};\nfn f() { decide(a, b, c, None); }";
    let files = vec![
        (
            "immunis-web".to_string(),
            "patients.rs".to_string(),
            call.to_string(),
        ),
        (
            "immunis-registry".to_string(),
            "reports.rs".to_string(),
            call.to_string(),
        ),
        (
            "immunis-registry".to_string(),
            "query.rs".to_string(),
            call.to_string(),
        ),
        (
            "immunis".to_string(),
            "commands.rs".to_string(),
            "let d = immunis_access::decide(&a, b, c, None);".to_string(),
        ),
    ];
    let v = check_sources(&files);
    // web: names immunis_access and calls the policy; reports.rs: a new
    // caller; the CLI: a caller; query.rs: on the list.
    assert_eq!(v.len(), 4, "{v:#?}");
    assert!(!v.iter().any(|x| x.0.contains("query.rs")));
    assert!(!calls_policy(
        "use immunis_matching::decide;\nuse immunis_access::{Action};"
    ));
}
