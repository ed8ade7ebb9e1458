//! The `STATUS=` line systemd shows (`systemctl status`), derived from the same health verdict
//! as `/healthz`: it says `trading` only while `/healthz` answers 200.
//!
//! [`status_line`] words it; [`super::Ops::tick`] sends it whenever the wording changes (ages
//! like `feed_reconnecting_for_12s` are cut to `feed_reconnecting`, so a waiting process does
//! not send a new line every second).

use super::status::{Health, Phase};

/// The line for `subject` (for example `bybit BTCUSDT (paper)`) in this health state.
pub fn status_line(subject: &str, phase: Phase, h: &Health) -> String {
    let why = |v: &[String]| v.iter().map(|r| coarse(r)).collect::<Vec<_>>().join(", ");
    if h.ok {
        if h.notes.is_empty() {
            format!("trading {subject}")
        } else {
            format!("trading {subject} ({})", why(&h.notes))
        }
    } else {
        let verb = match phase {
            Phase::Starting => "starting",
            Phase::Running => "not trading",
            Phase::Stopping => "stopping",
        };
        let reasons: Vec<String> = h
            .reasons
            .iter()
            .filter(|r| !matches!(r.as_str(), "starting" | "stopping"))
            .cloned()
            .collect();
        if reasons.is_empty() {
            format!("{verb} {subject}")
        } else {
            format!("{verb} {subject}: {}", why(&reasons))
        }
    }
}

/// A reason without its age (`feed_reconnecting_for_12s` → `feed_reconnecting`).
fn coarse(reason: &str) -> &str {
    match reason.find("_for_") {
        Some(i) if reason.starts_with("feed_") => &reason[..i],
        _ => reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::status::{FeedStatus, Mode, Status};
    use std::time::Duration;

    #[test]
    fn says_trading_only_when_healthy() {
        let tol = Duration::from_secs(10);
        let subj = "bybit BTCUSDT (paper)";
        let mut s = Status::new("v", "d", Mode::Paper);
        s.awaiting_first_sync = true;
        let line = |s: &Status| status_line(subj, s.phase, &s.health(tol, None));
        assert_eq!(
            line(&s),
            "starting bybit BTCUSDT (paper): book_not_synced_yet"
        );
        s.phase = Phase::Running;
        s.feed = FeedStatus::Active;
        assert_eq!(
            line(&s),
            "not trading bybit BTCUSDT (paper): book_not_synced_yet"
        );
        s.awaiting_first_sync = false;
        assert_eq!(line(&s), "trading bybit BTCUSDT (paper)");
        s.feed = FeedStatus::Reconnecting;
        s.feed_status_age_ns = 3_000_000_000;
        assert_eq!(
            line(&s),
            "trading bybit BTCUSDT (paper) (feed_reconnecting)"
        );
        s.feed_status_age_ns = 13_000_000_000;
        assert_eq!(
            line(&s),
            "not trading bybit BTCUSDT (paper): feed_reconnecting"
        );
        s.phase = Phase::Stopping;
        assert_eq!(
            line(&s),
            "stopping bybit BTCUSDT (paper): feed_reconnecting"
        );
        for st in [Phase::Starting, Phase::Running, Phase::Stopping] {
            s.phase = st;
            let h = s.health(tol, Some("file"));
            assert!(!status_line(subj, st, &h).starts_with("trading"));
        }
    }
}
