//! The explorer's server under load and abuse on loopback, bounded in time: many clients at
//! once mixing good and bad requests, connections that never finish their headers, bodies cut
//! short. Each client gets its own answer, the slow ones are closed after the header timeout, and
//! the server keeps answering everyone else throughout.

mod common;

use common::explore_server::{TOKEN, get, request, start};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

/// The server's header timeout (`examples/explore/connections.rs`), with room for a slow CI.
const HEADER_TIMEOUT_BOUND: Duration = Duration::from_secs(15);

/// Opens a connection that sends the start of a request's headers and nothing more.
fn half_sent_header(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream
        .write_all(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthoriz")
        .unwrap();
    stream
}

/// Whether the server closed `stream` (end of file or a reset) within `bound`.
fn closed_within(stream: &mut TcpStream, bound: Duration) -> bool {
    stream.set_read_timeout(Some(bound)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // hyper may answer 408 before closing; keep reading to the end.
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

#[test]
fn many_slow_and_bad_clients_disturb_nobody_else() {
    let mut server = start(&[]);
    let port = server.port;
    let began = Instant::now();

    // Twenty connections that never finish their headers, held open during the load below.
    let mut slow: Vec<TcpStream> = (0..20).map(|_| half_sent_header(port)).collect();
    // A body declared 1,000 bytes long, cut off after ten.
    {
        let mut cut = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let head = format!(
            "POST /api/encode HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"pixels\""
        );
        cut.write_all(head.as_bytes()).unwrap();
    }

    // Sixteen clients at once, each twenty requests, good and bad in turn.
    let clients: Vec<_> = (0..16)
        .map(|client| {
            std::thread::spawn(move || {
                for i in 0..20 {
                    let (what, status) = match (client + i) % 6 {
                        0 => ("info", get(port, "/api/info").status),
                        1 => (
                            "wrong token",
                            request(port, "GET", "/api/info", Some("not-the-token"), b"").status,
                        ),
                        2 => (
                            "bad JSON",
                            request(port, "POST", "/api/decode", Some(TOKEN), b"{\"code\": [1,")
                                .status,
                        ),
                        3 => (
                            "an image",
                            get(port, &format!("/api/image/{}", i % 50)).status,
                        ),
                        4 => ("no such path", get(port, "/api/nothing").status),
                        _ => (
                            "a decode",
                            request(
                                port,
                                "POST",
                                "/api/decode",
                                Some(TOKEN),
                                json!({ "x": 0.5, "y": -0.25 }).to_string().as_bytes(),
                            )
                            .status,
                        ),
                    };
                    let want = match what {
                        "info" | "an image" | "a decode" => 200,
                        "wrong token" => 401,
                        "bad JSON" => 400,
                        _ => 404,
                    };
                    assert_eq!(status, want, "client {client}, request {i}: {what}");
                }
            })
        })
        .collect();
    for client in clients {
        client
            .join()
            .expect("a client's requests all answered as expected");
    }

    // The slow connections are closed by the server, not left open.
    for (i, stream) in slow.iter_mut().enumerate() {
        assert!(
            closed_within(stream, HEADER_TIMEOUT_BOUND),
            "slow connection {i} still open"
        );
    }
    assert_eq!(get(port, "/api/info").status, 200);
    assert!(
        server.child.try_wait().expect("its status").is_none(),
        "the server exited"
    );
    let took = began.elapsed();
    assert!(took < Duration::from_secs(120), "the soak took {took:?}");
    eprintln!("soak: 320 requests from 16 clients with 20 slow connections in {took:?}");
}
