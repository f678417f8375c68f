//! Records the git commit the binary is built from (`reprolab --version`,
//! every report's provenance); "unknown" outside a git checkout. Only this
//! small crate reruns its build when HEAD moves, not the whole workspace.

use std::path::Path;
use std::process::Command;

fn main() {
    // At run time, not `env!`: a build script cached from another checkout
    // sharing the target dir must read this checkout's commit.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("../..");
    let git = root.join(".git");
    for watched in [git.join("HEAD"), git.join("refs/heads"), git.join("packed-refs")] {
        if watched.exists() {
            println!("cargo:rerun-if-changed={}", watched.display());
        }
    }
    let commit = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=REPROLAB_GIT_COMMIT={commit}");
}
