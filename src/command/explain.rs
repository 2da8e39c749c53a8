//! `herald explain CODE` and `herald explain --list`: the rules' documentation.

use super::print;
use crate::codes::Code;
use crate::diagnostic::Severity;
use crate::error::Error;
use crate::suggestion::did_you_mean;

/// What `herald explain` was asked.
#[derive(Debug)]
pub struct Request {
    pub code: Option<String>,
    pub list: bool,
}

pub fn run(request: &Request) -> Result<i32, Error> {
    if request.list {
        print(&list())?;
        return Ok(0);
    }
    let text = request.code.as_deref().unwrap_or_default();
    let Some(code) = Code::lookup(text) else {
        let names = Code::ALL.iter().flat_map(|c| [c.as_str(), c.name()]);
        let hint = match did_you_mean(text, names) {
            Some(name) => format!("; did you mean `{name}`?"),
            None => "; `herald explain --list` lists every rule".to_string(),
        };
        return Err(Error::Usage(format!("no rule `{text}`{hint}")));
    };
    let level = if code.configurable() {
        format!(
            "{} by default; set `{}: allow|warn|deny` under `lint:` in herald.yaml",
            code.default_severity().as_str(),
            code.name()
        )
    } else {
        "always an error; cannot be configured".to_string()
    };
    print(&format!(
        "{} {}\n{level}\n\n{}\n",
        code.as_str(),
        code.name(),
        code.documentation()
    ))?;
    Ok(0)
}

/// Every rule with its name, default level and summary, one per line.
fn list() -> String {
    let mut out = String::new();
    let width = Code::ALL
        .iter()
        .map(|code| code.name().len())
        .max()
        .unwrap_or(0);
    for code in Code::ALL {
        let level = match (code.configurable(), code.default_severity()) {
            (false, _) => "error (fixed)",
            (true, Severity::Error) => "deny",
            (true, Severity::Warning) => "warn",
        };
        out.push_str(&format!(
            "{}  {:<width$}  {:<13}  {}\n",
            code.as_str(),
            code.name(),
            level,
            code.summary()
        ));
    }
    out
}
