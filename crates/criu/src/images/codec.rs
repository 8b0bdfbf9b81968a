//! The framing of an image file, and the whole image to and from the dict
//! pycriu makes of it: `{"magic": NAME, "entries": [entry, ...]}`, each
//! entry the dict of its message ([`super::dict`]) with, where the image
//! kind has one, its extra payload under `"extra"` (base64 text, a list, or
//! for TCP queues a dict).
//!
//! The framing: one magic number (inventory.img) or IMG_COMMON /
//! IMG_SERVICE then the kind's magic (all from [`super::schema::KINDS`]);
//! then entries of a 32-bit length in host byte order, that many bytes of
//! protobuf, and the kind's payload.
//!
//! Pure functions of bytes (no files: [`super::container`] reads them),
//! bounded by the input: an entry or payload read past the end is
//! an error naming its offset (pycriu takes what is left), and nothing is
//! allocated beyond the input's size.

use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, ReflectMessage, Value as Pb};
use serde_json::{Map, Value};

use super::dict::{from_dict, to_dict};
use super::schema::{self, Extra, Layout, IMG_COMMON, IMG_SERVICE};
use super::text::{base64_decode, base64_lines};

/// Why an image could not be decoded or encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// The file starts with a magic number CRIU does not have (raw data
    /// such as pages-*.img has none).
    UnknownMagic(u32),
    /// A magic number that names no entry image (e.g. KDAT).
    NoHandler(String),
    /// The bytes or the dict are not a valid image; says where and why.
    Invalid(String),
}

impl std::fmt::Display for ImageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageError::UnknownMagic(m) => write!(f, "unknown magic {m:#x}"),
            ImageError::NoHandler(name) => {
                write!(f, "no handler found for image with magic {name}")
            }
            ImageError::Invalid(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for ImageError {}

impl From<ImageError> for crate::Error {
    fn from(e: ImageError) -> Self {
        crate::Error::InvalidArgument(e.to_string())
    }
}

type R<T> = std::result::Result<T, ImageError>;

fn invalid(what: impl Into<String>) -> ImageError {
    ImageError::Invalid(what.into())
}

/// A read position over the image's bytes, with a file's forgiving
/// semantics: reads past the end come back short, seeks past it are fine.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn read(&mut self, n: u64) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(usize::try_from(n).unwrap_or(usize::MAX)).min(self.data.len());
        self.pos = self.pos.max(end);
        &self.data[start..end]
    }

    /// Exactly `n` bytes: unlike pycriu, which takes what is left, a
    /// payload or entry cut short is an error.
    fn exact(&mut self, n: u64, what: &str) -> R<&'a [u8]> {
        let at = self.pos;
        self.exact_from(at, n, what)
    }

    /// [`Self::exact`], naming offset `at` (where the entry began) in errors.
    fn exact_from(&mut self, at: usize, n: u64, what: &str) -> R<&'a [u8]> {
        let got = self.read(n);
        if got.len() as u64 != n {
            return Err(invalid(format!(
                "offset {at}: the image ends inside {what} of {n} bytes ({} left)",
                got.len()
            )));
        }
        Ok(got)
    }

    fn skip(&mut self, n: u64) {
        self.pos = self.pos.saturating_add(usize::try_from(n).unwrap_or(usize::MAX));
    }

    fn seek_end(&mut self) {
        self.pos = self.pos.max(self.data.len());
    }

    /// The next entry's length, or `None` at the end of the image.
    fn length(&mut self) -> R<Option<u64>> {
        let at = self.pos;
        match self.read(4) {
            [] => Ok(None),
            &[a, b, c, d] => {
                let len = i32::from_ne_bytes([a, b, c, d]);
                u64::try_from(len).map(Some).map_err(|_| invalid(format!("offset {at}: negative entry length {len}")))
            }
            _ => Err(invalid(format!("offset {at}: the image ends inside an entry's length"))),
        }
    }

    fn u32(&mut self, what: &str) -> R<u32> {
        let at = self.pos;
        match self.read(4) {
            &[a, b, c, d] => Ok(u32::from_ne_bytes([a, b, c, d])),
            _ => Err(invalid(format!("offset {at}: the image ends inside {what}"))),
        }
    }

    /// One length-prefixed message, or `None` at the end.
    fn message(&mut self, desc: &MessageDescriptor) -> R<Option<DynamicMessage>> {
        let at = self.pos;
        let Some(len) = self.length()? else {
            return Ok(None);
        };
        let body = self.exact_from(at, len, "an entry")?;
        parse(desc, body).map(Some).map_err(|e| invalid(format!("offset {at}: {e}")))
    }
}

/// Decodes one message as protobuf does, refusing a missing required field.
fn parse(desc: &MessageDescriptor, body: &[u8]) -> std::result::Result<DynamicMessage, String> {
    let msg = DynamicMessage::decode(desc.clone(), body).map_err(|e| format!("undecodable {}: {e}", desc.name()))?;
    check_required(&msg)?;
    Ok(msg)
}

fn check_required(msg: &DynamicMessage) -> std::result::Result<(), String> {
    for field in msg.descriptor().fields() {
        // An enum number the schema lacks is kept aside by protobuf, as if
        // the field were absent.
        let unknown_enum = match (field.kind(), msg.get_field(&field).as_ref()) {
            (Kind::Enum(e), Pb::EnumNumber(n)) => e.get_value(*n).is_none(),
            _ => false,
        };
        if field.is_required() && (!msg.has_field(&field) || unknown_enum) {
            return Err(format!("{} lacks its required field {}", msg.descriptor().name(), field.name()));
        }
    }
    for (_, value) in msg.fields() {
        match value {
            Pb::Message(m) => check_required(m)?,
            Pb::List(items) => {
                for item in items {
                    if let Pb::Message(m) = item {
                        check_required(m)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The magic name and layout of the image in `data`, and where its
/// entries start.
fn head(data: &[u8]) -> R<(&'static str, Layout, Cursor<'_>)> {
    let mut cur = Cursor { data, pos: 0 };
    let mut magic = cur.u32("the magic number")?;
    if magic == IMG_COMMON || magic == IMG_SERVICE {
        magic = cur.u32("the magic number")?;
    }
    let (name, layout) = schema::by_value(magic).ok_or(ImageError::UnknownMagic(magic))?;
    if layout == Layout::Unhandled {
        return Err(ImageError::NoHandler(name.to_string()));
    }
    Ok((name, layout, cur))
}

/// The magic name of the image in `data` (e.g. `"CORE"`).
pub fn magic_name(data: &[u8]) -> R<&'static str> {
    head(data).map(|h| h.0)
}

/// The entries of an image of kind `magic`, strictly framed, each with its
/// offset: the image must start with `magic` (after IMG_COMMON when
/// `common`), and no entry may be longer than `max_entry`.
pub fn framed_entries(data: &[u8], common: bool, magic: u32, max_entry: u32) -> R<Vec<(u64, &[u8])>> {
    let mut cur = Cursor { data, pos: 0 };
    let wanted = if common { &[IMG_COMMON, magic][..] } else { &[magic][..] };
    for &want in wanted {
        let at = cur.pos;
        let got = cur.u32("the magic number")?;
        if got != want {
            return Err(invalid(format!("offset {at}: magic {got:#010x}, expected {want:#010x}")));
        }
    }
    let mut out = Vec::new();
    loop {
        let at = cur.pos as u64;
        let Some(len) = cur.length()? else { break };
        if len > u64::from(max_entry) {
            return Err(invalid(format!("offset {at}: entry of {len} bytes, more than the {max_entry} accepted")));
        }
        out.push((at, cur.exact_from(at as usize, len, "an entry")?));
    }
    Ok(out)
}

/// The largest entry [`typed_entries`] accepts.
pub const MAX_ENTRY: u32 = 16 << 20;

/// The entries of an image of kind `magic` decoded as `M`, strictly
/// ([`framed_entries`] with entries of at most [`MAX_ENTRY`] bytes):
/// the typed reader of [`super::external_resources`].
pub fn typed_entries<M: prost::Message + Default>(data: &[u8], common: bool, magic: u32) -> R<Vec<M>> {
    framed_entries(data, common, magic, MAX_ENTRY)?
        .into_iter()
        .map(|(at, body)| M::decode(body).map_err(|e| invalid(format!("offset {at}: undecodable entry: {e}"))))
        .collect()
}

/// The bytes of the first entry of an image of kind `name` (e.g. `"STATS"`).
pub fn single_entry<'a>(data: &'a [u8], name: &str) -> R<&'a [u8]> {
    let (found, _, mut cur) = head(data)?;
    if found != name {
        return Err(invalid(format!("a {found} image where {name} was expected")));
    }
    let len = cur.length()?.ok_or_else(|| invalid(format!("a {name} image without entries")))?;
    cur.exact(len, "an entry")
}

/// pycriu's `images.loads(data, pretty, no_payload)`: the image as a dict.
/// With `no_payload`, each extra payload is skipped and shown by its size
/// (`"... <4KB>"`), as `crit show --nopl` does.
pub fn decode(data: &[u8], pretty: bool, no_payload: bool) -> R<Value> {
    let (name, layout, mut cur) = head(data)?;
    let entries = match layout {
        Layout::Entries(msg, extra) => entries(&mut cur, &schema::message(msg), extra, pretty, no_payload)?,
        Layout::Pagemap => pagemap(&mut cur, pretty)?,
        Layout::GhostFile => ghost_file(&mut cur, pretty, no_payload)?,
        Layout::Unhandled => unreachable!("head() refuses it"),
    };
    let mut image = Map::new();
    image.insert("magic".into(), Value::String(name.into()));
    image.insert("entries".into(), Value::Array(entries));
    Ok(Value::Object(image))
}

fn dict(msg: &DynamicMessage, pretty: bool) -> R<Map<String, Value>> {
    to_dict(msg, pretty, false).map_err(invalid)
}

fn entries(cur: &mut Cursor, desc: &MessageDescriptor, extra: Extra, pretty: bool, no_payload: bool) -> R<Vec<Value>> {
    let mut out = Vec::new();
    while let Some(msg) = cur.message(desc)? {
        let mut entry = dict(&msg, pretty)?;
        if extra != Extra::None {
            let payload = if no_payload {
                Value::String(format!("... <{}>", human_size(skip_extra(cur, &msg, extra)?)))
            } else {
                load_extra(cur, &msg, extra)?
            };
            entry.insert("extra".into(), payload);
        }
        out.push(Value::Object(entry));
    }
    Ok(out)
}

/// An unsigned field of an entry (0 when absent).
fn field_u64(msg: &DynamicMessage, name: &str) -> u64 {
    match msg.get_field_by_name(name).as_deref() {
        Some(Pb::U32(v)) => *v as u64,
        Some(Pb::U64(v)) => *v,
        Some(Pb::I32(v)) => *v as u64,
        Some(Pb::I64(v)) => *v as u64,
        _ => 0,
    }
}

/// Whether a SysV shared memory segment's contents are in the pagemap
/// and pages images rather than after its entry.
fn in_pagemaps(msg: &DynamicMessage) -> bool {
    matches!(msg.get_field_by_name("in_pagemaps").as_deref(), Some(Pb::Bool(true)))
}

fn round_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to).saturating_mul(to)
}

fn load_extra(cur: &mut Cursor, msg: &DynamicMessage, extra: Extra) -> R<Value> {
    let b64 = |bytes: &[u8]| Value::String(base64_lines(bytes));
    Ok(match extra {
        Extra::None => Value::Null,
        Extra::PipeData => b64(cur.exact(field_u64(msg, "bytes"), "pipe data")?),
        Extra::SkQueue => b64(cur.exact(field_u64(msg, "length"), "a queued packet")?),
        Extra::BpfMap => b64(cur.exact(field_u64(msg, "keys_bytes") + field_u64(msg, "values_bytes"), "BPF map data")?),
        Extra::TcpStream => {
            let inq = cur.exact(field_u64(msg, "inq_len"), "a TCP input queue")?;
            let outq = cur.exact(field_u64(msg, "outq_len"), "a TCP output queue")?;
            let mut queues = Map::new();
            queues.insert("inq".into(), b64(inq));
            queues.insert("outq".into(), b64(outq));
            Value::Object(queues)
        }
        // Contents kept in the pagemap/pages images are not inline; pycriu
        // reads what follows anyway, which at the end of the image is
        // nothing: the same empty payload.
        Extra::IpcShm if in_pagemaps(msg) => Value::String(String::new()),
        Extra::IpcShm => {
            let size = field_u64(msg, "size");
            let data = cur.exact(size, "a shared memory segment")?;
            cur.skip(round_up(size, 4) - size);
            b64(data)
        }
        Extra::IpcSem => {
            let size = 2 * field_u64(msg, "nsems");
            let data = cur.exact(size, "semaphore values")?;
            if data.len() % 2 != 0 {
                return Err(invalid("a semaphore set ends inside a value"));
            }
            cur.skip(round_up(size, 8) - size);
            Value::Array(data.chunks(2).map(|c| Value::from(u16::from_ne_bytes([c[0], c[1]]))).collect())
        }
        Extra::IpcMsg => {
            let desc = schema::message("ipc_msg");
            let mut list = Vec::new();
            for _ in 0..field_u64(msg, "qnum") {
                let Some(m) = cur.message(&desc)? else { break };
                let size = field_u64(&m, "msize");
                let data = cur.exact(size, "a queued message")?;
                cur.skip(round_up(size, 8) - size);
                list.push(Value::Object(dict(&m, false)?));
                list.push(b64(data));
            }
            Value::Array(list)
        }
    })
}

/// Skips an entry's payload; returns the size `crit show --nopl` reports.
fn skip_extra(cur: &mut Cursor, msg: &DynamicMessage, extra: Extra) -> R<u64> {
    Ok(match extra {
        Extra::None => 0,
        Extra::PipeData => {
            let n = field_u64(msg, "bytes");
            cur.skip(n);
            n
        }
        Extra::SkQueue => {
            let n = field_u64(msg, "length");
            cur.skip(n);
            n
        }
        Extra::BpfMap => {
            let n = field_u64(msg, "keys_bytes") + field_u64(msg, "values_bytes");
            cur.skip(n);
            n
        }
        Extra::TcpStream => {
            // pycriu skips to the end of the image here.
            cur.seek_end();
            field_u64(msg, "inq_len") + field_u64(msg, "outq_len")
        }
        Extra::IpcShm => {
            let n = field_u64(msg, "size");
            if !in_pagemaps(msg) {
                cur.skip(round_up(n, 4));
            }
            n
        }
        Extra::IpcSem => {
            let n = 2 * field_u64(msg, "nsems");
            cur.skip(round_up(n, 8));
            n
        }
        Extra::IpcMsg => {
            let desc = schema::message("ipc_msg");
            let mut total = 0u64;
            for _ in 0..field_u64(msg, "qnum") {
                let at = cur.pos;
                let Some(m) = cur.message(&desc)? else { break };
                let size = field_u64(&m, "msize");
                total += (cur.pos - at - 4) as u64 + size;
                cur.skip(round_up(size, 8));
            }
            total
        }
    })
}

/// pycriu's size text: `4KB`, `1.5MB`.
fn human_size(n: u64) -> String {
    let units = ["", "K", "M", "G", "T", "P", "E", "Z"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut num = n as f64;
    for unit in units {
        if num < 1024.0 {
            return if num.fract() == 0.0 { format!("{num:.0}{unit}B") } else { format!("{num:.1}{unit}B") };
        }
        num /= 1024.0;
    }
    format!("{num:.1}YB")
}

fn pagemap(cur: &mut Cursor, pretty: bool) -> R<Vec<Value>> {
    let mut desc = schema::message("pagemap_head");
    let mut out = Vec::new();
    while let Some(msg) = cur.message(&desc)? {
        out.push(Value::Object(dict(&msg, pretty)?));
        desc = schema::message("pagemap_entry");
    }
    Ok(out)
}

fn ghost_file(cur: &mut Cursor, pretty: bool, no_payload: bool) -> R<Vec<Value>> {
    let Some(head) = cur.message(&schema::message("ghost_file_entry"))? else {
        return Err(invalid("a ghost file image without its entry"));
    };
    let mut first = dict(&head, pretty)?;
    let chunked = matches!(head.get_field_by_name("chunks").as_deref(), Some(Pb::Bool(true)));
    if !chunked {
        if no_payload {
            cur.seek_end();
        } else {
            first.insert("extra".into(), Value::String(base64_lines(cur.read(u64::MAX))));
        }
        return Ok(vec![Value::Object(first)]);
    }
    let mut out = vec![Value::Object(first)];
    let desc = schema::message("ghost_chunk_entry");
    while let Some(chunk) = cur.message(&desc)? {
        let mut entry = dict(&chunk, pretty)?;
        let len = field_u64(&chunk, "len");
        if no_payload {
            cur.skip(len);
        } else {
            entry.insert("extra".into(), Value::String(base64_lines(cur.exact(len, "a ghost file chunk")?)));
        }
        out.push(Value::Object(entry));
    }
    Ok(out)
}

/// pycriu's `images.info`: the magic name and the number of entries
/// (pagemap's head not counted). Unlike pycriu, payloads are skipped, so
/// images with payloads are counted right too.
pub fn info(data: &[u8]) -> R<Value> {
    let (name, layout, mut cur) = head(data)?;
    let count = match layout {
        Layout::Entries(msg, extra) if extra != Extra::None => {
            let desc = schema::message(msg);
            let mut n = 0u64;
            while let Some(msg) = cur.message(&desc)? {
                skip_extra(&mut cur, &msg, extra)?;
                n += 1;
            }
            n
        }
        Layout::GhostFile => ghost_file(&mut cur, false, true)?.len() as u64,
        _ => {
            let mut n = 0u64;
            while let Some(len) = cur.length()? {
                cur.skip(len);
                n += 1;
            }
            if layout == Layout::Pagemap {
                n.saturating_sub(1)
            } else {
                n
            }
        }
    };
    let mut out = Map::new();
    out.insert("magic".into(), Value::String(name.into()));
    out.insert("count".into(), Value::from(count));
    Ok(Value::Object(out))
}

/// pycriu's `images.dumps(image)`: the bytes of an image given as a dict.
pub fn encode(image: &Value) -> R<Vec<u8>> {
    let name = match image.get("magic") {
        Some(Value::String(s)) => s.as_str(),
        _ => return Err(invalid("the image has no \"magic\" name")),
    };
    let (magic, layout) = schema::by_name(name).ok_or_else(|| invalid(format!("unknown magic name {name:?}")))?;
    if layout == Layout::Unhandled {
        return Err(ImageError::NoHandler(name.to_string()));
    }
    let Some(Value::Array(items)) = image.get("entries") else {
        return Err(invalid("the image has no \"entries\" list"));
    };
    let mut out = Vec::new();
    if name != "INVENTORY" {
        let first = if name == "STATS" || name == "IRMAP_CACHE" { IMG_SERVICE } else { IMG_COMMON };
        out.extend_from_slice(&first.to_ne_bytes());
    }
    out.extend_from_slice(&magic.to_ne_bytes());
    let objects = items
        .iter()
        .enumerate()
        .map(|(i, e)| e.as_object().ok_or_else(|| invalid(format!("entry {i} is not a dict"))))
        .collect::<R<Vec<_>>>()?;
    match layout {
        Layout::Entries(msg, extra) => {
            let desc = schema::message(msg);
            for entry in objects {
                let msg = put_message(&mut out, &desc, entry)?;
                match entry.get("extra") {
                    Some(payload) if extra != Extra::None && truthy(payload) => {
                        put_extra(&mut out, &msg, extra, payload)?
                    }
                    _ => {}
                }
            }
        }
        Layout::Pagemap => {
            let mut desc = schema::message("pagemap_head");
            for entry in objects {
                put_message(&mut out, &desc, entry)?;
                desc = schema::message("pagemap_entry");
            }
        }
        Layout::GhostFile => {
            let Some((first, rest)) = objects.split_first() else {
                return Err(invalid("a ghost file image needs its entry"));
            };
            let head = put_message(&mut out, &schema::message("ghost_file_entry"), first)?;
            if matches!(head.get_field_by_name("chunks").as_deref(), Some(Pb::Bool(true))) {
                let desc = schema::message("ghost_chunk_entry");
                for chunk in rest {
                    put_message(&mut out, &desc, chunk)?;
                    out.extend_from_slice(&extra_bytes(chunk)?);
                }
            } else {
                out.extend_from_slice(&extra_bytes(first)?);
            }
        }
        Layout::Unhandled => unreachable!("refused above"),
    }
    Ok(out)
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

fn extra_bytes(entry: &Map<String, Value>) -> R<Vec<u8>> {
    match entry.get("extra") {
        Some(Value::String(s)) => base64_decode(s).map_err(invalid),
        _ => Err(invalid("a ghost file entry without its \"extra\" contents")),
    }
}

fn put_message(out: &mut Vec<u8>, desc: &MessageDescriptor, entry: &Map<String, Value>) -> R<DynamicMessage> {
    let msg = from_dict(desc, entry).map_err(invalid)?;
    let body = prost::Message::encode_to_vec(&msg);
    let len = i32::try_from(body.len()).map_err(|_| invalid("an entry of more than 2 GiB"))?;
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&body);
    Ok(msg)
}

fn put_extra(out: &mut Vec<u8>, msg: &DynamicMessage, extra: Extra, payload: &Value) -> R<()> {
    let text = |v: &Value| match v {
        Value::String(s) => base64_decode(s).map_err(invalid),
        _ => Err(invalid("a payload given as something other than base64 text")),
    };
    match extra {
        Extra::None => {}
        Extra::PipeData | Extra::SkQueue | Extra::BpfMap => out.extend_from_slice(&text(payload)?),
        Extra::TcpStream => {
            for queue in ["inq", "outq"] {
                let q = payload.get(queue).ok_or_else(|| invalid(format!("TCP queues without {queue}")))?;
                out.extend_from_slice(&text(q)?);
            }
        }
        Extra::IpcShm => {
            let size = field_u64(msg, "size") as usize;
            let data = text(payload)?;
            out.extend_from_slice(&data[..size.min(data.len())]);
            out.resize(out.len() + (round_up(size as u64, 4) as usize - size), 0);
        }
        Extra::IpcSem => {
            let Value::Array(values) = payload else {
                return Err(invalid("semaphore values are not a list"));
            };
            let n = field_u64(msg, "nsems") as usize;
            if values.len() != n {
                return Err(invalid("Number of semaphores mismatch"));
            }
            for v in values {
                let v = v
                    .as_u64()
                    .and_then(|v| u16::try_from(v).ok())
                    .ok_or_else(|| invalid("a semaphore value is not a u16"))?;
                out.extend_from_slice(&v.to_ne_bytes());
            }
            out.resize(out.len() + (round_up(2 * n as u64, 8) as usize - 2 * n), 0);
        }
        Extra::IpcMsg => {
            let Value::Array(list) = payload else {
                return Err(invalid("queued messages are not a list"));
            };
            let desc = schema::message("ipc_msg");
            for pair in list.chunks(2) {
                let Value::Object(head) = &pair[0] else {
                    return Err(invalid("a queued message is not a dict"));
                };
                let m = put_message(out, &desc, head)?;
                let size = field_u64(&m, "msize") as usize;
                let data = text(pair.get(1).ok_or_else(|| invalid("a queued message without its text"))?)?;
                out.extend_from_slice(&data[..size.min(data.len())]);
                out.resize(out.len() + (round_up(size as u64, 8) as usize - size), 0);
            }
        }
    }
    Ok(())
}
