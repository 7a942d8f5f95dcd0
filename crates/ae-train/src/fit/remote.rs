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
                // Burn's session asks for a device by a 32-bit index: a larger one would wrap.
                let index = digits(index)
                    .and_then(|index| index.parse::<u32>().ok())
                    .ok_or_else(|| {
                        invalid(format!(
                            "`#{index}` is not a device index (ws://HOST:PORT#0, at most #{})",
                            u32::MAX
                        ))
                    })?;
                (authority, Some(index as usize))
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
            // `[::1]` alone splits inside the brackets.
            .filter(|(_, port)| !port.ends_with(']'))
            .ok_or_else(|| invalid("the address has no port (ws://HOST:PORT)".into()))?;
        let port = digits(port)
            .and_then(|port| port.parse::<u16>().ok())
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

/// `text` when it is ASCII digits only (Rust's integer parsers also take a leading `+`).
fn digits(text: &str) -> Option<&str> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then_some(text)
}

/// The longest token a token file may hold, in bytes; a longer first line (or a file without
/// end, such as a device) is refused before it is read whole.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// The token of [`TOKEN_ENV`], if set and not empty.
pub fn token_from_env() -> Option<String> {
    std::env::var(TOKEN_ENV)
        .ok()
        .map(|token| token.trim().to_string())
        .filter(|token| !token.is_empty())
}

/// Reads a token from `path`, the file given to `flag` (`--remote-token-file`, `--token-file`):
/// its first line, trimmed, at most [`MAX_TOKEN_BYTES`] bytes of text.
///
/// # Errors
/// [`TrainError::InvalidArgument`] naming `flag` when the file cannot be read, is not text, holds
/// no token on its first line or a longer one.
pub fn token_from_file(path: &std::path::Path, flag: &'static str) -> Result<String, TrainError> {
    use std::io::{BufRead, Read};
    let invalid = |problem: String| TrainError::InvalidArgument {
        what: flag,
        message: format!(
            "{problem}: give a text file whose first line is the token (at most \
             {MAX_TOKEN_BYTES} bytes), readable by this user only (chmod 600)"
        ),
    };
    let file = std::fs::File::open(path)
        .map_err(|e| invalid(format!("cannot open {}: {e}", path.display())))?;
    // One byte more than a token may have, up to the end of the first line.
    let mut line = Vec::new();
    std::io::BufReader::new(file.take(MAX_TOKEN_BYTES as u64 + 2))
        .read_until(b'\n', &mut line)
        .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
    // The length first: a cut line may end inside a character.
    if line.trim_ascii().len() > MAX_TOKEN_BYTES {
        return Err(invalid(format!(
            "the first line of {} is longer than {MAX_TOKEN_BYTES} bytes",
            path.display()
        )));
    }
    let line = std::str::from_utf8(&line)
        .map_err(|_| invalid(format!("{} is not text", path.display())))?;
    let token = line.trim();
    if token.is_empty() {
        return Err(invalid(format!(
            "{} holds no token on its first line",
            path.display()
        )));
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

/// A TCP connection to the server at `address` (each of its addresses tried for 2 s), if one
/// accepts.
#[cfg(feature = "remote")]
pub(super) fn tcp_connect(address: &RemoteAddress) -> Option<std::net::TcpStream> {
    use std::net::{TcpStream, ToSocketAddrs};
    let authority = address.url().trim_start_matches("ws://");
    authority
        .to_socket_addrs()
        .ok()?
        .find_map(|a| TcpStream::connect_timeout(&a, std::time::Duration::from_secs(2)).ok())
}

/// Whether the server at `address` still accepts connections. (A device whose session broke
/// cannot tell: after one server of a data-parallel run goes, the sessions with the others fail
/// too, while their servers still run.)
#[cfg(feature = "remote")]
fn answers(address: &RemoteAddress) -> bool {
    tcp_connect(address).is_some()
}

/// How long opening a remote device (the connection, the session, the question of which
/// kernels its server runs) may take before the server is given up as not answering.
#[cfg(feature = "remote")]
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Connects device `index` of the server at `address`, presenting `token`, within
/// [`CONNECT_TIMEOUT`].
#[cfg(feature = "remote")]
pub(super) fn connect(
    address: &RemoteAddress,
    index: usize,
    token: Option<&str>,
) -> Result<burn::tensor::Device, TrainError> {
    connect_within(address, index, token, CONNECT_TIMEOUT)
}

/// [`connect`] giving up after `limit`.
#[cfg(feature = "remote")]
fn connect_within(
    address: &RemoteAddress,
    index: usize,
    token: Option<&str>,
    limit: std::time::Duration,
) -> Result<burn::tensor::Device, TrainError> {
    use std::sync::mpsc::{RecvTimeoutError, channel};
    let unavailable = |message: String| TrainError::DeviceUnavailable {
        device: format!("{address}#{index}"),
        message,
    };
    // Burn's connect has no time limit: a program that accepts the connection and never answers
    // would hold the trainer forever. The attempt runs on a thread of its own, left behind (the
    // trainer then stops with this error) if it never returns.
    let (sender, receiver) = channel();
    let (target, token) = (address.clone(), token.map(str::to_string));
    std::thread::Builder::new()
        .name(format!("connect {address}#{index}"))
        .spawn(move || {
            let _ = sender.send(open(&target, index, token.as_deref()));
        })
        .map_err(|e| unavailable(format!("cannot start connecting: {e}")))?;
    match receiver.recv_timeout(limit) {
        Ok(opened) => opened,
        Err(RecvTimeoutError::Timeout) => Err(unavailable(format!(
            "no answer within {} s: something accepts connections there but did not open the \
             device in time (a server that hangs, another program on that port, or a tunnel or \
             device setup slower than that)",
            limit.as_secs()
        ))),
        Err(RecvTimeoutError::Disconnected) => Err(unavailable(
            "the connection attempt ended without an answer (see the message above)".into(),
        )),
    }
}

/// Opens device `index` of the server at `address` and asks which kernels its server runs.
#[cfg(feature = "remote")]
fn open(
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
                // Something listens there, but the WebSocket handshake failed.
                ConnectError::Unreachable { reason } if answers(address) => format!(
                    "a program answers there, but not as `serve` does ({reason}): is it this \
                     workspace's `serve`, and the port the one it printed?"
                ),
                ConnectError::Unreachable { reason } => format!(
                    "no server answered ({reason}): is `serve` running there, and the port \
                     reachable (an SSH tunnel: ssh -L PORT:localhost:PORT HOST)?"
                ),
                ConnectError::NoSuchDevice { device_count } => format!(
                    "the server hosts {device_count} device(s): use #0 to #{}",
                    device_count.saturating_sub(1)
                ),
                other => format!(
                    "{other}: is it this workspace's `serve` (built on Burn 0.22.1), and the port \
                     the one it printed?"
                ),
            },
        })?;
    super::device::probe(&device).map_err(|message| TrainError::DeviceUnavailable {
        device: format!("{address}#{index}"),
        message: format!("the server failed a first computation ({message})"),
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
            ("ws://host:3000#-1", "device index"),
            ("ws://host:3000#+1", "device index"),
            ("ws://host:3000#4294967296", "at most #4294967295"),
            ("ws://host:+3000", "not a port"),
            ("ws://[::1]", "no port"),
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
        let flag = "--token-file";
        assert_eq!(token_from_file(&path, flag).unwrap(), "s3cret");
        let refused = |contents: &[u8]| {
            std::fs::write(&path, contents).unwrap();
            token_from_file(&path, flag).unwrap_err().to_string()
        };
        assert!(refused(b"\n").contains("no token"));
        assert!(refused(b"\xff\xfe\n").contains("not text"));
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        assert!(refused(long.as_bytes()).contains("longer than 4096"));
        // Cut inside a two-byte character: still too long, not "not text".
        assert!(refused("é".repeat(3000).as_bytes()).contains("longer than 4096"));
        let longest = "y".repeat(MAX_TOKEN_BYTES);
        std::fs::write(&path, format!("{longest}\n")).unwrap();
        assert_eq!(token_from_file(&path, flag).unwrap(), longest);
        for missing in [dir.path().join("missing"), dir.path().to_path_buf()] {
            let err = token_from_file(&missing, flag).unwrap_err().to_string();
            assert!(err.contains("--token-file"), "{err}");
        }
    }

    /// A program that accepts the connection and never answers is given up after the limit.
    #[cfg(feature = "remote")]
    #[test]
    fn a_server_that_never_answers_is_given_up() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts, reads nothing and answers nothing, holding each connection.
        std::thread::spawn(move || {
            let held: Vec<_> = listener.incoming().take(16).collect();
            std::thread::sleep(std::time::Duration::from_secs(60));
            drop(held);
        });
        let (address, _) = RemoteAddress::parse(&format!("ws://127.0.0.1:{port}")).unwrap();
        let started = std::time::Instant::now();
        let err = connect_within(&address, 0, None, std::time::Duration::from_secs(2))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no answer within 2 s"), "{err}");
        assert!(err.contains(&format!("127.0.0.1:{port}#0")), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }

    /// A file without end (a device) is refused after a few kilobytes, not read whole.
    #[cfg(unix)]
    #[test]
    fn a_token_file_without_end_is_refused() {
        let err = token_from_file(std::path::Path::new("/dev/zero"), "--remote-token-file")
            .unwrap_err()
            .to_string();
        assert!(err.contains("--remote-token-file"), "{err}");
    }
}
