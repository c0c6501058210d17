//! Per-client rate limits for authentication endpoints: a fixed window per
//! client IP address. Token and login endpoints count every attempt; the
//! submission endpoints (HTTP basic, SOAP) count failures only, so a busy
//! EHR with good credentials is never slowed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    window: Duration,
    max: u32,
    hits: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(max: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            window,
            max,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// True when this client is over its limit (without counting).
    pub fn blocked(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        self.hits.lock().is_ok_and(|h| {
            h.get(&ip).is_some_and(|(start, n)| {
                now.duration_since(*start) < self.window && *n >= self.max
            })
        })
    }

    /// Counts one event; returns false when the client is over its limit.
    pub fn hit(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let Ok(mut h) = self.hits.lock() else {
            return false;
        };
        if h.len() > 100_000 {
            h.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let e = h.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0) >= self.window {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
        e.1 <= self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_client() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        assert!(l.hit(a) && l.hit(a));
        assert!(!l.hit(a));
        assert!(l.blocked(a));
        assert!(!l.blocked(b) && l.hit(b));
    }
}
