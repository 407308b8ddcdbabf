//! Stopping the HTTP server on SIGTERM/SIGINT/SIGQUIT without waiting for WebSocket clients: the
//! sessions are told to close first (each sends a 1012 close frame and ends), then the server
//! stops gracefully, draining plain requests for at most [`SHUTDOWN_TIMEOUT_S`]. actix-web's
//! own signal handling would wait its whole timeout (30 s) for WebSocket clients, which never
//! leave by themselves, while a restart could not open the data directory.

/// Seconds the HTTP server waits for in-flight requests once stopping (WebSocket sessions
/// are closed at once; this bounds a slow plain request).
pub const SHUTDOWN_TIMEOUT_S: u64 = 5;

/// How long the sessions get to end after being told to close, before the server stops
/// anyway (their close frames are written at once; this covers a client that reads slowly).
pub const SESSIONS_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// The time given to the connections of ended sessions to close before the server stops.
const CONNECTIONS_SETTLE: std::time::Duration = std::time::Duration::from_millis(50);

/// On SIGINT or SIGTERM (SIGQUIT: the same, then open connections are dropped): tell the
/// WebSocket sessions of `ws` to close, wait until they have
/// ended (at most [`SESSIONS_GRACE`]), then stop the server gracefully. Waiting for the
/// sessions first matters: actix-server checks a stopping worker's connections once a second,
/// so a server stopped with sessions still open takes at least a second to exit.
pub fn stop_on_signal(
    server: actix_web::dev::ServerHandle,
    ws: impl std::ops::Deref<Target = super::WsStats> + 'static,
) {
    actix_web::rt::spawn(async move {
        use actix_web::rt::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int), Ok(mut quit)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
        ) else {
            tracing::error!(
                "cannot listen for SIGTERM/SIGINT/SIGQUIT: stop the process with SIGKILL"
            );
            return;
        };
        // SIGQUIT: forced, as actix-web does it (open connections dropped at once).
        let graceful = tokio::select! {
            _ = term.recv() => true,
            _ = int.recv() => true,
            _ = quit.recv() => false,
        };
        let open = ws.connections.load(std::sync::atomic::Ordering::Acquire);
        tracing::info!(
            websocket_sessions = open,
            "signal received: closing WebSocket sessions and stopping the server"
        );
        ws.close_all();
        let deadline = tokio::time::Instant::now() + SESSIONS_GRACE;
        while ws.connections.load(std::sync::atomic::Ordering::Acquire) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        // A session's connection closes once its dispatcher has written the close frame and
        // ended the response: a moment after the session itself (bounded, not awaited: a
        // connection still open only costs the worker's one-second check).
        tokio::time::sleep(CONNECTIONS_SETTLE).await;
        server.stop(graceful).await;
    });
}
