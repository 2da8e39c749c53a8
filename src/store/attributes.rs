//! Keeps the `contacts` columns in step with the manifest's declared
//! attributes. A new attribute gets a column; a changed type is carried out
//! only when no value can be lost (an empty column, `integer` → `number`,
//! any text type → `string`, `string`/`enum` → an `enum` whose values cover
//! every stored value). Anything else stops with an error that says which
//! attribute, how many contacts hold a value and what to do: herald never
//! drops or mangles stored values to follow an edit of herald.yaml.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::schema::{column_type, identifier};
use crate::segment::catalog::{Catalog, FieldType};

/// What the store knows about an attribute's column.
#[derive(Debug)]
struct Recorded {
    /// The type name (`integer`, `enum`, …); `None` when only the SQL column type is known.
    kind: Option<String>,
    values: Vec<String>,
    column: String,
}

/// What the store holds: each `contacts` column's SQL type, and each
/// attribute's recorded type name and enum values.
struct Current {
    columns: BTreeMap<String, String>,
    recorded_types: BTreeMap<String, (String, Vec<String>)>,
}

impl Current {
    fn read(connection: &Connection) -> rusqlite::Result<Current> {
        let mut columns = BTreeMap::new();
        {
            let mut statement = connection.prepare("PRAGMA table_info(contacts)")?;
            let rows = statement.query_map([], |row| {
                Ok((row.get::<_, String>(1)?, row.get::<_, String>(2)?))
            })?;
            for row in rows {
                let (name, column) = row?;
                columns.insert(name, column.to_uppercase());
            }
        }
        let mut recorded_types = BTreeMap::new();
        {
            let mut statement =
                connection.prepare("SELECT name, type, enum_values FROM attribute_types")?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                ))
            })?;
            for row in rows {
                let (name, kind, values) = row?;
                let values = values
                    .and_then(|text| serde_json::from_str(&text).ok())
                    .unwrap_or_default();
                recorded_types.insert(name, (kind, values));
            }
        }
        Ok(Current {
            columns,
            recorded_types,
        })
    }

    /// The attribute's column as recorded; `None` when it has none.
    fn recorded(&self, name: &str) -> Option<Recorded> {
        let column = self.columns.get(name)?;
        Some(match self.recorded_types.get(name) {
            Some((kind, values)) => Recorded {
                kind: Some(kind.clone()),
                values: values.clone(),
                column: column.clone(),
            },
            None => Recorded {
                kind: None,
                values: Vec::new(),
                column: column.clone(),
            },
        })
    }
}

/// Adds, converts or refuses to change columns so that `contacts` holds
/// every declared attribute with its declared type. The error is a sentence
/// for the user.
pub fn synchronise(connection: &Connection, catalog: &Catalog) -> Result<(), String> {
    let sql = |error: rusqlite::Error| error.to_string();
    let current = Current::read(connection).map_err(sql)?;
    for (name, kind) in catalog.declared_attributes() {
        let Some(recorded) = current.recorded(name) else {
            connection
                .execute(
                    &format!(
                        "ALTER TABLE contacts ADD COLUMN {} {}",
                        identifier(name),
                        column_type(kind)
                    ),
                    [],
                )
                .map_err(sql)?;
            record(connection, name, kind).map_err(sql)?;
            continue;
        };
        if unchanged(&recorded, kind) {
            if current
                .recorded_types
                .get(name)
                .map(|(kind, values)| (kind.as_str(), values))
                != Some((kind_name(kind), &enum_values(kind).to_vec()))
            {
                record(connection, name, kind).map_err(sql)?;
            }
            continue;
        }
        change_type(connection, name, &recorded, kind)?;
        record(connection, name, kind).map_err(sql)?;
    }
    Ok(())
}

/// The declared attributes whose column [`synchronise`] would add or
/// convert: a reader cannot use the store for them until a writer has.
pub fn pending(connection: &Connection, catalog: &Catalog) -> Result<Vec<String>, String> {
    let current = Current::read(connection).map_err(|error| error.to_string())?;
    Ok(catalog
        .declared_attributes()
        .filter(|(name, kind)| {
            current
                .recorded(name)
                .is_none_or(|recorded| !unchanged(&recorded, kind))
        })
        .map(|(name, _)| name.to_string())
        .collect())
}

fn kind_name(kind: &FieldType) -> &'static str {
    kind.name()
}

fn enum_values(kind: &FieldType) -> &[String] {
    match kind {
        FieldType::Enum(values) => values,
        _ => &[],
    }
}

fn record(connection: &Connection, name: &str, kind: &FieldType) -> rusqlite::Result<()> {
    let values = match kind {
        FieldType::Enum(values) => serde_json::to_string(values).ok(),
        _ => None,
    };
    connection.execute(
        "INSERT INTO attribute_types (name, type, enum_values) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET type = excluded.type, enum_values = excluded.enum_values",
        params![name, kind.name(), values],
    )?;
    Ok(())
}

/// Whether the column already holds values of `kind` with nothing to do.
fn unchanged(recorded: &Recorded, kind: &FieldType) -> bool {
    match &recorded.kind {
        Some(name) => {
            name == kind.name()
                && match kind {
                    // Values added to an enum change nothing stored.
                    FieldType::Enum(values) => {
                        recorded.values.iter().all(|value| values.contains(value))
                    }
                    _ => true,
                }
        }
        // A store from before types were recorded: the SQL column type is
        // all there is; it was created from the same declaration.
        None => recorded.column == column_type(kind),
    }
}

fn change_type(
    connection: &Connection,
    name: &str,
    recorded: &Recorded,
    kind: &FieldType,
) -> Result<(), String> {
    let sql = |error: rusqlite::Error| error.to_string();
    let column = identifier(name);
    // An anniversary trigger's index of the column's month and day goes
    // with the column (a later tick makes it again).
    let index = super::enrolments::anniversary_index(name);
    let populated: i64 = connection
        .query_row(
            &format!("SELECT count(*) FROM contacts WHERE {column} IS NOT NULL"),
            [],
            |row| row.get(0),
        )
        .map_err(sql)?;
    let old = recorded
        .kind
        .clone()
        .unwrap_or_else(|| format!("a {} column", recorded.column));
    if populated == 0 {
        // Nothing stored: recreate the column with the new SQL type.
        connection
            .execute_batch(&format!(
                "DROP INDEX IF EXISTS {index};
                 ALTER TABLE contacts DROP COLUMN {column};
                 ALTER TABLE contacts ADD COLUMN {column} {};",
                column_type(kind)
            ))
            .map_err(sql)?;
        return Ok(());
    }
    let text_column = recorded.column == "TEXT";
    match kind {
        FieldType::String if text_column && old != "list" => return Ok(()),
        FieldType::Enum(values) if text_column && matches!(old.as_str(), "string" | "enum") => {
            let outside: Option<String> = {
                let placeholders = (1..=values.len())
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let condition = if values.is_empty() {
                    format!("{column} IS NOT NULL")
                } else {
                    format!("{column} IS NOT NULL AND {column} NOT IN ({placeholders})")
                };
                connection
                    .query_row(
                        &format!("SELECT {column} FROM contacts WHERE {condition} LIMIT 1"),
                        rusqlite::params_from_iter(values.iter()),
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(sql)?
            };
            match outside {
                None => return Ok(()),
                Some(value) => {
                    return Err(format!(
                        "attribute `{name}` is now an enum of [{}], but contacts hold the value `{value}`, \
                         which it does not list; add the value to `values`, or update those contacts first \
                         (nothing was changed)",
                        values.join(", ")
                    ));
                }
            }
        }
        FieldType::Number if old == "integer" => {
            // Widening: every integer is a number. Rebuild the column so
            // its SQL type (and so its comparisons) is REAL.
            let temporary = identifier(&format!("{name}__herald_migrating"));
            connection
                .execute_batch(&format!(
                    "ALTER TABLE contacts ADD COLUMN {temporary} REAL;
                     UPDATE contacts SET {temporary} = CAST({column} AS REAL) WHERE {column} IS NOT NULL;
                     DROP INDEX IF EXISTS {index};
                     ALTER TABLE contacts DROP COLUMN {column};
                     ALTER TABLE contacts RENAME COLUMN {temporary} TO {column};"
                ))
                .map_err(sql)?;
            return Ok(());
        }
        _ => {}
    }
    Err(format!(
        "attribute `{name}` changed type from {old} to {} in herald.yaml, but {populated} contact{} \
         hold{} a value that cannot be converted without loss; declare it `{old}` again, or add a new \
         attribute for the new type and move the values (nothing was changed)",
        kind.name(),
        if populated == 1 { "" } else { "s" },
        if populated == 1 { "s" } else { "" },
    ))
}
