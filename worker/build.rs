//! Records the commit the binary is built from as `SLUICE_GIT_COMMIT` (shown by `GET /`):
//! `git rev-parse HEAD` when the sources are a git checkout, else the `SLUICE_COMMIT`
//! environment variable (a Docker build, whose context has no `.git`, passes it as a build
//! argument), else `unknown`.

use std::path::PathBuf;
use std::process::Command;

/// `git <args>` in this crate's directory, trimmed; `None` when git or the repository is missing.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=SLUICE_COMMIT");
    let commit = match git(&["rev-parse", "HEAD"]) {
        Some(commit) => {
            // Rebuild when HEAD moves: HEAD itself (a checkout), the branch it points to (a
            // commit) and packed-refs (where `git gc` moves branch heads).
            let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
            watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
            for name in watched {
                if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name]) {
                    if PathBuf::from(&path).exists() {
                        println!("cargo:rerun-if-changed={path}");
                    }
                }
            }
            commit
        }
        None => {
            std::env::var("SLUICE_COMMIT").ok().filter(|c| !c.trim().is_empty()).unwrap_or_else(|| "unknown".into())
        }
    };
    println!("cargo:rustc-env=SLUICE_GIT_COMMIT={}", commit.trim());
}
