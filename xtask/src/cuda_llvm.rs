//! `cargo xtask cuda-llvm`: lets Burn's `cuda` backend build offline, behind the LLVM of the
//! system's package manager instead of the LLVM tarball its build downloads.
//!
//! burn `cuda` → cubecl-cuda 0.11.3 → cubecl-llvm → build dependency `tracel-llvm-bundler`
//! 23.1.0-4, whose build script downloads LLVM unless
//! `<data dir>/tracel/tracel-llvm-23.1.0-4/.tracel-llvm-installed` exists (data dir:
//! `$XDG_DATA_HOME`, else `~/.local/share`), and then runs that folder's `bin/llvm-config`. This
//! task makes that folder: the marker, and an `llvm-config` that runs Debian's LLVM 22 and turns
//! the absolute library paths of `--system-libs` into `-l` flags (the bundler passes what it reads
//! to the linker as library names). It installs nothing without `--install`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

/// The bundle the locked cubecl-llvm asks for.
const BUNDLE: &str = "tracel-llvm-23.1.0-4";
/// The marker the bundler's build script looks for.
const MARKER: &str = ".tracel-llvm-installed";
/// Debian's LLVM (one major version below the bundle's 23: see docs/gpu.md).
const LLVM_MAJOR: u32 = 22;
/// What Debian's LLVM needs for a static link of the NVPTX backend.
const PACKAGES: [&str; 3] = ["llvm-22-dev", "libpolly-22-dev", "libzstd-dev"];
/// The first line of the wrapper, by which this task knows a folder it made.
const WRAPPER_TAG: &str = "# written by `cargo xtask cuda-llvm`";

/// Where the bundler looks (the `dirs` crate's `data_local_dir` on Linux).
fn bundle_dir() -> Result<PathBuf, Error> {
    let data = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
            PathBuf::from(home).join(".local/share")
        }
    };
    Ok(data.join("tracel").join(BUNDLE))
}

fn system_llvm_config() -> PathBuf {
    PathBuf::from(format!("/usr/lib/llvm-{LLVM_MAJOR}/bin/llvm-config"))
}

/// Whether this is a Debian or Ubuntu system (`/etc/os-release`).
fn is_debian_like() -> bool {
    fs::read_to_string("/etc/os-release").is_ok_and(|text| {
        text.lines().any(|line| {
            let line = line.to_ascii_lowercase();
            (line.starts_with("id=") || line.starts_with("id_like="))
                && (line.contains("debian") || line.contains("ubuntu"))
        })
    })
}

fn install_packages() -> Result<(), Error> {
    let root = Command::new("id").arg("-u").output()?.stdout == b"0\n";
    let mut command = if root {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg("apt-get");
        sudo
    };
    println!(
        "running: {}apt-get install -y {}",
        if root { "" } else { "sudo " },
        PACKAGES.join(" ")
    );
    let status = command
        .args(["install", "-y", "--no-install-recommends"])
        .args(PACKAGES)
        .status()?;
    if !status.success() {
        return Err(format!("apt-get install failed ({status})").into());
    }
    Ok(())
}

/// The wrapper script: Debian's llvm-config, with `--system-libs`' absolute paths made `-l`
/// flags (`/usr/lib/x86_64-linux-gnu/libz3.so` → `-lz3`).
fn wrapper(llvm_config: &Path) -> String {
    format!(
        r#"#!/bin/sh
{WRAPPER_TAG}
# Runs Debian's LLVM {LLVM_MAJOR} for tracel-llvm-bundler (Burn's `cuda` backend built offline).
out=$("{llvm}" "$@") || exit $?
printf '%s\n' "$out" | sed -E 's#(^| )/[^ ]*/lib([^ /]+)\.(so|a)[^ ]*#\1-l\2#g'
"#,
        llvm = llvm_config.display()
    )
}

fn write_if_changed(path: &Path, contents: &str) -> Result<(), Error> {
    if fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    fs::write(path, contents)?;
    Ok(())
}

/// Runs the task: checks for (or with `install`, installs) Debian's LLVM, and writes the
/// bundler's folder. `force` replaces a folder this task did not write (a downloaded bundle).
pub fn cuda_llvm(install: bool, force: bool) -> Result<(), Error> {
    let dir = bundle_dir()?;
    let llvm_config = system_llvm_config();
    if !llvm_config.is_file() {
        if !is_debian_like() {
            return Err(format!(
                "this task supports Debian and Ubuntu (LLVM {LLVM_MAJOR} from their packages); \
                 elsewhere, build once with network access (the build downloads {BUNDLE}) or \
                 put an LLVM 22 or 23 with an llvm-config at {}",
                dir.display()
            )
            .into());
        }
        if !install {
            return Err(format!(
                "{} is missing: install Debian's LLVM with\n  sudo apt-get install {}\nor run \
                 `cargo xtask cuda-llvm --install`",
                llvm_config.display(),
                PACKAGES.join(" ")
            )
            .into());
        }
        install_packages()?;
        if !llvm_config.is_file() {
            return Err(format!("{} is still missing after apt-get", llvm_config.display()).into());
        }
    }
    let version = Command::new(&llvm_config).arg("--version").output()?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    if !version.starts_with(&format!("{LLVM_MAJOR}.")) {
        return Err(format!(
            "{} says version {version:?}, not {LLVM_MAJOR}.x",
            llvm_config.display()
        )
        .into());
    }

    let wrapper_path = dir.join("bin/llvm-config");
    let ours = fs::read_to_string(&wrapper_path).is_ok_and(|text| text.contains(WRAPPER_TAG));
    if dir.join(MARKER).exists() && !ours && !force {
        return Err(format!(
            "{} already holds an LLVM bundle this task did not write (a downloaded one?): it is \
             left alone; --force replaces it",
            dir.display()
        )
        .into());
    }
    fs::create_dir_all(wrapper_path.parent().ok_or("no parent")?)?;
    // Unchanged files are left alone: the bundler's build script reruns when its marker changes,
    // and with it cubecl-llvm and everything above it (~19 minutes).
    write_if_changed(&wrapper_path, &wrapper(&llvm_config))?;
    fs::set_permissions(&wrapper_path, fs::Permissions::from_mode(0o755))?;
    write_if_changed(
        &dir.join(MARKER),
        &format!("LLVM {version} from Debian, by cargo xtask cuda-llvm\n"),
    )?;

    // The wrapper must answer what the bundler asks.
    for argument in ["--libdir", "--includedir", "--system-libs", "--libs"] {
        let output = Command::new(&wrapper_path)
            .args(["--link-static", argument])
            .output()?;
        if !output.status.success() || output.stdout.is_empty() {
            return Err(format!(
                "{} --link-static {argument} failed: {}",
                wrapper_path.display(),
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
    }
    let system_libs = Command::new(&wrapper_path)
        .args(["--link-static", "--system-libs"])
        .output()?;
    println!(
        "wrote {} (an llvm-config running LLVM {version} from {}) and {}",
        wrapper_path.display(),
        llvm_config.display(),
        dir.join(MARKER).display()
    );
    println!(
        "system libraries: {}",
        String::from_utf8_lossy(&system_libs.stdout).trim()
    );
    println!(
        "build the cuda backend offline with:\n  cargo build --release --features cuda --example backend_bench\n\
         (after switching LLVM under an existing build: cargo clean -p cubecl-llvm -p tracel-llvm-bundler)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrapper_turns_library_paths_into_flags() {
        let dir = std::env::temp_dir().join(format!("cuda-llvm-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("llvm-config");
        fs::write(
            &fake,
            "#!/bin/sh\necho '-lrt -ldl /usr/lib/x86_64-linux-gnu/libz3.so /usr/lib/x86_64-linux-gnu/libzstd.so.1 -lm'\n",
        )
        .unwrap();
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        let script = dir.join("wrapper");
        fs::write(&script, wrapper(&fake)).unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let out = Command::new(&script).arg("--system-libs").output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "-lrt -ldl -lz3 -lzstd -lm"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
