//! "Did you mean" suggestions by edit distance.

/// The candidate closest to `given`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let given_lower = given.to_lowercase();
    // A third of the length, but never more than a few edits: beyond that a
    // "suggestion" is a different name, not a typo.
    let limit = (given.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .filter(|candidate| *candidate != given)
        .map(|candidate| {
            let distance = strsim::damerau_levenshtein(&given_lower, &candidate.to_lowercase());
            (distance, candidate)
        })
        .filter(|(distance, candidate)| {
            let candidate = candidate.to_lowercase();
            // A short form of a longer word (`promo` for `promotional`) is a likely slip too.
            *distance <= limit
                || (given_lower.chars().count() >= 4 && candidate.starts_with(&given_lower))
        })
        .min_by_key(|(distance, candidate)| (*distance, candidate.len()))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn close_names_are_suggested_and_far_ones_are_not() {
        let names = ["schedule", "segment", "audience"];
        assert_eq!(did_you_mean("shedule", names), Some("schedule"));
        assert_eq!(did_you_mean("SEGMENT", names), Some("segment"));
        assert_eq!(did_you_mean("budget", names), None);
        assert_eq!(
            did_you_mean("promo", ["promotional", "informational"]),
            Some("promotional")
        );
        assert_eq!(
            did_you_mean("lifecycle/activ", ["lifecycle/active", "vip"]),
            Some("lifecycle/active")
        );
    }
}
