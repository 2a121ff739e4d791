//! A `LISTEN` on one channel that reconnects: the change feed and the key
//! copy wake on notifications, and poll regardless, so a lost connection
//! only delays them until the next poll and the next reconnect.

use sqlx::postgres::PgListener;
use sqlx::PgPool;

/// A channel listened to, when connected.
pub struct Listen {
    pool: PgPool,
    channel: &'static str,
    listener: Option<PgListener>,
}

impl Listen {
    /// Not connected yet: call [`Listen::ensure`].
    pub fn new(pool: PgPool, channel: &'static str) -> Self {
        Self {
            pool,
            channel,
            listener: None,
        }
    }

    /// Connects and listens unless it already does; a failure is logged
    /// (the caller keeps polling) and tried again at the next call.
    pub async fn ensure(&mut self) {
        if self.listener.is_some() {
            return;
        }
        let channel = self.channel;
        self.listener = match PgListener::connect_with(&self.pool).await {
            Ok(mut l) => match l.listen(channel).await {
                Ok(()) => Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, channel, "LISTEN failed; polling");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, channel, "cannot connect the listener; polling");
                None
            }
        };
    }

    /// Resolves at the next notification, or when the connection is lost
    /// (dropped: [`Listen::ensure`] reconnects); never while not connected.
    pub async fn notified(&mut self) {
        let Some(l) = self.listener.as_mut() else {
            return std::future::pending().await;
        };
        if let Err(e) = l.try_recv().await {
            tracing::warn!(error = %e, channel = self.channel, "listener lost; reconnecting");
            self.listener = None;
        }
    }
}
