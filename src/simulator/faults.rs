//! Faults the simulator injects on demand, each counted so tests can check that
//! the connector met (and survived) them.

use crate::source::Shape;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

/// `--faults latency=50ms,error=0.1,rate_limit=0.05,timeout=0.02,timeout_secs=5,
/// truncate=0.05,malformed=0.01,nfd=0.1,repeat=0.2,token_ttl=3`.
/// Rates are per request, except `malformed` and `nfd` (per dossier, so a bad record
/// stays bad, as in real systems).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    pub latency_ms: Option<u64>,
    pub error: f64,
    pub rate_limit: f64,
    pub timeout: f64,
    pub timeout_secs: u64,
    pub truncate: f64,
    pub malformed: f64,
    pub nfd: f64,
    pub repeat: f64,
    pub token_ttl_secs: Option<u64>,
}

impl Faults {
    pub fn parse(s: &str) -> Result<Faults, String> {
        let mut f = Faults {
            timeout_secs: 60,
            ..Faults::default()
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("fault '{part}' is not NAME=VALUE"))?;
            let rate = || -> Result<f64, String> {
                match v.parse::<f64>() {
                    Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
                    _ => Err(format!("fault {k}={v}: expected a share between 0 and 1")),
                }
            };
            let secs = || -> Result<u64, String> {
                v.trim_end_matches('s')
                    .parse()
                    .map_err(|_| format!("fault {k}={v}: expected seconds"))
            };
            match k {
                "latency" => {
                    let ms = v.strip_suffix("ms").ok_or_else(|| {
                        format!("fault latency={v}: expected milliseconds such as 50ms")
                    })?;
                    f.latency_ms = Some(
                        ms.parse()
                            .map_err(|_| format!("fault latency={v}: expected milliseconds"))?,
                    );
                }
                "error" => f.error = rate()?,
                "rate_limit" => f.rate_limit = rate()?,
                "timeout" => f.timeout = rate()?,
                "timeout_secs" => f.timeout_secs = secs()?,
                "truncate" => f.truncate = rate()?,
                "malformed" => f.malformed = rate()?,
                "nfd" => f.nfd = rate()?,
                "repeat" => f.repeat = rate()?,
                "token_ttl" => f.token_ttl_secs = Some(secs()?),
                other => {
                    return Err(format!(
                        "unknown fault '{other}': expected latency, error, rate_limit, timeout, timeout_secs, truncate, malformed, nfd, repeat or token_ttl"
                    ));
                }
            }
        }
        Ok(f)
    }
}

#[derive(Default)]
pub struct FaultStats {
    pub requests: AtomicU64,
    pub latency: AtomicU64,
    pub errors: AtomicU64,
    pub rate_limited: AtomicU64,
    pub timeouts: AtomicU64,
    pub truncated: AtomicU64,
    pub malformed: AtomicU64,
    pub nfd: AtomicU64,
    pub repeated: AtomicU64,
    pub token_expired: AtomicU64,
    pub tokens_issued: AtomicU64,
}

impl FaultStats {
    pub fn to_json(&self) -> Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        json!({
            "requests": g(&self.requests), "latency": g(&self.latency), "errors": g(&self.errors),
            "rate_limited": g(&self.rate_limited), "timeouts": g(&self.timeouts),
            "truncated": g(&self.truncated), "malformed": g(&self.malformed), "nfd": g(&self.nfd),
            "repeated": g(&self.repeated), "token_expired": g(&self.token_expired),
            "tokens_issued": g(&self.tokens_issued),
        })
    }
}

/// A stable number in [0, 1) for a dossier, so per-dossier faults stick.
pub fn unit_hash(code: &str, seed: u64) -> f64 {
    let h = code.bytes().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    // Finalise (splitmix) so nearby codes spread out.
    let mut z = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Damages a rendered record (a list record, or a detail's record): without
/// its code, or with an impossible receipt date in the shape's format.
pub fn break_record(v: &mut Value, shape: Shape, drop_code: bool) {
    let (code, received) = match shape {
        Shape::Native => ("code", "received_at"),
        Shape::Igate => ("code", "acceptedDate"),
        Shape::Opencps => ("dossierNo", "receiveDate"),
        Shape::Onedoor => ("maHoSo", "ngayTiepNhan"),
    };
    let bad_date = match shape {
        Shape::Native => "2026-02-30T25:61:00",
        Shape::Igate => "2026-02-30T25:61:00.000+0700",
        Shape::Opencps => "30/02/2026 25:61:00",
        Shape::Onedoor => "02/30/2026 25:61:00",
    };
    if let Value::Object(m) = v {
        if drop_code {
            m.remove(code);
        } else {
            m.insert(received.into(), json!(bad_date));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_fault_and_rejects_unknown() {
        let f = Faults::parse("latency=20ms,error=0.5,token_ttl=3,malformed=0.1").unwrap();
        assert_eq!(f.latency_ms, Some(20));
        assert_eq!(f.error, 0.5);
        assert_eq!(f.token_ttl_secs, Some(3));
        assert!(
            Faults::parse("error=2")
                .unwrap_err()
                .contains("between 0 and 1")
        );
        assert!(
            Faults::parse("boom=1")
                .unwrap_err()
                .contains("unknown fault 'boom'")
        );
    }

    #[test]
    fn unit_hash_spreads() {
        let n = (0..10_000)
            .filter(|i| unit_hash(&format!("X-{i}"), 1) < 0.1)
            .count();
        assert!((800..1200).contains(&n), "{n}");
    }
}
