//! Watching the remote servers a run trains on: a server that accepts connections but answers
//! nothing (a frozen process) would hold a trainer forever, since Burn's client has no reply
//! timeout and the kernel still answers TCP's keep-alive for a stopped process.

use super::remote::{RemoteAddress, tcp_connect};

/// How long [`watch_servers`] lets a server accept connections without answering before it gives
/// the server up (the trainers' setting).
pub const SILENCE_LIMIT: std::time::Duration = std::time::Duration::from_secs(45);

/// What a server does when asked for a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Liveness {
    /// It answered, or closed the connection: its process runs.
    Answers,
    /// It accepted the connection and said nothing within the wait: a frozen process.
    Silent,
    /// Nothing accepted the connection (Burn's client notices that itself).
    Refused,
}

/// Asks the server at `address` for a page over HTTP, waiting up to `wait` for the first byte of
/// an answer (any answer counts, a 404 included).
fn liveness(address: &RemoteAddress, wait: std::time::Duration) -> Liveness {
    use std::io::{Read, Write};
    let Some(mut stream) = tcp_connect(address) else {
        return Liveness::Refused;
    };
    let authority = address.url().trim_start_matches("ws://");
    let _ = stream.set_read_timeout(Some(wait));
    let _ = stream.set_write_timeout(Some(wait));
    let request =
        format!("GET /liveness HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    let mut first = [0u8; 1];
    match stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.read(&mut first))
    {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Liveness::Silent
        }
        _ => Liveness::Answers,
    }
}

/// Watches `servers` from a thread of its own for the life of the process, asking each for a
/// page every 5 s, and calls `on_silence` (once) with a message naming the first server that
/// has accepted connections without answering for `limit`: a frozen process, for which Burn's
/// client would wait forever (it has no reply timeout, and the kernel still answers TCP's
/// keep-alive for a stopped process). A server that refuses connections is left to Burn's client,
/// which fails at once. The trainers stop the process from `on_silence`; the checkpoints of the
/// finished epochs are complete files, so `--resume` continues elsewhere.
///
/// # Errors
/// When the thread cannot be started.
pub fn watch_servers(
    servers: Vec<RemoteAddress>,
    limit: std::time::Duration,
    on_silence: impl FnOnce(String) + Send + 'static,
) -> std::io::Result<()> {
    use std::time::{Duration, Instant};
    let wait = Duration::from_secs(10).min(limit);
    std::thread::Builder::new()
        .name("remote server watch".into())
        .spawn(move || {
            // When each server's current run of silent probes began (none while it answers): a
            // pause of this process (Ctrl+Z) counts no silence.
            let mut silent_since: Vec<Option<Instant>> = vec![None; servers.len()];
            loop {
                for (server, since) in servers.iter().zip(&mut silent_since) {
                    let asked = Instant::now();
                    if liveness(server, wait) != Liveness::Silent {
                        *since = None;
                        continue;
                    }
                    let since = *since.get_or_insert(asked);
                    if since.elapsed() >= limit {
                        on_silence(format!(
                            "the server {server} has accepted connections without answering for \
                             {} s (a frozen process?), and its devices with it: stopping. A \
                             training run keeps the checkpoints of its finished epochs in its run \
                             folder: continue it with --resume on devices that answer (another \
                             server, or --device flex)",
                            since.elapsed().as_secs()
                        ));
                        return;
                    }
                }
                std::thread::sleep(Duration::from_secs(5));
            }
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frozen server (accepts, answers nothing) is reported; a live one is not.
    #[test]
    fn a_server_that_accepts_and_says_nothing_is_reported_as_silent() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let answering = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = |l: &std::net::TcpListener| {
            RemoteAddress::parse(&format!("ws://{}", l.local_addr().unwrap()))
                .unwrap()
                .0
        };
        let (quiet, live) = (address(&silent), address(&answering));
        std::thread::spawn(move || {
            let held: Vec<_> = silent.incoming().take(8).collect();
            std::thread::sleep(std::time::Duration::from_secs(60));
            drop(held);
        });
        std::thread::spawn(move || {
            use std::io::Write;
            for mut stream in answering.incoming().map_while(Result::ok) {
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\n\r\n");
            }
        });
        let wait = std::time::Duration::from_millis(500);
        assert_eq!(liveness(&live, wait), Liveness::Answers);
        assert_eq!(liveness(&quiet, wait), Liveness::Silent);
        // A closed port is not silence (Burn's client sees it at once).
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            address(&listener)
        };
        assert_eq!(liveness(&closed, wait), Liveness::Refused);

        let (sender, receiver) = std::sync::mpsc::channel();
        watch_servers(vec![live, quiet.clone()], wait, move |message| {
            let _ = sender.send(message);
        })
        .unwrap();
        let message = receiver
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the silent server is reported");
        assert!(
            message.contains(&quiet.to_string()) && message.contains("--resume"),
            "{message}"
        );
    }
}
