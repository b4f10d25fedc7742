//! Message ids as the index keeps them: a snowflake as an integer (its
//! index is half the size of the text one, and an import into a large
//! vault spent most of its time in that index), any other id as text. One
//! id has one form, so either finds it. SQL gets `msg_key(text)`, which
//! turns a message id held as text elsewhere (media, orphans) into the
//! key, for joins that use the index.

use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, ToSql};

use crate::ids::snowflake;

/// A message id, bound as its key.
pub(crate) struct MsgId<'a>(pub &'a str);

impl ToSql for MsgId<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match key(self.0) {
            Some(n) => ToSqlOutput::Owned(Value::Integer(n)),
            None => ToSqlOutput::Borrowed(ValueRef::Text(self.0.as_bytes())),
        })
    }
}

/// The integer an id is kept as, when it is a snowflake SQLite's integers
/// hold.
fn key(id: &str) -> Option<i64> {
    snowflake(id).and_then(|n| i64::try_from(n).ok())
}

/// A message id read back from the index.
pub(crate) fn read(v: ValueRef<'_>) -> rusqlite::types::FromSqlResult<String> {
    match v {
        ValueRef::Integer(n) => Ok(n.to_string()),
        ValueRef::Text(t) => Ok(String::from_utf8_lossy(t).into_owned()),
        _ => Err(rusqlite::types::FromSqlError::InvalidType),
    }
}

pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("msg_key", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Text(t) => {
                let id = String::from_utf8_lossy(t);
                key(&id).map_or_else(|| Value::Text(id.into_owned()), Value::Integer)
            }
            ValueRef::Integer(n) => Value::Integer(n),
            ValueRef::Real(x) => Value::Real(x),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            ValueRef::Null => Value::Null,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_has_one_form_and_reads_back_as_given() {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        conn.execute_batch("CREATE TABLE m(id ANY NOT NULL UNIQUE) STRICT")
            .unwrap();
        let ids = [
            "1801707819273478425",
            "01801707819273478425",
            "99999999999999999999",
            "9223372036854775808",
            "6f1c-uuid",
            "0",
        ];
        for id in ids {
            conn.execute("INSERT INTO m VALUES (?)", [MsgId(id)])
                .unwrap();
        }
        for id in ids {
            let back: String = conn
                .query_row("SELECT id FROM m WHERE id = msg_key(?)", [id], |r| {
                    read(r.get_ref(0)?).map_err(Into::into)
                })
                .unwrap();
            assert_eq!(back, id);
        }
        let ints: i64 = conn
            .query_row(
                "SELECT count(*) FROM m WHERE typeof(id) = 'integer'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(ints, 2, "the snowflake and 0");
    }
}
