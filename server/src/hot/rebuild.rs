//! Rebuilding hot-store state from SQL after it was lost (a Redis restart or flush): one
//! process rebuilds under a lock while the others answer 503 and retry.

use std::future::Future;
use std::time::Duration;

use super::HotStore;
use crate::error::{ApiError, Text};

/// Runs `rebuild` unless `built` marks the state as present; marks it afterwards. The
/// rebuild must be idempotent and tolerate concurrent normal writes (set-if-higher).
pub async fn ensure_built<F, Fut>(
    hot: &dyn HotStore,
    built: &str,
    lock: &str,
    built_ttl: Option<Duration>,
    rebuild: F,
) -> Result<(), ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(), ApiError>>,
{
    if hot.get(built).await?.is_some() {
        return Ok(());
    }
    under_lock(hot, lock, async {
        rebuild().await?;
        hot.set(built, "1", built_ttl).await?;
        Ok(())
    })
    .await
}

/// Runs `work` while holding the hot-store lock `lock`; when another process holds it,
/// answers 503 `hot_store.rebuilding` so the client retries shortly.
pub async fn under_lock<Fut>(hot: &dyn HotStore, lock: &str, work: Fut) -> Result<(), ApiError>
where
    Fut: Future<Output = Result<(), ApiError>>,
{
    let token = hex::encode(rand::random::<[u8; 8]>());
    if !hot.set_nx(lock, &token, Duration::from_secs(30)).await? {
        return Err(ApiError::Unavailable {
            code: "hot_store.rebuilding",
            detail: Text::new("数据正在重建，请稍后再试", "Being rebuilt; retry shortly"),
            retry_after_secs: 1,
        });
    }
    let result = work.await;
    if let Err(err) = hot.del_if_eq(lock, &token).await {
        tracing::warn!(error = %err, "could not release a rebuild lock");
    }
    result
}
