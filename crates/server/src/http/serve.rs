//! Running the server: bind, serve, and shut down without losing a write.
//!
//! Shutdown on SIGTERM or SIGINT: readiness turns 503, the listener stops
//! accepting, in-flight requests get until the deadline to finish, then
//! pending bookkeeping is flushed, the engine checkpoints and the data
//! folder is released (exit 0). A second signal exits at once (130). Every
//! acknowledged write was durable before its 2xx, so neither path, nor a
//! SIGKILL, loses one.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Notify;

use super::router::{router, Cors};
use super::state::AppState;

/// What `serve` needs beyond the state.
pub struct ServeOptions {
    /// Where to listen (port 0: any free port, printed).
    pub listen: SocketAddr,
    /// CORS.
    pub cors: Cors,
    /// How long in-flight requests may take once shutdown began.
    pub shutdown_timeout: Duration,
}

/// Waits for SIGTERM or SIGINT.
async fn signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = term => {}
        r = tokio::signal::ctrl_c() => {
            if let Err(e) = r {
                tracing::error!(error = %e, "cannot listen for SIGINT");
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Serves until a signal, then shuts down cleanly.
pub async fn serve(state: AppState, options: ServeOptions) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let addr = listener.local_addr()?;
    // Tests and scripts read this line to find the port.
    println!("moltsearch listening on http://{addr}");
    tracing::info!(%addr, "listening");

    let stop = Arc::new(Notify::new());
    let draining = state.draining.clone();
    {
        let (stop, draining) = (stop.clone(), draining.clone());
        tokio::spawn(async move {
            signal().await;
            tracing::info!("shutting down: finishing in-flight requests");
            draining.store(true, Ordering::Release);
            stop.notify_waiters();
            signal().await;
            eprintln!("second signal: exiting now");
            std::process::exit(130);
        });
    }
    let background = spawn_background(&state, stop.clone());

    let app =
        router(state.clone(), &options.cors).into_make_service_with_connect_info::<SocketAddr>();
    let graceful = {
        let stop = stop.clone();
        async move { stop.notified().await }
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(graceful);
    let deadline = {
        let draining = draining.clone();
        async move {
            loop {
                if draining.load(Ordering::Acquire) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tokio::time::sleep(options.shutdown_timeout).await;
        }
    };
    tokio::select! {
        r = server => r.context("serving")?,
        () = deadline => tracing::warn!(
            timeout_s = options.shutdown_timeout.as_secs_f64(),
            "in-flight requests did not finish in time; stopping anyway"
        ),
    }
    background.abort();
    let keys = state.keys.clone();
    match tokio::task::spawn_blocking(move || keys.flush()).await {
        Ok(Err(e)) => tracing::error!(error = %e, "could not save key usage"),
        Err(e) => tracing::error!(error = %e, "key usage task failed"),
        Ok(Ok(())) => {}
    }
    state
        .writes
        .flush()
        .await
        .map_err(|e| anyhow::anyhow!("flushing on shutdown: {e}"))?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Periodic work: key usage saved, rate-limit buckets trimmed.
fn spawn_background(state: &AppState, stop: Arc<Notify>) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.notified() => return,
            }
            let keys = state.keys.clone();
            match tokio::task::spawn_blocking(move || keys.flush()).await {
                Ok(Err(e)) => tracing::warn!(error = %e, "could not save key usage"),
                Err(e) => tracing::warn!(error = %e, "key usage task failed"),
                Ok(Ok(())) => {}
            }
            state.limits.shrink();
        }
    })
}
