//! JSON text exactly as Python's `json.dumps` writes it (what crit prints):
//! `", "` and `": "` between items on one line, or with `indent` each item
//! on its own line; every character outside printable ASCII escaped.

use std::fmt::Write;

use serde_json::Value;

/// `json.dumps(value, indent=indent)`.
pub fn to_string(value: &Value, indent: Option<usize>) -> String {
    let mut out = String::new();
    write_value(&mut out, value, indent, 0);
    out
}

fn newline(out: &mut String, indent: usize, depth: usize) {
    out.push('\n');
    for _ in 0..indent * depth {
        out.push(' ');
    }
}

fn write_value(out: &mut String, value: &Value, indent: Option<usize>, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                // Python's repr of a float; no image has one, JSON input may.
                let _ = write!(out, "{f:?}");
            } else {
                let _ = write!(out, "{n}");
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                separator(out, i, indent, depth + 1);
                write_value(out, item, indent, depth + 1);
            }
            close(out, indent, depth, ']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                separator(out, i, indent, depth + 1);
                write_str(out, key);
                out.push_str(": ");
                write_value(out, item, indent, depth + 1);
            }
            close(out, indent, depth, '}');
        }
    }
}

fn separator(out: &mut String, i: usize, indent: Option<usize>, depth: usize) {
    match indent {
        Some(n) => {
            if i > 0 {
                out.push(',');
            }
            newline(out, n, depth);
        }
        None => {
            if i > 0 {
                out.push_str(", ");
            }
        }
    }
}

fn close(out: &mut String, indent: Option<usize>, depth: usize, c: char) {
    if let Some(n) = indent {
        newline(out, n, depth);
    }
    out.push(c);
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn like_python() {
        let v = json!({"a": [1, "x\u{1}é😀"], "b": {}, "c": []});
        assert_eq!(to_string(&v, None), r#"{"a": [1, "x\u0001\u00e9\ud83d\ude00"], "b": {}, "c": []}"#);
        assert_eq!(to_string(&v, Some(4)), "{\n    \"a\": [\n        1,\n        \"x\\u0001\\u00e9\\ud83d\\ude00\"\n    ],\n    \"b\": {},\n    \"c\": []\n}");
    }
}
