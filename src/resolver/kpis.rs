//! Campaign KPI targets: each names a metric herald measures, and rates
//! are percentages.

use super::Resolver;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::loader::Definition;
use crate::model::Campaign;
use crate::suggestion::did_you_mean;

/// Rate KPIs a campaign may target, in percent.
const KPI_RATES: [&str; 7] = [
    "delivery_rate",
    "open_rate",
    "click_rate",
    "conversion_rate",
    "unsubscribe_rate",
    "bounce_rate",
    "complaint_rate",
];

impl Resolver<'_> {
    /// KPI targets name a metric herald measures, and rates are percentages.
    pub(super) fn kpi(&mut self, definition: &Definition<Campaign>) {
        let file = definition.file;
        for (name, target) in &definition.value.kpi {
            if name.value == "revenue" {
                if *target < 0.0 {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidSetting,
                            name.span(file),
                            "a revenue target cannot be negative",
                        )
                        .help("give the target in the project currency"),
                    );
                }
                continue;
            }
            if !KPI_RATES.contains(&name.value.as_str()) {
                let known = KPI_RATES.iter().copied().chain(std::iter::once("revenue"));
                self.push(
                    Diagnostic::new(
                        Code::InvalidSetting,
                        name.span(file),
                        format!("unknown KPI `{}`", name.value),
                    )
                    .label("not a metric herald measures")
                    .suggest(did_you_mean(&name.value, known))
                    .help_if_none(format!("KPIs: {}, revenue", KPI_RATES.join(", "))),
                );
            } else if !(0.0..=100.0).contains(target) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidSetting,
                        name.span(file),
                        format!(
                            "`{}` is a rate in percent; {target} is not between 0 and 100",
                            name.value
                        ),
                    )
                    .label("not a percentage"),
                );
            }
        }
    }
}
