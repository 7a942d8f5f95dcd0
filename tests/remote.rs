//! Training on remote devices, as a user would: `serve` processes on 127.0.0.1 (nothing else is
//! reached), a trainer over them with `--devices ws://...`, a wrong token, a server that is not
//! there, a program that is not `serve`, `serve`'s refusals, a server without this workspace's
//! kernels, and a server killed or frozen in the middle of a run, which the run survives. (A server that cannot answer whether it has the kernels, as a plain
//! `burn::server::RemoteServer`, is tested in `ae-models/tests/remote_kernels.rs`.)

#![cfg(all(feature = "cli", feature = "remote-server"))]

mod common;

use common::example_path as example;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TOKEN: &str = "a-test-token-7f3a";

/// A `serve` process on 127.0.0.1, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts `serve --port 0` with the token file and waits for the port it prints.
    fn start(token_file: &Path) -> Self {
        Self::start_with(token_file, &[])
    }

    /// [`Server::start`] with `env` in the server's environment.
    fn start_with(token_file: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(example("serve"))
            .args(["--port", "0", "--token-file"])
            .arg(token_file)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        // Reads every line the server prints (so that it never blocks on a full pipe) and
        // passes on the first.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let line = receiver
            .recv_timeout(Duration::from_secs(30))
            .expect("serve prints its address");
        let port = line
            .rsplit_once("ws://127.0.0.1:")
            .and_then(|(_, port)| port.trim().parse().ok())
            .unwrap_or_else(|| panic!("no port in `{line}`"));
        Self { child, port }
    }

    fn address(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn token_file(dir: &Path) -> PathBuf {
    let path = dir.join("token");
    std::fs::write(&path, format!("{TOKEN}\n")).expect("write the token");
    path
}

/// `train_vanilla` with `args` and the token `token` in the environment.
fn train(args: &[&str], token: &str) -> Command {
    let mut command = Command::new(example("train_vanilla"));
    command
        .args(args)
        .env("AE_PROGRESS", "plain")
        .env("AE_REMOTE_TOKEN", token);
    command
}

/// Runs `command`, failing the test after `limit`.
fn finish_within(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the trainer starts");
    wait_within(child, limit)
}

fn wait_within(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the trainer ran past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("output")
}

/// The test MSE of a run's `report.json`.
fn test_mse(dir: &Path) -> f64 {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json");
    let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    report
        .pointer("/test/mse")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_else(|| panic!("no test.mse in {text}"))
}

fn train_losses(dir: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).expect("metrics.jsonl");
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|record| record["split"] == "train")
        .filter_map(|record| record["metrics"]["Loss"].as_f64())
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const SMALL_RUN: [&str; 8] = [
    "--limit",
    "1024",
    "--epochs",
    "2",
    "--batch-size",
    "64",
    "--seed",
    "5",
];

#[test]
fn two_servers_train_as_two_local_workers_do() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path());
    let (a, b) = (Server::start(&token), Server::start(&token));
    let devices = format!("{},{}", a.address(), b.address());
    let remote = dir.path().join("remote");
    let mut args = SMALL_RUN.to_vec();
    args.extend(["--devices", &devices, "--out", remote.to_str().unwrap()]);
    let output = finish_within(train(&args, TOKEN), Duration::from_secs(300));
    assert!(output.status.success(), "{}", text(&output.stderr));

    let local = dir.path().join("local");
    let mut args = SMALL_RUN.to_vec();
    args.extend(["--devices", "flex,flex", "--out", local.to_str().unwrap()]);
    let output = finish_within(train(&args, TOKEN), Duration::from_secs(300));
    assert!(output.status.success(), "{}", text(&output.stderr));

    let losses = train_losses(&remote);
    assert!(losses.len() == 2 && losses[1] < losses[0], "{losses:?}");
    let (remote_mse, local_mse) = (test_mse(&remote), test_mse(&local));
    // The servers run this workspace's CPU kernels, as the local workers do.
    assert!(
        (remote_mse - local_mse).abs() <= 1e-4 * local_mse,
        "remote {remote_mse} against local {local_mse}"
    );
}

#[test]
fn a_server_without_the_kernels_says_so_and_runs_burns_operations() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path());
    // `serve` with the kernels off answers the trainer that it has none.
    let server = Server::start_with(&token, &[("AE_REMOTE_KERNELS", "off")]);
    let address = server.address();
    let remote = dir.path().join("burn-ops");
    let mut args = SMALL_RUN.to_vec();
    args.extend(["--device", &address, "--out", remote.to_str().unwrap()]);
    let output = finish_within(train(&args, TOKEN), Duration::from_secs(300));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let local = dir.path().join("local");
    let mut args = SMALL_RUN.to_vec();
    args.extend(["--device", "flex", "--out", local.to_str().unwrap()]);
    let output = finish_within(train(&args, TOKEN), Duration::from_secs(300));
    assert!(output.status.success(), "{}", text(&output.stderr));
    // Burn's operations there, this workspace's kernels here: the same arithmetic up to rounding.
    let (remote_mse, local_mse) = (test_mse(&remote), test_mse(&local));
    assert!(
        (remote_mse - local_mse).abs() <= 0.02 * local_mse,
        "remote {remote_mse} against local {local_mse}"
    );
}

#[test]
fn a_wrong_token_and_a_missing_server_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path());
    let server = Server::start(&token);
    let address = server.address();
    let out = dir.path().join("run");
    let args = [
        "--device",
        &address,
        "--epochs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    let output = finish_within(train(&args, "not-the-token"), Duration::from_secs(60));
    let stderr = text(&output.stderr);
    assert!(
        !output.status.success() && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&address) && stderr.contains("refused the token"),
        "{stderr}"
    );

    // A port nothing listens on: the server's own, once it is gone.
    drop(server);
    let output = finish_within(train(&args, TOKEN), Duration::from_secs(60));
    let stderr = text(&output.stderr);
    assert!(
        !output.status.success() && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&address) && stderr.contains("no server answered"),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_bad_settings_before_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let token = token_file(dir.path());
    let token = token.to_str().unwrap();
    // (arguments, environment, what the error must name)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        // A file without end is refused after a few kilobytes, not read into memory.
        (&["--token-file", "/dev/zero"], &[], "--token-file"),
        (
            &["--token-file", empty.to_str().unwrap()],
            &[],
            "--token-file",
        ),
        (
            &["--devices", "flex,flex", "--token-file", token],
            &[],
            "repeats",
        ),
        (
            &["--token-file", token],
            &[("AE_REMOTE_KERNELS", "of")],
            "AE_REMOTE_KERNELS",
        ),
    ];
    for (args, env, needle) in cases {
        let mut command = Command::new(example("serve"));
        command
            .args(["--port", "0"])
            .args(*args)
            .envs(env.iter().copied());
        let output = finish_within(command, Duration::from_secs(30));
        let stderr = text(&output.stderr);
        let shown = format!("serve {args:?} {env:?}: {stderr}");
        assert!(!output.status.success(), "{shown}");
        assert!(
            stderr.contains(needle) && !stderr.contains("panicked"),
            "{shown}"
        );
    }
}

#[test]
fn a_program_that_is_not_serve_and_a_bad_scheme_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // Answers every connection with an HTTP error, as a web server on the wrong port would.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(b"HTTP/1.0 404 Not Found\r\n\r\n");
        }
    });
    let address = format!("ws://127.0.0.1:{port}");
    for (device, needle) in [
        (address.as_str(), "not as `serve` does"),
        ("wss://127.0.0.1:3000", "not wss://"),
    ] {
        let args = [
            "--device",
            device,
            "--epochs",
            "1",
            "--out",
            out.to_str().unwrap(),
        ];
        let output = finish_within(train(&args, TOKEN), Duration::from_secs(120));
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{device}: {stderr}");
        assert!(
            stderr.contains(needle) && !stderr.contains("panicked"),
            "{device}: {stderr}"
        );
    }
    assert!(!out.exists(), "a run folder was written");
}

/// Waits for `path` to exist, for up to `limit`.
fn appears_within(path: &Path, limit: Duration) -> bool {
    let start = Instant::now();
    while !path.exists() {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

#[test]
fn a_frozen_server_stops_the_run_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path());
    let server = Server::start(&token);
    let out = dir.path().join("run");
    let address = server.address();
    let args = [
        "--limit",
        "2048",
        "--epochs",
        "40",
        "--batch-size",
        "64",
        "--device",
        &address,
        "--out",
        out.to_str().unwrap(),
    ];
    let trainer = train(&args, TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first_checkpoint = out.join("checkpoint").join("model-1.bpk");
    assert!(
        appears_within(&first_checkpoint, Duration::from_secs(120)),
        "no first checkpoint"
    );
    // Frozen: its connections stay open and the kernel still answers TCP for it.
    let signal = |name: &str| {
        Command::new("kill")
            .args([name, &server.child.id().to_string()])
            .status()
            .expect("kill runs")
    };
    assert!(signal("-STOP").success());
    let output = wait_within(trainer, Duration::from_secs(150));
    signal("-CONT");
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&address)
            && stderr.contains("without answering")
            && stderr.contains("--resume"),
        "{stderr}"
    );
    assert!(first_checkpoint.exists(), "the checkpoint was lost");
}

#[test]
fn a_server_killed_mid_run_stops_it_and_the_run_resumes_on_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path());
    let (a, mut b) = (Server::start(&token), Server::start(&token));
    let out = dir.path().join("run");
    let devices = format!("{},{}", a.address(), b.address());
    let args = [
        "--limit",
        "2048",
        "--epochs",
        "40",
        "--batch-size",
        "64",
        "--devices",
        &devices,
        "--out",
        out.to_str().unwrap(),
    ];
    let mut command = train(&args, TOKEN);
    let trainer = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first_checkpoint = out.join("checkpoint").join("model-1.bpk");
    assert!(
        appears_within(&first_checkpoint, Duration::from_secs(240)),
        "no checkpoint after 240 s"
    );
    let lost = b.address();
    b.kill();
    let output = wait_within(trainer, Duration::from_secs(120));
    let stderr = text(&output.stderr);
    assert!(
        !output.status.success(),
        "the run went on without its server:\n{stderr}"
    );
    assert!(!stderr.contains("panicked at"), "{stderr}");
    // The error names the server that went, and only that one, and says how to go on.
    assert!(
        stderr.contains(&format!("{lost}#0 stopped answering")),
        "{stderr}"
    );
    assert!(!stderr.contains(&format!("{}#0", a.address())), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");

    // Every finished epoch's checkpoint is kept; the run resumes on the server left.
    let finished = (1..=40)
        .take_while(|epoch| {
            out.join("checkpoint")
                .join(format!("model-{epoch}.bpk"))
                .is_file()
        })
        .count();
    assert!(finished >= 1);
    let epochs = (finished + 1).to_string();
    let resumed = [
        "--limit",
        "2048",
        "--epochs",
        &epochs,
        "--batch-size",
        "64",
        "--device",
        &a.address(),
        "--out",
        out.to_str().unwrap(),
        "--resume",
    ];
    let output = finish_within(train(&resumed, TOKEN), Duration::from_secs(240));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(test_mse(&out).is_finite());
}

/// A WebSocket upgrade of `path` on a fresh connection, then `payload` as one masked binary
/// frame; what the server answered to the upgrade.
fn websocket_frame(port: u16, path: &str, payload: &[u8]) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let upgrade = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(upgrade.as_bytes()).unwrap();
    let mut answer = [0u8; 512];
    let n = stream.read(&mut answer).unwrap_or(0);
    let status = text(&answer[..n]).lines().next().unwrap_or("").to_string();
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x82, 0x80 | 126];
    frame.extend((payload.len() as u16).to_be_bytes());
    frame.extend(mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    let _ = stream.write_all(&frame);
    (stream, status)
}

/// Garbage, connections that never finish their headers, and malformed messages on every
/// channel, without a token: the server stays up and a trainer presenting the token still trains
/// on it. (Burn's server answers the malformed `/data` message by panicking in that connection's
/// task only; see docs/remote.md.)
#[test]
fn garbage_slow_and_tokenless_clients_leave_the_server_serving() {
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path());
    let mut server = Server::start(&token);
    let port = server.port;
    let garbage: Vec<u8> = (0..4000u32).map(|i| (i * 7919 % 251) as u8).collect();

    let slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            stream
                .write_all(b"GET /request HTTP/1.1\r\nHost: x\r\nUpgr")
                .unwrap();
            stream
        })
        .collect();
    for _ in 0..10 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _ = stream.write_all(&garbage);
    }
    let mut upgraded = Vec::new();
    for path in ["/request", "/response", "/data", "/nothing"] {
        let (stream, status) = websocket_frame(port, path, &garbage[..300]);
        assert!(
            status.starts_with("HTTP/1.1"),
            "{path}: no HTTP answer ({status:?})"
        );
        upgraded.push(stream);
    }

    let out = dir.path().join("run");
    let args = [
        "--device",
        &server.address(),
        "--limit",
        "512",
        "--epochs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    let output = finish_within(train(&args, TOKEN), Duration::from_secs(300));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(test_mse(&out).is_finite());
    assert!(
        server.child.try_wait().expect("its status").is_none(),
        "the server exited"
    );
    drop((slow, upgraded));
}
