//! `query_runs` as SQL: the filters a query sets become `WHERE` terms (only those, so the
//! planner can pick the index made for each in schema migration 2), the page is
//! `LIMIT`/`OFFSET` in list order.

use rusqlite::Connection;
use rusqlite::types::Value;

use super::{Failure, limit, parse_run};
use crate::{RunPage, RunQuery};

/// The statement for `query` and its parameters. The text depends only on which filters are
/// set, so the connection's statement cache holds a few dozen variants at most.
pub(super) fn statement(query: &RunQuery) -> (String, Vec<Value>) {
    let mut terms = Vec::new();
    let mut params = Vec::new();
    let mut term = |sql: &str, value: Option<&str>| {
        if let Some(value) = value {
            params.push(Value::Text(value.to_owned()));
            terms.push(format!("{sql} ?{}", params.len()));
        }
    };
    term("status =", query.status.map(|s| s.as_str()));
    term("workflow_id =", query.workflow_id.as_deref());
    term("session_id =", query.session_id.as_deref());
    term("parent_run_id =", query.parent_run_id.as_deref());
    if query.root_only {
        terms.push("parent_run_id IS NULL".to_owned());
    }
    let filter = if terms.is_empty() { String::new() } else { format!(" WHERE {}", terms.join(" AND ")) };
    // One row past the page says whether there are more.
    params.push(Value::Integer(limit(query.limit.saturating_add(1))));
    params.push(Value::Integer(limit(query.offset)));
    let n = params.len();
    let sql = format!(
        "SELECT run_id, run_json FROM runs{filter} ORDER BY created_at DESC, run_id DESC LIMIT ?{} OFFSET ?{n}",
        n - 1
    );
    (sql, params)
}

pub(super) fn query_runs(conn: &Connection, query: &RunQuery) -> Result<RunPage, Failure> {
    let (sql, params) = statement(query);
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(params), |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut runs = Vec::new();
    let mut has_more = false;
    for row in rows {
        let (run_id, json) = row?;
        if runs.len() == query.limit {
            has_more = true;
            break;
        }
        match parse_run(&json) {
            Ok(run) => runs.push(run),
            // As in `list_runs`: one unreadable run must not hide the others.
            Err(_) => tracing::warn!(%run_id, "skipping unreadable run row"),
        }
    }
    Ok(RunPage { runs, has_more })
}
