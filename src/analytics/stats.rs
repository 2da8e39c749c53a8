//! The statistics of a report: Wilson score intervals for rates, Pearson's
//! chi-squared test of independence for A/B variants (as Braze reports
//! it, without continuity correction), and Newcombe's interval for the
//! difference of two rates (holdout lift). The distributions come from
//! statrs rather than hand-written approximations.

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// Intervals are at this confidence level, tests at 1 − this significance.
pub const CONFIDENCE: f64 = 0.95;

/// Below this many recipients in an arm, or an expected cell count under
/// [`MINIMUM_EXPECTED`], a test says "not enough data yet" rather than a
/// p-value the chi-squared approximation cannot back.
pub const MINIMUM_SAMPLE: u64 = 100;

/// Cochran's rule for the chi-squared approximation.
pub const MINIMUM_EXPECTED: f64 = 5.0;

/// The two-sided normal quantile for [`CONFIDENCE`] (1.959964…).
pub fn z() -> f64 {
    Normal::standard().inverse_cdf(1.0 - (1.0 - CONFIDENCE) / 2.0)
}

/// A rate's interval, as fractions in `[0, 1]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// Wilson's score interval for `successes` out of `trials`; `None` for no
/// trials. It stays inside `[0, 1]` and behaves near 0 %, where
/// conversion rates live and the normal approximation does not.
pub fn wilson(successes: u64, trials: u64) -> Option<Interval> {
    if trials == 0 {
        return None;
    }
    let n = trials as f64;
    let p = successes.min(trials) as f64 / n;
    let z = z();
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At 0 and at n the bounds are exactly 0 and 1; rounding would leave
    // a trace of the order of 1e-17.
    Some(Interval {
        low: if successes == 0 {
            0.0
        } else {
            (centre - half).max(0.0)
        },
        high: if successes >= trials {
            1.0
        } else {
            (centre + half).min(1.0)
        },
    })
}

/// Newcombe's hybrid score interval (his method 10) for `p1 − p2`, from the
/// two Wilson intervals.
pub fn difference(first: (u64, u64), second: (u64, u64)) -> Option<Interval> {
    let (a, b) = (wilson(first.0, first.1)?, wilson(second.0, second.1)?);
    let p1 = first.0 as f64 / first.1 as f64;
    let p2 = second.0 as f64 / second.1 as f64;
    let d = p1 - p2;
    Some(Interval {
        low: d - ((p1 - a.low).powi(2) + (b.high - p2).powi(2)).sqrt(),
        high: d + ((a.high - p1).powi(2) + (p2 - b.low).powi(2)).sqrt(),
    })
}

/// Pearson's chi-squared test over variants' (conversions, recipients).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Test {
    pub statistic: f64,
    pub degrees_of_freedom: u32,
    pub p_value: f64,
    /// `p_value` < 1 − [`CONFIDENCE`].
    pub significant: bool,
}

/// Why a test was not run.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotRun {
    /// Fewer than two variants with recipients.
    OneVariant,
    /// An arm below [`MINIMUM_SAMPLE`] or an expected count below [`MINIMUM_EXPECTED`].
    NotEnoughData,
}

/// Pearson's chi-squared test of independence on the 2 × k table of
/// converted and not converted per variant.
pub fn chi_squared(arms: &[(u64, u64)]) -> Result<Test, NotRun> {
    let arms: Vec<(f64, f64)> = arms
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|&(c, n)| (c.min(n) as f64, n as f64))
        .collect();
    if arms.len() < 2 {
        return Err(NotRun::OneVariant);
    }
    if arms.iter().any(|&(_, n)| n < MINIMUM_SAMPLE as f64) {
        return Err(NotRun::NotEnoughData);
    }
    let total: f64 = arms.iter().map(|(_, n)| n).sum();
    let converted: f64 = arms.iter().map(|(c, _)| c).sum();
    let rate = converted / total;
    let mut statistic = 0.0;
    for &(c, n) in &arms {
        for (observed, expected) in [(c, n * rate), (n - c, n * (1.0 - rate))] {
            if expected < MINIMUM_EXPECTED {
                return Err(NotRun::NotEnoughData);
            }
            statistic += (observed - expected).powi(2) / expected;
        }
    }
    let degrees_of_freedom = (arms.len() - 1) as u32;
    let p_value = ChiSquared::new(f64::from(degrees_of_freedom))
        .map(|distribution| distribution.sf(statistic))
        .unwrap_or(f64::NAN);
    Ok(Test {
        statistic,
        degrees_of_freedom,
        p_value,
        significant: p_value < 1.0 - CONFIDENCE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_the_textbook_example() {
        // Newcombe (1998), table I: 81/263 → 0.2553 to 0.3662.
        let interval = wilson(81, 263).expect("trials");
        assert!((interval.low - 0.2553).abs() < 5e-4, "{interval:?}");
        assert!((interval.high - 0.3662).abs() < 5e-4, "{interval:?}");
        assert_eq!(wilson(0, 0), None);
        assert_eq!(wilson(0, 10).map(|i| i.low), Some(0.0));
    }

    #[test]
    fn newcombe_matches_his_worked_example() {
        // Newcombe (1998), example (a): 56/70 − 48/80 → 0.0524 to 0.3339.
        let interval = difference((56, 70), (48, 80)).expect("trials");
        assert!((interval.low - 0.0524).abs() < 5e-4, "{interval:?}");
        assert!((interval.high - 0.3339).abs() < 5e-4, "{interval:?}");
    }

    #[test]
    fn small_arms_are_not_tested() {
        assert_eq!(chi_squared(&[(5, 50), (9, 50)]), Err(NotRun::NotEnoughData));
        assert_eq!(chi_squared(&[(5, 500)]), Err(NotRun::OneVariant));
    }
}
