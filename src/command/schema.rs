//! `herald schema`: writes (or with `--check` compares) the JSON schemas of
//! herald's files.

use std::path::PathBuf;

use crate::error::Error;
use crate::schema::Kind;

/// What `herald schema` was asked.
#[derive(Debug)]
pub struct Request {
    pub out: PathBuf,
    pub check: bool,
}

/// Exits 1 when `--check` finds a schema file out of date.
pub fn run(request: &Request) -> Result<i32, Error> {
    let out = &request.out;
    let mut stale = Vec::new();
    for kind in Kind::ALL {
        let path = out.join(kind.schema_file());
        let text = kind.schema_text();
        if request.check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
            continue;
        }
        std::fs::create_dir_all(out)
            .and_then(|()| std::fs::write(&path, text))
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        println!("wrote {}", path.display());
    }
    if !stale.is_empty() {
        eprintln!(
            "herald: out of date (run `herald schema --out {}`): {}",
            out.display(),
            stale.join(", ")
        );
        return Ok(1);
    }
    Ok(0)
}
