//! "Did you mean" suggestions by edit distance.

/// Names other languages and tools use for herald's type names: too far from the
/// real name for edit distance (`int` is four edits from `integer`), yet certainly meant.
/// They only apply where the full name is among the candidates.
const SYNONYMS: [(&str, &str); 10] = [
    ("int", "integer"),
    ("bigint", "integer"),
    ("float", "number"),
    ("double", "number"),
    ("decimal", "number"),
    ("bool", "boolean"),
    ("str", "string"),
    ("text", "string"),
    ("timestamp", "datetime"),
    ("array", "list"),
];

/// Help for a value an enum does not declare: its values, and, for a word in another
/// script (`м` for `male`), that a value is the declared identifier, not a translation.
pub fn enum_values_help(given: &str, values: &[String]) -> String {
    let declared = values.join(", ");
    let translated = !given.is_ascii() && values.iter().all(|value| value.is_ascii());
    if translated {
        format!(
            "declared values: {declared}; write one of these identifiers as declared, not a translation of it"
        )
    } else {
        format!("declared values: {declared}")
    }
}

/// The candidate closest to `given`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let given_lower = given.to_lowercase();
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    if let Some(synonym) = SYNONYMS
        .iter()
        .find(|(short, _)| *short == given_lower)
        .and_then(|(_, full)| candidates.iter().find(|candidate| *candidate == full))
    {
        return Some(synonym);
    }
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
            did_you_mean("int", ["string", "integer", "number"]),
            Some("integer")
        );
        assert_eq!(did_you_mean("int", ["string", "number"]), None);
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
