//! A whole image as the dict pycriu makes of it, and back:
//! `{"magic": NAME, "entries": [entry, ...]}`, each entry the dict of its
//! message ([`super::dict`]) with, where something follows the message in
//! the file, that payload under `"extra"`:
//!
//! * bytes (pipe data, queued packets, BPF maps, shared memory, ghost file
//!   contents and chunks) as base64 text ([`super::text::base64_lines`]);
//! * TCP queues as `{"inq": text, "outq": text}`;
//! * semaphore values as a list of numbers;
//! * a message queue as one flat list: each message's (never pretty) dict,
//!   then its text;
//! * with `no_payload`, the payload's size as `"... <4KB>"` (ghost file
//!   contents are left out instead, as pycriu does).
//!
//! The bytes are framed by [`super::codec`]; this module only turns its
//! typed [`codec::Image`] entries into values and back, one entry at a time.
//! [`decode`], [`encode`] and [`info`] are pycriu's `images.loads`,
//! `images.dumps` and `images.info`.

use std::borrow::Cow;

use prost_reflect::DynamicMessage;
use serde_json::{Map, Value};

use super::codec::{self, invalid, Entry, Follows, Payload, Payloads, Reader, Writer, R};
use super::dict::{from_dict, to_dict};
use super::schema::{self, Extra};
use super::text::{base64_decode, base64_lines, size_text};

/// pycriu's `images.loads(data, pretty, no_payload)`: the image as a dict.
/// With `no_payload`, each payload is skipped and shown by its size
/// (`"... <4KB>"`), as `crit show --nopl` does.
pub fn decode(data: &[u8], pretty: bool, no_payload: bool) -> R<Value> {
    let payloads = if no_payload { Payloads::Skip } else { Payloads::Read };
    let reader = Reader::new(data, payloads)?;
    let magic = reader.magic();
    let mut entries = Vec::new();
    // pycriu skips a ghost file's contents without a word.
    let show_skipped = magic != "GHOST_FILE";
    for entry in reader {
        entries.push(Value::Object(entry_dict(entry?, pretty, show_skipped)?));
    }
    let mut image = Map::new();
    image.insert("magic".into(), Value::String(magic.into()));
    image.insert("entries".into(), Value::Array(entries));
    Ok(Value::Object(image))
}

fn message_dict(msg: &DynamicMessage, pretty: bool) -> R<Map<String, Value>> {
    to_dict(msg, pretty, false).map_err(invalid)
}

/// One entry's dict: its message's, with its payload under `"extra"` (a
/// skipped one only when `show_skipped`).
fn entry_dict(entry: Entry, pretty: bool, show_skipped: bool) -> R<Map<String, Value>> {
    let mut dict = message_dict(&entry.message, pretty)?;
    let b64 = |bytes: &[u8]| Value::String(base64_lines(bytes));
    let extra = match entry.payload {
        Payload::None => return Ok(dict),
        Payload::Skipped(size) if show_skipped => Value::String(format!("... <{}>", size_text(size))),
        Payload::Skipped(_) => return Ok(dict),
        Payload::Bytes(data) => b64(&data),
        Payload::TcpQueues { inq, outq } => {
            let mut queues = Map::new();
            queues.insert("inq".into(), b64(&inq));
            queues.insert("outq".into(), b64(&outq));
            Value::Object(queues)
        }
        Payload::Semaphores(values) => Value::Array(values.into_iter().map(Value::from).collect()),
        Payload::Messages(list) => {
            let mut flat = Vec::with_capacity(2 * list.len());
            for (head, text) in list {
                flat.push(Value::Object(message_dict(&head, false)?));
                flat.push(b64(&text));
            }
            Value::Array(flat)
        }
    };
    dict.insert("extra".into(), extra);
    Ok(dict)
}

/// pycriu's `images.info`: `{"magic": NAME, "count": N}` (pagemap's head
/// not counted). Unlike pycriu, payloads are skipped, so images with
/// payloads are counted right too ([`codec::count_entries`]).
pub fn info(data: &[u8]) -> R<Value> {
    let (magic, count) = codec::count_entries(data)?;
    let mut out = Map::new();
    out.insert("magic".into(), Value::String(magic.into()));
    out.insert("count".into(), Value::from(count));
    Ok(Value::Object(out))
}

/// pycriu's `images.dumps(image)`: the bytes of an image given as a dict,
/// plain or pretty. Keys that name no field are ignored; so is `"extra"`
/// where nothing follows an entry, and where something may follow but
/// `"extra"` is empty (as Python's truth has it), nothing is written. A
/// ghost file's contents are required; entries after them are ignored.
pub fn encode(image: &Value) -> R<Vec<u8>> {
    let name = match image.get("magic") {
        Some(Value::String(s)) => s.as_str(),
        _ => return Err(invalid("the image has no \"magic\" name")),
    };
    let mut writer = Writer::new(name)?;
    let Some(Value::Array(items)) = image.get("entries") else {
        return Err(invalid("the image has no \"entries\" list"));
    };
    let dicts = items
        .iter()
        .enumerate()
        .map(|(i, e)| e.as_object().ok_or_else(|| invalid(format!("entry {i} is not a dict"))))
        .collect::<R<Vec<_>>>()?;
    for dict in dicts {
        let Some(desc) = writer.next_message() else { break };
        let message = from_dict(&desc, dict).map_err(invalid)?;
        let payload = payload(writer.follows(&message), &message, dict.get("extra"))?;
        writer.put(&Entry { message, payload })?;
    }
    writer.finish()
}

/// The payload an entry's `"extra"` gives, for what follows the entry
/// holding `msg`.
fn payload(follows: Follows, msg: &DynamicMessage, extra: Option<&Value>) -> R<Payload<'static>> {
    let bytes = |v: &Value| match v {
        Value::String(s) => base64_decode(s).map(Cow::Owned).map_err(invalid),
        _ => Err(invalid("a payload given as something other than base64 text")),
    };
    let (kind, v) = match (follows, extra) {
        (Follows::Nothing, _) => return Ok(Payload::None),
        (Follows::Contents | Follows::Chunk, Some(v @ Value::String(_))) => return Ok(Payload::Bytes(bytes(v)?)),
        (Follows::Contents | Follows::Chunk, _) => {
            return Err(invalid("a ghost file entry without its \"extra\" contents"))
        }
        (Follows::Extra(kind), Some(v)) if truthy(v) => (kind, v),
        (Follows::Extra(_), _) => return Ok(Payload::None),
    };
    Ok(match kind {
        Extra::None => Payload::None,
        Extra::PipeData | Extra::SkQueue | Extra::BpfMap | Extra::IpcShm => Payload::Bytes(bytes(v)?),
        Extra::TcpStream => {
            let queue =
                |name: &str| v.get(name).ok_or_else(|| invalid(format!("TCP queues without {name}"))).and_then(bytes);
            Payload::TcpQueues { inq: queue("inq")?, outq: queue("outq")? }
        }
        Extra::IpcSem => {
            let Value::Array(values) = v else {
                return Err(invalid("semaphore values are not a list"));
            };
            // The writer checks the count too; pycriu checks it before the values.
            if values.len() as u64 != codec::semaphore_count(msg) {
                return Err(invalid("Number of semaphores mismatch"));
            }
            let value = |v: &Value| {
                v.as_u64().and_then(|v| u16::try_from(v).ok()).ok_or_else(|| invalid("a semaphore value is not a u16"))
            };
            Payload::Semaphores(values.iter().map(value).collect::<R<_>>()?)
        }
        Extra::IpcMsg => {
            let Value::Array(list) = v else {
                return Err(invalid("queued messages are not a list"));
            };
            let desc = schema::message("ipc_msg");
            let mut messages = Vec::with_capacity(list.len().div_ceil(2));
            for pair in list.chunks(2) {
                let Value::Object(head) = &pair[0] else {
                    return Err(invalid("a queued message is not a dict"));
                };
                let head = from_dict(&desc, head).map_err(invalid)?;
                let text = pair.get(1).ok_or_else(|| invalid("a queued message without its text"))?;
                messages.push((head, bytes(text)?));
            }
            Payload::Messages(messages)
        }
    })
}

/// Python's truth of a payload: empty text, list or dict means none.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(n) => n.as_f64() != Some(0.0),
    }
}

#[cfg(test)]
mod tests;
