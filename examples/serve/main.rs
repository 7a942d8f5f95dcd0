//! Serves this machine's devices to trainers on other machines, through Burn's remote backend
//! (WebSocket): a trainer started with `--devices ws://THIS-HOST:PORT` runs its tensor
//! operations here, while its autodiff graph, data and run folder stay with it.
//!
//! ```text
//! AE_REMOTE_TOKEN=$(cat token) cargo run --release --features remote-server,wgpu \
//!     --example serve -- --device wgpu --port 3000
//! cargo run --release --features remote-server --example serve   # flex, 127.0.0.1:3000
//! ```

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::SystemTime;

use burn::server::{AuthorizationRequest, RemoteServer, TokenAuthorizer, WebSocketTransport};
use clap::Parser;

use autoencoders::cli::exit_on_error;
use autoencoders::models::ops::remote::{self, ServerKernels};
use autoencoders::train::{Backend, DeviceSpec, TOKEN_ENV, TrainError, token_from_file};

#[derive(Parser)]
#[command(about = "Serve this machine's devices to remote trainers (Burn's remote backend)")]
struct Cli {
    /// The device to serve: flex (the default), ndarray, wgpu, vulkan, metal, cuda[:INDEX].
    #[arg(long)]
    device: Option<DeviceSpec>,
    /// Several devices of one backend, e.g. `cuda:0,cuda:1`; a client picks one with
    /// `ws://HOST:PORT#INDEX`. Replaces --device.
    #[arg(long, value_delimiter = ',')]
    devices: Vec<DeviceSpec>,
    /// The address to listen on. The default accepts connections from this machine only (reach
    /// it from elsewhere through an SSH tunnel); any other address needs a token.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// The port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// A file whose first line is the token clients must present (else AE_REMOTE_TOKEN).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    // Burn's server log (`tracing`, on stdout) colours its lines with escape codes; redirected
    // to a file they are noise. Its subscriber honours NO_COLOR (https://no-color.org).
    if !std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        // SAFETY: set before any other thread of this process exists (the server's runtime,
        // its devices' threads), so no thread reads the environment while it changes.
        unsafe { std::env::set_var("NO_COLOR", "1") };
    }
    let cli = Cli::parse();
    // The server's CPU devices allocate and free a step's tensors as a trainer's do.
    autoencoders::allocator::keep_freed_memory();
    exit_on_error(|| serve(&cli))
}

fn serve(cli: &Cli) -> Result<(), TrainError> {
    let specs = if cli.devices.is_empty() {
        vec![cli.device.clone().unwrap_or(DeviceSpec::new(Backend::Flex))]
    } else {
        cli.devices.clone()
    };
    check_one_backend(&specs)?;
    let token = match &cli.token_file {
        Some(path) => Some(token_from_file(path, "--token-file")?),
        None => autoencoders::train::token_from_env(),
    };
    if token.is_none() && !cli.bind.is_loopback() {
        return Err(TrainError::InvalidArgument {
            what: "--bind",
            message: format!(
                "{} accepts connections from other machines: give a token (--token-file FILE or \
                 {TOKEN_ENV}), or keep the default 127.0.0.1 and tunnel (ssh -L)",
                cli.bind
            ),
        });
    }
    let devices = specs
        .iter()
        .map(DeviceSpec::device)
        .collect::<Result<Vec<_>, _>>()?;
    let address = SocketAddr::new(cli.bind, cli.port);
    let listener = TcpListener::bind(address).map_err(|e| TrainError::InvalidArgument {
        what: "--port",
        message: format!("cannot listen on {address}: {e}; pick another --port (or 0)"),
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| TrainError::InvalidArgument {
            what: "--bind",
            message: format!("the socket on {address} has no address: {e}"),
        })?;
    let names: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| format!("#{i} {spec}"))
        .collect();
    println!("serving {} on ws://{bound}", names.join(", "));
    if !cli.bind.is_loopback() {
        // Burn 0.22.1's server checks the token when a session opens, but its `/data` channel
        // (tensors moving between two servers, numbered from 0) answers anyone who connects.
        eprintln!(
            "warning: {} is reachable from other machines; the token guards sessions, not the \
             tensors this server hands to another server (Burn's /data channel takes no token): \
             prefer --bind 127.0.0.1 and an SSH tunnel",
            cli.bind
        );
    }
    println!(
        "clients: {}; Ctrl+C stops",
        if token.is_some() {
            "must present the token"
        } else {
            "this machine only, no token"
        }
    );
    let authorizer = match token.as_deref().map(TokenAuthorizer::new) {
        Some(Ok(authorizer)) => Some(authorizer),
        Some(Err(_)) | None => None,
    };
    let (server, kernels) =
        remote::server::with_kernels(RemoteServer::new(devices.clone()), &devices);
    println!(
        "operations: {}",
        match kernels {
            ServerKernels::Cpu => "this workspace's CPU kernels, which clients ask for",
            ServerKernels::Gpu => "this workspace's GPU kernels where it has them, else Burn's",
            ServerKernels::None => "Burn's own",
        }
    );
    let server = server.with_authorizer(move |request: AuthorizationRequest| {
        let (client, device) = (request.client, request.device_index);
        let verdict = match &authorizer {
            Some(authorizer) => burn::server::PeerAuthorizer::authorize(authorizer, request),
            None => Ok(()),
        };
        let seconds = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let time = format!(
            "{:02}:{:02}:{:02} UTC",
            seconds / 3600 % 24,
            seconds / 60 % 60,
            seconds % 60
        );
        match &verdict {
            Ok(()) => println!("[{time}] {client}: session on device #{device} opened"),
            Err(why) => println!("[{time}] {client}: refused ({why})"),
        }
        verdict
    });
    server
        .serve(WebSocketTransport::from_listener(listener))
        .map_err(|e| TrainError::DeviceUnavailable {
            device: format!("ws://{bound}"),
            message: format!("the server stopped: {e}"),
        })
}

/// A server hosts devices of one backend (every CubeCL runtime counts as one: wgpu and cuda
/// devices may be served together), only local ones, each once.
fn check_one_backend(specs: &[DeviceSpec]) -> Result<(), TrainError> {
    let family = |backend: Backend| match backend {
        Backend::Flex | Backend::NdArray | Backend::Remote => backend.name(),
        _ => "a GPU backend",
    };
    if let Some(remote) = specs.iter().find(|s| s.backend == Backend::Remote) {
        return Err(TrainError::InvalidDevice {
            given: remote.to_string(),
            message: "serve hosts this machine's devices, not another server's".into(),
        });
    }
    // flex and ndarray have one device each: listed twice, clients would share it unawares.
    if let Some((i, repeated)) = specs
        .iter()
        .enumerate()
        .find(|(i, spec)| specs[..*i].contains(spec))
    {
        return Err(TrainError::InvalidDevice {
            given: repeated.to_string(),
            message: format!(
                "device #{i} of --devices repeats an earlier one: a server hosts each device \
                 once (trainers may open the same device twice: --devices ws://HOST:PORT,ws://HOST:PORT)"
            ),
        });
    }
    let first = family(specs[0].backend);
    if let Some(other) = specs.iter().find(|s| family(s.backend) != first) {
        return Err(TrainError::InvalidDevice {
            given: other.to_string(),
            message: format!(
                "one server hosts devices of one backend ({} here): start a second server on \
                 another --port for {other}",
                specs[0]
            ),
        });
    }
    Ok(())
}
