//! Exponential retry delays for operations that fail, as the sidecars' work queues do.

use std::time::Duration;

use tokio::time::Instant;

/// The first and the longest retry delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// The delay after the first failure; it doubles with each further failure.
    pub first: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Retry {
    /// Short delays, for tests: 50 ms doubling up to 1 s (the sidecars use 1 s up to 5 min).
    fn default() -> Self {
        Self {
            first: Duration::from_millis(50),
            max: Duration::from_secs(1),
        }
    }
}

/// The retry state of one object.
#[derive(Debug, Clone)]
pub struct Backoff {
    retry: Retry,
    failures: u32,
    due: Instant,
}

impl Backoff {
    /// Starts with no failure; the operation is due at once.
    #[must_use]
    pub fn new(retry: &Retry) -> Self {
        Self {
            retry: *retry,
            failures: 0,
            due: Instant::now(),
        }
    }

    /// Records a failure and schedules the next try.
    pub fn fail(&mut self) {
        let delay = self.next_delay();
        self.failures = self.failures.saturating_add(1);
        self.due = Instant::now() + delay;
    }

    /// Returns how long the next failure will make the operation wait.
    #[must_use]
    pub fn next_delay(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.failures.min(30));
        self.retry.first.saturating_mul(factor).min(self.retry.max)
    }

    /// Returns when the next try is due.
    #[must_use]
    pub fn due(&self) -> Instant {
        self.due
    }

    /// Returns how many tries failed in a row.
    #[must_use]
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delays_double_up_to_the_maximum() {
        let retry = Retry {
            first: Duration::from_millis(100),
            max: Duration::from_millis(350),
        };
        let mut backoff = Backoff::new(&retry);
        let mut delays = Vec::new();
        for _ in 0..4 {
            delays.push(backoff.next_delay().as_millis());
            let before = Instant::now();
            backoff.fail();
            assert!(backoff.due() >= before + backoff_floor(&delays));
        }
        assert_eq!(delays, [100, 200, 350, 350]);
        assert_eq!(backoff.failures(), 4);
    }

    fn backoff_floor(delays: &[u128]) -> Duration {
        Duration::from_millis(delays.last().copied().unwrap_or(0).try_into().unwrap())
    }
}
