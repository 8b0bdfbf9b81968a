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

use std::net::{Ipv4Addr, Ipv6Addr};

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value as Pb};
use serde_json::{Map, Number, Value};

use super::schema::{opts, FieldOpts};

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
                    Value::Array(vec![Value::String(ip_text(items)?)])
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

fn int_value(n: i128) -> Value {
    if n < 0 {
        Value::Number(Number::from(n as i64))
    } else {
        Value::Number(Number::from(n as u64))
    }
}

/// Python's `"0x%x" % n` (which puts a minus sign after the `0x`).
fn py_hex(n: i128) -> String {
    if n < 0 {
        format!("0x-{:x}", -n)
    } else {
        format!("0x{n:x}")
    }
}

/// `major:minor`, in the kernel's encoding or (`odev`) glibc's.
fn dev_text(v: u64, odev: bool) -> String {
    if odev {
        // glibc's gnu_dev_major/gnu_dev_minor (32-bit results).
        let major = ((v >> 8) & 0xfff) | ((v >> 32) & 0xffff_f000);
        let minor = (v & 0xff) | ((v >> 12) & 0xffff_ff00);
        format!("{major}:{minor}")
    } else {
        format!("{}:{}", v >> 20, v & ((1 << 20) - 1))
    }
}

fn dev_value(major: u64, minor: u64, odev: bool) -> u64 {
    if odev {
        ((major & 0xffff_f000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0xff)
    } else {
        (major << 20) | minor
    }
}

/// The bit names of pycriu's flags tables.
fn flags_table(name: &str) -> Option<&'static [(&'static str, u64)]> {
    Some(match name {
        "mmap.prot" => &[("PROT_READ", 0x1), ("PROT_WRITE", 0x2), ("PROT_EXEC", 0x4)],
        "mmap.flags" => &[
            ("MAP_SHARED", 0x1),
            ("MAP_PRIVATE", 0x2),
            ("MAP_DROPPABLE", 0x08),
            ("MAP_ANON", 0x20),
            ("MAP_GROWSDOWN", 0x0100),
        ],
        "mmap.status" => &[
            ("VMA_AREA_NONE", 0),
            ("VMA_AREA_REGULAR", 1 << 0),
            ("VMA_AREA_STACK", 1 << 1),
            ("VMA_AREA_VSYSCALL", 1 << 2),
            ("VMA_AREA_VDSO", 1 << 3),
            ("VMA_AREA_HEAP", 1 << 5),
            ("VMA_FILE_PRIVATE", 1 << 6),
            ("VMA_FILE_SHARED", 1 << 7),
            ("VMA_ANON_SHARED", 1 << 8),
            ("VMA_ANON_PRIVATE", 1 << 9),
            ("VMA_AREA_SYSVIPC", 1 << 10),
            ("VMA_AREA_SOCKET", 1 << 11),
            ("VMA_AREA_VVAR", 1 << 12),
            ("VMA_AREA_AIORING", 1 << 13),
            ("VMA_AREA_MEMFD", 1 << 14),
            ("VMA_AREA_SHSTK", 1 << 15),
            ("VMA_AREA_UPROBES", 1 << 17),
            ("VMA_UNSUPP", 1 << 31),
        ],
        "rfile.flags" => &[
            ("O_WRONLY", 0o1),
            ("O_RDWR", 0o2),
            ("O_CREAT", 0o100),
            ("O_EXCL", 0o200),
            ("O_NOCTTY", 0o400),
            ("O_TRUNC", 0o1000),
            ("O_APPEND", 0o2000),
            ("O_NONBLOCK", 0o4000),
            ("O_DSYNC", 0o10000),
            ("FASYNC", 0o20000),
            ("O_DIRECT", 0o40000),
            ("O_LARGEFILE", 0o100000),
            ("O_DIRECTORY", 0o200000),
            ("O_NOFOLLOW", 0o400000),
            ("O_NOATIME", 0o1000000),
            ("O_CLOEXEC", 0o2000000),
        ],
        "pmap.flags" => &[("PE_PARENT", 1 << 0), ("PE_LAZY", 1 << 1), ("PE_PRESENT", 1 << 2)],
        "seals.flags" => &[
            ("F_SEAL_SEAL", 0x1),
            ("F_SEAL_SHRINK", 0x2),
            ("F_SEAL_GROW", 0x4),
            ("F_SEAL_WRITE", 0x8),
            ("F_SEAL_FUTURE_WRITE", 0x10),
        ],
        _ => return None,
    })
}

/// Set bits by name, what no name covers as hex, joined by ` | `.
fn flags_text(value: i128, bits: &[(&str, u64)]) -> String {
    let mut parts: Vec<String> = bits.iter().filter(|b| value & b.1 as i128 != 0).map(|b| b.0.to_string()).collect();
    let rest = value & !bits.iter().map(|b| b.1 as i128).sum::<i128>();
    if rest != 0 {
        parts.push(py_hex(rest));
    }
    parts.join(" | ")
}

/// The value names of pycriu's dict tables, by table and field name.
fn dict_table(table: &str, field: &str) -> Option<&'static [(u32, &'static str)]> {
    Some(match (table, field) {
        ("gen", "task_state") => &[(1, "Alive"), (3, "Zombie"), (6, "Stopped")],
        ("sk", "family") => &[(1, "UNIX"), (2, "INET"), (10, "INET6"), (16, "NETLINK"), (17, "PACKET")],
        ("sk", "type") => &[(1, "STREAM"), (2, "DGRAM"), (3, "RAW"), (5, "SEQPACKET"), (10, "PACKET")],
        ("sk", "state") => &[
            (1, "ESTABLISHED"),
            (2, "SYN_SENT"),
            (3, "SYN_RECV"),
            (4, "FIN_WAIT1"),
            (5, "FIN_WAIT2"),
            (6, "TIME_WAIT"),
            (7, "CLOSE"),
            (8, "CLOSE_WAIT"),
            (9, "LAST_ACK"),
            (10, "LISTEN"),
        ],
        ("sk", "proto") => &[(0, "IP"), (6, "TCP"), (17, "UDP"), (136, "UDPLITE")],
        _ => return None,
    })
}

/// An address kept as u32 words in network byte order: one word is IPv4,
/// four an IPv6 address (shown as Python's `ipaddress` does). Any other
/// count is refused: pycriu shows the first four of five or more, and the
/// text would silently lose the rest (it crashes on two or three).
fn ip_text(words: &[Pb]) -> ConvResult<String> {
    let word = |i: usize| match words.get(i) {
        Some(Pb::U32(w)) => Ok(u32::from_be(*w)),
        _ => Err("an address field holds words of the wrong type".to_string()),
    };
    match words.len() {
        1 => return Ok(Ipv4Addr::from(word(0)?).to_string()),
        4 => {}
        n => return Err(format!("an address field holds {n} words (1 for IPv4, 4 for IPv6)")),
    }
    let v = ((word(0)? as u128) << 96) | ((word(1)? as u128) << 64) | ((word(2)? as u128) << 32) | word(3)? as u128;
    Ok(ipv6_text(v))
}

/// Python 3's `IPv6Address.compressed`: lower-case groups without leading
/// zeros, the first longest run of two or more zero groups as `::` (and no
/// dotted IPv4 tail, unlike Rust's Display).
fn ipv6_text(v: u128) -> String {
    let groups: Vec<u16> = (0..8).map(|i| (v >> (112 - 16 * i)) as u16).collect();
    let (mut best, mut best_len, mut run, mut run_len) = (0usize, 0usize, 0usize, 0usize);
    for (i, g) in groups.iter().enumerate() {
        if *g == 0 {
            if run_len == 0 {
                run = i;
            }
            run_len += 1;
            if run_len > best_len {
                best = run;
                best_len = run_len;
            }
        } else {
            run_len = 0;
        }
    }
    let hex = |gs: &[u16]| gs.iter().map(|g| format!("{g:x}")).collect::<Vec<_>>().join(":");
    if best_len > 1 {
        format!("{}::{}", hex(&groups[..best]), hex(&groups[best + best_len..]))
    } else {
        hex(&groups)
    }
}

fn ip_words(text: &str) -> ConvResult<Vec<u32>> {
    if let Ok(v4) = text.parse::<Ipv4Addr>() {
        return Ok(vec![u32::from(v4).to_be()]);
    }
    let v6: Ipv6Addr = text.parse().map_err(|_| format!("{text:?} is not an IP address"))?;
    let v = u128::from(v6);
    Ok((0..4).map(|i| ((v >> (96 - 32 * i)) as u32).to_be()).collect())
}

/// Python's `base64.encodebytes`: lines of 76 characters, each ended by a
/// newline; nothing at all for no bytes.
pub fn base64_lines(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 57 + 4);
    for line in data.chunks(57) {
        for chunk in line.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            out.push(ALPHABET[(n >> 18) as usize & 63] as char);
            out.push(ALPHABET[(n >> 12) as usize & 63] as char);
            out.push(if chunk.len() > 1 { ALPHABET[(n >> 6) as usize & 63] as char } else { '=' });
            out.push(if chunk.len() > 2 { ALPHABET[n as usize & 63] as char } else { '=' });
        }
        out.push('\n');
    }
    out
}

/// Python's `base64.decodebytes`: characters outside the alphabet are
/// skipped; the data ends at its padding.
pub fn base64_decode(text: &str) -> ConvResult<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits, mut quad, mut pads) = (0u32, 0u32, 0usize, 0usize);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                if quad >= 2 {
                    pads += 1;
                    if quad + pads >= 4 {
                        return Ok(out);
                    }
                }
                continue;
            }
            _ => continue,
        };
        if pads > 0 {
            // Python's non-strict decoder ignores a premature pad.
            pads = 0;
        }
        acc = (acc << 6) | v as u32;
        bits += 6;
        quad = (quad + 1) % 4;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    match quad {
        0 => Ok(out),
        1 => Err("invalid base64: a number of data characters that is one more than a multiple of 4".into()),
        _ => Err("invalid base64: incorrect padding".into()),
    }
}

/// Python's `quopri.encodestring` (binascii's `b2a_qp` for text, tabs and
/// spaces kept, lines of at most 76 characters).
pub fn qp_encode(data: &[u8]) -> String {
    const MAX: usize = 76;
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let crlf = data.iter().position(|&c| c == b'\n').is_some_and(|p| p > 0 && data[p - 1] == b'\r');
    let mut out: Vec<u8> = Vec::with_capacity(data.len() * 3);
    let soft_break = |out: &mut Vec<u8>| {
        out.push(b'=');
        if crlf {
            out.push(b'\r');
        }
        out.push(b'\n');
    };
    let (mut i, mut line) = (0usize, 0usize);
    let n = data.len();
    while i < n {
        let c = data[i];
        let next = data.get(i + 1).copied();
        let quote = c > 126
            || c == b'='
            || (c == b'.' && line == 0 && matches!(next, None | Some(b'\n') | Some(b'\r') | Some(0)))
            || ((c == b'\t' || c == b' ') && next.is_none())
            || (c < 33 && c != b'\r' && c != b'\n' && c != b'\t' && c != b' ');
        if quote {
            if line + 3 >= MAX {
                soft_break(&mut out);
                line = 0;
            }
            out.extend_from_slice(&[b'=', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
            i += 1;
            line += 3;
        } else if c == b'\n' || (c == b'\r' && next == Some(b'\n')) {
            line = 0;
            if let Some(&last) = out.last() {
                if last == b' ' || last == b'\t' {
                    out.pop();
                    out.extend_from_slice(&[b'=', HEX[(last >> 4) as usize], HEX[(last & 15) as usize]]);
                }
            }
            if crlf {
                out.push(b'\r');
            }
            out.push(b'\n');
            i += if c == b'\r' { 2 } else { 1 };
        } else {
            if next.is_some() && next != Some(b'\n') && line + 1 >= MAX {
                soft_break(&mut out);
                line = 0;
            }
            line += 1;
            out.push(c);
            i += 1;
        }
    }
    // Every byte above 126 is quoted, so the text is ASCII.
    out.into_iter().map(char::from).collect()
}

/// Python's `quopri.decodestring` (binascii's `a2b_qp`).
pub fn qp_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let hexval = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'=' {
            out.push(text[i]);
            i += 1;
            continue;
        }
        i += 1;
        if i >= text.len() {
            break;
        }
        match text[i] {
            b'\n' | b'\r' => {
                while i < text.len() && text[i] != b'\n' {
                    i += 1;
                }
                if i < text.len() {
                    i += 1;
                }
            }
            b'=' => {
                out.push(b'=');
                i += 1;
            }
            c => match (hexval(c), text.get(i + 1).copied().and_then(hexval)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'='),
            },
        }
    }
    out
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

/// Python's `int(text, 0)`: decimal, or 0x / 0o / 0b with a prefix;
/// underscores between digits; surrounding blanks; pycriu's own `0x-5`.
fn py_int(text: &str, name: &str) -> ConvResult<i128> {
    let bad = || format!("field {name}: {text:?} is not a number");
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let lower = t.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else {
        if lower.len() > 1 && lower.starts_with('0') && lower.trim_start_matches(['0', '_']).is_empty() {
            return Ok(0);
        }
        if lower.len() > 1 && lower.starts_with('0') {
            return Err(bad());
        }
        (10, lower.as_str())
    };
    let (neg, digits) = match digits.strip_prefix('-') {
        Some(d) if radix == 16 && !neg => (true, d),
        _ => (neg, digits),
    };
    let digits = digits.strip_prefix('_').filter(|_| radix != 10).unwrap_or(digits);
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return Err(bad());
    }
    let v = i128::from_str_radix(&digits.replace('_', ""), radix).map_err(|_| bad())?;
    Ok(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_like_python() {
        assert_eq!(base64_lines(b""), "");
        assert_eq!(base64_lines(b"a"), "YQ==\n");
        let long = vec![0u8; 58];
        let text = base64_lines(&long);
        assert_eq!(text.lines().next().map(str::len), Some(76));
        assert_eq!(base64_decode(&text).as_deref(), Ok(long.as_slice()));
        assert!(base64_decode("YQ").is_err());
    }

    #[test]
    fn quoted_printable_like_python() {
        assert_eq!(qp_encode(b"\0abc"), "=00abc");
        assert_eq!(qp_encode(b"a b "), "a b=20");
        assert_eq!(qp_decode(qp_encode(b"\0x=y\xff").as_bytes()), b"\0x=y\xff");
    }

    #[test]
    fn ipv6_like_python() {
        assert_eq!(ipv6_text(1), "::1");
        assert_eq!(ipv6_text(0), "::");
        assert_eq!(ipv6_text(0xffff_0102_0304), "::ffff:102:304");
        assert_eq!(ipv6_text(0x2001_0db8_0000_0001_0000_0000_0000_0001), "2001:db8:0:1::1");
    }

    #[test]
    fn an_address_is_one_word_or_four() {
        let words = |n: u32| (0..n).map(|i| Pb::U32((i + 1).to_be())).collect::<Vec<_>>();
        assert_eq!(ip_text(&words(1)), Ok("0.0.0.1".to_string()));
        assert_eq!(ip_text(&words(4)), Ok("0:1:0:2:0:3:0:4".to_string()));
        for n in [2, 3, 5, 8] {
            let refused = ip_text(&words(n)).unwrap_err();
            assert!(refused.contains(&format!("holds {n} words")), "{refused}");
        }
    }

    #[test]
    fn ints_like_python() {
        assert_eq!(py_int("0x1f", "f"), Ok(31));
        assert_eq!(py_int("0x-5", "f"), Ok(-5));
        assert!(py_int("017", "f").is_err());
        assert_eq!(py_int(" 12 ", "f"), Ok(12));
        assert_eq!(flags_text(0x3 | 0x40, flags_table("mmap.prot").unwrap()), "PROT_READ | PROT_WRITE | 0x40");
    }
}
