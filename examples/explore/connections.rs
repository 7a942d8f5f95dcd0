//! The explorer's HTTP connections, served with hyper directly (axum's `serve` sets no timer, so
//! a client that never finishes its headers would hold a connection forever): every connection
//! must send a request's headers within [`HEADER_TIMEOUT`], and at most [`MAX_CONNECTIONS`] are
//! open at once (more wait in the listener's backlog).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How long a connection may take to send a request's headers (the first, or the next on a
/// kept-alive connection) before it is closed.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections served at once: a page opens a handful; a flood waits its turn instead of
/// exhausting the process's file descriptors.
pub const MAX_CONNECTIONS: usize = 256;

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => return,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return, // the semaphore is never closed
            },
        };
        let stream = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // pause instead of spinning, then accept again.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let mut http = http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            // A connection that fails (a reset, a timeout, bad HTTP) concerns that client only.
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
