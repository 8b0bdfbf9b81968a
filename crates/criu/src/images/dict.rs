//! One image entry as a dict the way pycriu shows it (its `pb2dict` and
//! `dict2pb`), so that our JSON and Python dicts equal crit's and pycriu's:
//!
//! * only the fields present in the entry, in field-number order; enums by
//!   name; bytes as base64 text of 76-column lines (Python's
//!   `base64.encodebytes`), or quoted-printable for `(criu).conv = "unix_name"`;
//! * when "pretty": `(criu).hex` numbers (and every number inside a hex
//!   message) as `0x...`, `dev`/`odev` as `major:minor`, `flags` as bit
//!   names joined by ` | `, `dict` as value names, `ipadd` lists as one
//!   address.
//!
//! Reading back accepts both forms, as pycriu does: a number given as text
//! is read in whatever notation pretty output uses.
//!
//! The names come from [`super::flags`], the texts from [`super::text`];
//! which fields get them, from the schema's `(criu)` options
//! ([`super::schema::opts`]).

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value as Pb};
use serde_json::{Map, Number, Value};

use super::flags::{dict_table, flags_table, flags_text};
use super::schema::{opts, FieldOpts};
use super::text::{
    base64_decode, base64_lines, dev_text, dev_value, ip_text, ip_words, py_hex, py_int, qp_decode, qp_encode,
};

/// Why an entry could not be turned into a dict or back.
pub type ConvResult<T> = std::result::Result<T, String>;

/// The dict of `msg`; `hex` is set inside a message marked hex.
pub fn to_dict(msg: &DynamicMessage, pretty: bool, hex: bool) -> ConvResult<Map<String, Value>> {
    let mut dict = Map::new();
    for (field, value) in msg.fields() {
        let o = opts(&field);
        let hex = hex || o.hex;
        let shown = match value {
            Pb::List(items) => {
                if items.is_empty() {
                    continue;
                }
                if pretty && o.ipadd {
                    Value::Array(vec![Value::String(address(items)?)])
                } else {
                    let mut list = Vec::with_capacity(items.len());
                    for item in items {
                        match cast(&field, o, item, pretty, hex)? {
                            Some(v) => list.push(v),
                            None => continue,
                        }
                    }
                    Value::Array(list)
                }
            }
            single => match cast(&field, o, single, pretty, hex)? {
                Some(v) => v,
                None => continue,
            },
        };
        dict.insert(field.name().to_string(), shown);
    }
    Ok(dict)
}

/// One value of `field`; `None` for an enum number the schema does not
/// name (protobuf keeps such a value aside, so pycriu never sees it).
fn cast(field: &FieldDescriptor, o: &FieldOpts, value: &Pb, pretty: bool, hex: bool) -> ConvResult<Option<Value>> {
    let number: i128 = match value {
        Pb::Message(m) => return Ok(Some(Value::Object(to_dict(m, pretty, hex)?))),
        Pb::Bytes(b) => {
            return Ok(Some(Value::String(match o.conv.as_deref() {
                Some("unix_name") => qp_encode(b),
                Some(other) => return Err(format!("field {}: unknown conversion {other}", field.name())),
                None => base64_lines(b),
            })))
        }
        Pb::EnumNumber(n) => {
            let Kind::Enum(e) = field.kind() else {
                return Err(format!("field {}: enum value of a non-enum", field.name()));
            };
            return Ok(e.get_value(*n).map(|v| Value::String(v.name().to_string())));
        }
        Pb::String(s) => return Ok(Some(Value::String(s.clone()))),
        Pb::Bool(b) => return Ok(Some(Value::Bool(*b))),
        Pb::I32(n) => *n as i128,
        Pb::I64(n) => *n as i128,
        Pb::U32(n) => *n as i128,
        Pb::U64(n) => *n as i128,
        Pb::F32(_) | Pb::F64(_) | Pb::List(_) | Pb::Map(_) => {
            return Err(format!("field {} has a type no image uses", field.name()))
        }
    };
    if pretty {
        if hex {
            return Ok(Some(Value::String(py_hex(number))));
        }
        if o.dev {
            return Ok(Some(Value::String(dev_text(number as u64, o.odev))));
        }
        if let Some(table) = o.flags.as_deref() {
            return Ok(Some(Value::String(match flags_table(table) {
                Some(bits) => flags_text(number, bits),
                None => py_hex(number),
            })));
        }
        if let Some(table) = o.dict.as_deref() {
            if let Some(name) = dict_table(table, field.name()).and_then(|t| t.iter().find(|e| e.0 as i128 == number)) {
                return Ok(Some(Value::String(name.1.to_string())));
            }
        }
    }
    Ok(Some(int_value(number)))
}

/// An address field's words as one address.
fn address(items: &[Pb]) -> ConvResult<String> {
    let words: Option<Vec<u32>> = items.iter().map(|w| if let Pb::U32(w) = w { Some(*w) } else { None }).collect();
    let words = words.ok_or_else(|| "an address field holds words of the wrong type".to_string())?;
    ip_text(&words).ok_or_else(|| format!("an address field holds {} words (1 for IPv4, 4 for IPv6)", words.len()))
}

fn int_value(n: i128) -> Value {
    if n < 0 {
        Value::Number(Number::from(n as i64))
    } else {
        Value::Number(Number::from(n as u64))
    }
}

/// Fills a `desc` message from `dict` (pycriu's `dict2pb`): keys that
/// name no field are ignored; a missing required field is an error.
pub fn from_dict(desc: &MessageDescriptor, dict: &Map<String, Value>) -> ConvResult<DynamicMessage> {
    let mut msg = DynamicMessage::new(desc.clone());
    for field in desc.fields() {
        let Some(value) = dict.get(field.name()) else {
            if field.is_required() {
                return Err(format!("{}: required field {} is missing", desc.name(), field.name()));
            }
            continue;
        };
        let o = opts(&field);
        if field.is_list() {
            let Value::Array(items) = value else {
                return Err(format!("field {}: a list is expected", field.name()));
            };
            if o.ipadd {
                if let Some(Value::String(addr)) = items.first() {
                    msg.set_field(&field, Pb::List(ip_words(addr)?.into_iter().map(Pb::U32).collect()));
                    continue;
                }
            }
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                list.push(uncast(&field, o, item)?);
            }
            msg.set_field(&field, Pb::List(list));
        } else {
            msg.set_field(&field, uncast(&field, o, value)?);
        }
    }
    Ok(msg)
}

fn uncast(field: &FieldDescriptor, o: &FieldOpts, value: &Value) -> ConvResult<Pb> {
    let name = field.name();
    let text = || match value {
        Value::String(s) => Ok(s.as_str()),
        _ => Err(format!("field {name}: text expected, got {value}")),
    };
    Ok(match field.kind() {
        Kind::Message(m) => match value {
            Value::Object(d) => Pb::Message(from_dict(&m, d)?),
            _ => return Err(format!("field {name}: a dict expected")),
        },
        Kind::Bytes => Pb::Bytes(
            match o.conv.as_deref() {
                Some(_) => qp_decode(text()?.as_bytes()),
                None => base64_decode(text()?).map_err(|e| format!("field {name}: {e}"))?,
            }
            .into(),
        ),
        Kind::Enum(e) => {
            let v = e.get_value_by_name(text()?).ok_or_else(|| format!("field {name}: no enum value {value}"))?;
            Pb::EnumNumber(v.number())
        }
        Kind::String => match value {
            Value::String(s) => Pb::String(s.clone()),
            other => Pb::String(other.to_string()),
        },
        Kind::Bool => Pb::Bool(match value {
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => !s.is_empty(),
            Value::Null => false,
            Value::Array(a) => !a.is_empty(),
            Value::Object(d) => !d.is_empty(),
        }),
        Kind::Double | Kind::Float => return Err(format!("field {name} has a type no image uses")),
        kind => {
            let n = match value {
                Value::String(s) => int_from_text(s, o, name)?,
                Value::Number(n) => n
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from))
                    .ok_or_else(|| format!("field {name}: {n} is not an integer"))?,
                Value::Bool(b) => *b as i128,
                other => return Err(format!("field {name}: a number expected, got {other}")),
            };
            let bad = || format!("field {name}: {n} is out of range");
            match kind {
                Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Pb::I32(i32::try_from(n).map_err(|_| bad())?),
                Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Pb::I64(i64::try_from(n).map_err(|_| bad())?),
                Kind::Uint32 | Kind::Fixed32 => Pb::U32(u32::try_from(n).map_err(|_| bad())?),
                _ => Pb::U64(u64::try_from(n).map_err(|_| bad())?),
            }
        }
    })
}

/// A number written as text: a device, flags, a dict name, or Python's
/// `int(text, 0)` notation.
fn int_from_text(s: &str, o: &FieldOpts, name: &str) -> ConvResult<i128> {
    if o.dev {
        let mut parts = s.split(':').map(|p| py_int(p, name));
        return match (parts.next(), parts.next(), parts.next()) {
            (Some(major), Some(minor), None) => Ok(dev_value(major? as u64, minor? as u64, o.odev) as i128),
            _ => Err(format!("field {name}: {s:?} is not major:minor")),
        };
    }
    if let Some(bits) = o.flags.as_deref().and_then(flags_table) {
        if s.is_empty() {
            return Ok(0);
        }
        let mut sum = 0i128;
        for part in s.split('|').map(str::trim) {
            sum += match bits.iter().find(|b| b.0 == part) {
                Some(b) => b.1 as i128,
                None => py_int(part, name)?,
            };
        }
        return Ok(sum);
    }
    if let Some(table) = o.dict.as_deref().and_then(|t| dict_table(t, name)) {
        if let Some(e) = table.iter().find(|e| e.1 == s) {
            return Ok(e.0 as i128);
        }
    }
    py_int(s, name)
}
