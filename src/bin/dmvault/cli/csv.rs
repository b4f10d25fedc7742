//! `ls --csv`: the rows of `--json` as RFC 4180 CSV.

use dmvault::query::Row;

/// The header line: the fields of a row, in order.
pub const HEADER: &str = "message_id,conversation_id,conversation_kind,conversation_name,sender_id,sender_handle,sender_name,created_at,kind,original_name,size,sha256,blake3,object,archives,orphan,integrity,duration_s,width,height,codec,integrity_detail,url,ordinal";

/// One row as a CSV line (without the line end).
pub fn line(r: &Row) -> String {
    let kind = r.conversation_kind.map(|k| match k {
        dmvault::dm::ConversationKind::OneToOne => "one_to_one",
        dmvault::dm::ConversationKind::Group => "group",
    });
    let cells: [Option<String>; 24] = [
        r.message_id.clone(),
        r.conversation_id.clone(),
        kind.map(str::to_owned),
        r.conversation_name.clone(),
        r.sender_id.clone(),
        r.sender_handle.clone(),
        r.sender_name.clone(),
        r.created_at.map(|t| t.to_string()),
        Some(r.kind.as_str().to_owned()),
        r.original_name.clone(),
        r.size.map(|s| s.to_string()),
        r.sha256.clone(),
        r.blake3.clone(),
        r.object.clone(),
        Some(r.archives.join(";")),
        Some(r.orphan.to_string()),
        Some(r.integrity.to_owned()),
        r.duration_s.map(|d| d.to_string()),
        r.width.map(|w| w.to_string()),
        r.height.map(|h| h.to_string()),
        r.codec.clone(),
        r.integrity_detail.clone(),
        r.url.clone(),
        Some(r.ordinal.to_string()),
    ];
    cells
        .iter()
        .map(|c| cell(c.as_deref().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(",")
}

/// A cell, quoted when it must be; one a spreadsheet would take for a
/// formula gets a leading `'`.
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("a.jpg"), "a.jpg");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("@cmd"), "'@cmd");
    }
}
