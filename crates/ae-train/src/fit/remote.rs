//! Devices on other machines, through Burn's remote backend: a server of this workspace's `serve`
//! example (or any `burn::server::RemoteServer`) named `ws://host:port`, optionally `#index` for
//! the server's device `index`.
//!
//! The client's token comes from the environment ([`TOKEN_ENV`]) or a file the caller reads
//! ([`DeviceSpec::device_with_token`](super::DeviceSpec::device_with_token)), never from a
//! command line, where other users of the machine can read it.

use crate::error::TrainError;

/// The environment variable holding the token a remote server's authorizer checks.
pub const TOKEN_ENV: &str = "AE_REMOTE_TOKEN";

/// A remote server's address as a device names it: `ws://host:port`, and which of its devices.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteAddress {
    /// `ws://host:port`.
    url: String,
}

impl RemoteAddress {
    /// Parses `ws://host:port` (a host name, an IPv4 address or a bracketed IPv6 address, and a
    /// port from 1 to 65535) and an optional `#index`, returning the address and the index.
    ///
    /// # Errors
    /// [`TrainError::InvalidDevice`] saying which part is wrong.
    pub fn parse(text: &str) -> Result<(Self, Option<usize>), TrainError> {
        let invalid = |message: String| TrainError::InvalidDevice {
            given: text.to_string(),
            message,
        };
        let rest = text
            .strip_prefix("ws://")
            .ok_or_else(|| invalid("a remote device is ws://HOST:PORT (WebSocket)".into()))?;
        let (authority, index) = match rest.split_once('#') {
            Some((authority, index)) => {
                let index = index.parse::<usize>().map_err(|_| {
                    invalid(format!(
                        "`#{index}` is not a device index (ws://HOST:PORT#0)"
                    ))
                })?;
                (authority, Some(index))
            }
            None => (rest, None),
        };
        let authority = authority.strip_suffix('/').unwrap_or(authority);
        if authority.contains('/') || authority.contains('@') || authority.contains('?') {
            return Err(invalid(
                "a remote device is ws://HOST:PORT, without a path, user or query".into(),
            ));
        }
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or_else(|| invalid("the address has no port (ws://HOST:PORT)".into()))?;
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|&port| port > 0)
            .ok_or_else(|| invalid(format!("`{port}` is not a port (1-65535)")))?;
        let valid_host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => {
                !host.is_empty()
                    && host.len() <= 253
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            }
        };
        if !valid_host {
            return Err(invalid(format!("`{host}` is not a host name or address")));
        }
        Ok((
            Self {
                url: format!("ws://{}:{port}", host.to_ascii_lowercase()),
            },
            index,
        ))
    }

    /// `ws://host:port`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl std::fmt::Display for RemoteAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

/// The token of [`TOKEN_ENV`], if set and not empty.
pub fn token_from_env() -> Option<String> {
    std::env::var(TOKEN_ENV)
        .ok()
        .map(|token| token.trim().to_string())
        .filter(|token| !token.is_empty())
}

/// Reads a token from `path`: its first line, trimmed.
///
/// # Errors
/// When the file cannot be read, is not text, or holds no token.
pub fn token_from_file(path: &std::path::Path) -> Result<String, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        return Err(TrainError::InvalidArgument {
            what: "--remote-token-file",
            message: format!("{} holds no token on its first line", path.display()),
        });
    }
    Ok(token.to_string())
}

/// The remote devices this process opened, with their names, so that a failure can name the
/// server that stopped answering.
#[cfg(feature = "remote")]
static OPENED: std::sync::Mutex<Vec<(burn::tensor::Device, RemoteAddress, usize)>> =
    std::sync::Mutex::new(Vec::new());

/// The error of a training run that failed with `message`: [`TrainError::DeviceLost`] naming the
/// remote devices among `devices` whose server no longer accepts connections, else
/// [`TrainError::Training`].
pub(super) fn training_failure(
    devices: &[burn::tensor::Device],
    message: String,
    checkpoint_dir: &std::path::Path,
) -> TrainError {
    #[cfg(feature = "remote")]
    {
        let opened = OPENED.lock().map(|o| o.clone()).unwrap_or_default();
        let lost: Vec<String> = opened
            .into_iter()
            .filter(|(device, address, _)| devices.contains(device) && !answers(address))
            .map(|(_, address, index)| format!("{address}#{index}"))
            .collect();
        if !lost.is_empty() {
            return TrainError::DeviceLost {
                devices: lost.join(", "),
                dir: checkpoint_dir.to_path_buf(),
                message,
            };
        }
    }
    #[cfg(not(feature = "remote"))]
    let _ = (devices, checkpoint_dir);
    TrainError::Training(message)
}

/// Whether the server at `address` still accepts connections. (A device whose session broke
/// cannot tell: after one server of a data-parallel run goes, the sessions with the others fail
/// too, while their servers still run.)
#[cfg(feature = "remote")]
fn answers(address: &RemoteAddress) -> bool {
    use std::net::{TcpStream, ToSocketAddrs};
    let authority = address.url().trim_start_matches("ws://");
    authority.to_socket_addrs().is_ok_and(|mut addresses| {
        addresses.any(|a| TcpStream::connect_timeout(&a, std::time::Duration::from_secs(2)).is_ok())
    })
}

/// Connects device `index` of the server at `address`, presenting `token`.
#[cfg(feature = "remote")]
pub(super) fn connect(
    address: &RemoteAddress,
    index: usize,
    token: Option<&str>,
) -> Result<burn::tensor::Device, TrainError> {
    use burn::remote::{ConnectError, RemoteHost};
    let mut host = RemoteHost::websocket(address.url());
    if let Some(token) = token {
        host = host.with_credential(token);
    }
    let device = burn::tensor::Device::remote_options(&host)
        .device_index(index)
        .init()
        .map_err(|err| TrainError::DeviceUnavailable {
            device: format!("{address}#{index}"),
            message: match err {
                ConnectError::Unauthorized => format!(
                    "the server refused the token{}: set {TOKEN_ENV} (or --remote-token-file) to \
                     the token the server was started with",
                    if token.is_none() {
                        " (none was set)"
                    } else {
                        ""
                    }
                ),
                ConnectError::Unreachable { reason } => format!(
                    "no server answered ({reason}): is `serve` running there, and the port \
                     reachable (an SSH tunnel: ssh -L PORT:localhost:PORT HOST)?"
                ),
                ConnectError::NoSuchDevice { device_count } => format!(
                    "the server hosts {device_count} device(s): use #0 to #{}",
                    device_count.saturating_sub(1)
                ),
                other => other.to_string(),
            },
        })?;
    // Whether the server runs this workspace's kernels, asked once (see `ops::remote`).
    ae_models::ops::remote::probe(&device).map_err(|message| TrainError::DeviceUnavailable {
        device: format!("{address}#{index}"),
        message,
    })?;
    if let Ok(mut opened) = OPENED.lock() {
        opened.push((device.clone(), address.clone(), index));
    }
    Ok(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses_and_indices() {
        let (address, index) = RemoteAddress::parse("ws://127.0.0.1:3000").unwrap();
        assert_eq!((address.url(), index), ("ws://127.0.0.1:3000", None));
        let (address, index) = RemoteAddress::parse("ws://GPU-1.lan:8080/#2").unwrap();
        assert_eq!((address.url(), index), ("ws://gpu-1.lan:8080", Some(2)));
        let (address, _) = RemoteAddress::parse("ws://[::1]:3000").unwrap();
        assert_eq!(address.url(), "ws://[::1]:3000");
        for (bad, needle) in [
            ("http://host:3000", "ws://"),
            ("ws://host", "no port"),
            ("ws://host:0", "not a port"),
            ("ws://host:70000", "not a port"),
            ("ws://:3000", "host"),
            ("ws://ho st:3000", "host"),
            ("ws://[zz]:3000", "host"),
            ("ws://host:3000/path", "path"),
            ("ws://user@host:3000", "user"),
            ("ws://host:3000#x", "device index"),
        ] {
            let err = RemoteAddress::parse(bad).unwrap_err().to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn a_token_file_gives_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  s3cret \nignored\n").unwrap();
        assert_eq!(token_from_file(&path).unwrap(), "s3cret");
        std::fs::write(&path, "\n").unwrap();
        assert!(token_from_file(&path).is_err());
        assert!(token_from_file(&dir.path().join("missing")).is_err());
    }
}
