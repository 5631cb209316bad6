//! Running a statement's work again after it lost a commit race, when that is what a serial
//! order would have done ([`crate::error::Conflict::retry`]): a blind append, OPTIMIZE and
//! VACUUM always; any other write when every commit that won changed no rows (an OPTIMIZE or
//! VACUUM of its own). The work is planned again on the new version each time.

use std::future::Future;
use std::time::Duration;

use crate::error::{LakeError, Result};

/// Attempts before a retryable conflict is reported after all.
const ATTEMPTS: u32 = 10;

/// Runs `work` until it succeeds, fails otherwise, or has lost [`ATTEMPTS`] times, waiting a
/// little longer after each loss (with jitter, so two losers do not meet again).
pub(crate) async fn retrying<T, F, Fut>(mut work: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match work().await {
            Err(LakeError::Conflict(c)) if c.retry && attempt < ATTEMPTS => {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            done => return done,
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 50)
        .unwrap_or_default();
    Duration::from_millis((25 * u64::from(attempt * attempt)).min(1000) + u64::from(jitter))
}
