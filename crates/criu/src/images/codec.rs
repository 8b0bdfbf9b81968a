//! The framing of an image file, and only the framing: bytes to a typed
//! [`Image`] and back, every entry a protobuf message with the raw
//! [`Payload`] that follows it. What a person or pycriu sees of it (dicts,
//! base64 text, JSON) is built elsewhere, from these values
//! ([`super::image_dict`]).
//!
//! An image is one magic number (inventory.img) or IMG_COMMON /
//! IMG_SERVICE then the kind's magic (all from [`super::schema::KINDS`]);
//! then entries of a 32-bit length in host byte order, that many bytes of
//! protobuf, and what the kind puts after each entry (its
//! [`super::schema::Layout`]).
//!
//! Pure functions of bytes (no files: [`super::container`] reads them),
//! bounded by the input: an entry or payload read past the end is an
//! error naming its offset (pycriu takes what is left), a message without
//! a required field is refused, nothing is allocated beyond the input's
//! size, and payload bytes are borrowed from the input, not copied.
//! [`Reader`] walks the entries one at a time, so a caller turning them
//! into something else holds one entry's message at a time.

use std::borrow::Cow;

use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, ReflectMessage, Value as Pb};

use super::schema::{self, Extra, Layout, IMG_COMMON, IMG_SERVICE};

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

/// A result of the image layers (codec, image_dict, explore).
pub(super) type R<T> = std::result::Result<T, ImageError>;

/// An [`ImageError::Invalid`] saying `what`.
pub(super) fn invalid(what: impl Into<String>) -> ImageError {
    ImageError::Invalid(what.into())
}

/// A whole image: its kind and its entries, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct Image<'a> {
    /// The kind's name in [`super::schema::KINDS`] (e.g. `"PIPES_DATA"`).
    pub magic: &'static str,
    /// Every entry; for pagemap the head first, for a ghost file its
    /// ghost_file_entry first.
    pub entries: Vec<Entry<'a>>,
}

/// One entry: its message and what follows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry<'a> {
    /// The protobuf message, of the type the image's layout names here.
    pub message: DynamicMessage,
    /// What follows the message in the file.
    pub payload: Payload<'a>,
}

/// What follows an entry's message. Lengths and padding are not kept:
/// they are read from, and written after, the message's own fields.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload<'a> {
    /// Nothing: the kind has no payload (or, when encoding, none is given).
    None,
    /// Raw bytes: pipe or FIFO contents, a queued packet, BPF map keys and
    /// values, a SysV shared memory segment (without its padding; empty
    /// when its contents are in the pagemap and pages images), a ghost
    /// file's contents or one of its chunks.
    Bytes(Cow<'a, [u8]>),
    /// A TCP connection's input and output queues.
    TcpQueues {
        /// Received, not yet read by the process.
        inq: Cow<'a, [u8]>,
        /// Sent, not yet acknowledged by the peer.
        outq: Cow<'a, [u8]>,
    },
    /// A SysV semaphore set's values.
    Semaphores(Vec<u16>),
    /// A SysV message queue: each message's ipc_msg header and its text
    /// (without padding).
    Messages(Vec<(DynamicMessage, Cow<'a, [u8]>)>),
    /// A payload read past ([`Payloads::Skip`]), by its size: the data
    /// bytes, and for message queues their headers too.
    Skipped(u64),
}

/// Whether a [`Reader`] reads payloads or steps over them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payloads {
    /// Each payload as a [`Payload`] of its kind.
    Read,
    /// Each payload as [`Payload::Skipped`] (`crit show --nopl`); payload
    /// bytes that run past the end of the image are not an error then
    /// (a queued message's header still has to be whole).
    Skip,
}

/// What follows one entry's message, given the image's layout and the
/// message itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follows {
    /// Nothing: the next entry, or the end.
    Nothing,
    /// The kind's payload (never [`Extra::None`]).
    Extra(Extra),
    /// A ghost file's contents: the rest of the image.
    Contents,
    /// A ghost file chunk: its `len` bytes.
    Chunk,
}

impl<'a> Image<'a> {
    /// The image in `data`, its payloads borrowed from `data`.
    pub fn read(data: &'a [u8], payloads: Payloads) -> R<Self> {
        let reader = Reader::new(data, payloads)?;
        let magic = reader.magic();
        Ok(Image { magic, entries: reader.collect::<R<_>>()? })
    }

    /// The image's bytes.
    pub fn write(&self) -> R<Vec<u8>> {
        let mut writer = Writer::new(self.magic)?;
        for entry in &self.entries {
            writer.put(entry)?;
        }
        writer.finish()
    }
}

/// The entries of an image one at a time, in file order: an iterator of
/// `Result<Entry>` that ends after the first error.
pub struct Reader<'a> {
    magic: &'static str,
    cur: Cursor<'a>,
    step: Step,
    payloads: Payloads,
    failed: bool,
}

impl<'a> Reader<'a> {
    /// A reader of the image in `data`, its magic already checked.
    pub fn new(data: &'a [u8], payloads: Payloads) -> R<Self> {
        let (magic, layout, cur) = head(data)?;
        Ok(Reader { magic, cur, step: Step::first(layout), payloads, failed: false })
    }

    /// The image's kind (e.g. `"CORE"`).
    pub fn magic(&self) -> &'static str {
        self.magic
    }

    /// The next entry, or `None` at the end of the image.
    fn entry(&mut self) -> R<Option<Entry<'a>>> {
        let Some(desc) = self.step.message() else { return Ok(None) };
        let Some(message) = self.cur.message(&desc)? else {
            if matches!(self.step, Step::GhostHead) {
                return Err(invalid("a ghost file image without its entry"));
            }
            return Ok(None);
        };
        let follows = self.step.follows(&message);
        let payload = match self.payloads {
            Payloads::Read => self.cur.payload(&message, follows)?,
            Payloads::Skip => self.cur.skip_payload(&message, follows)?,
        };
        self.step.after(&message);
        Ok(Some(Entry { message, payload }))
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = R<Entry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.entry().transpose();
        self.failed = matches!(next, Some(Err(_)));
        next
    }
}

/// An image's bytes, written one entry at a time: [`Writer::new`] with the
/// kind, [`Writer::put`] for each entry, [`Writer::finish`].
pub struct Writer {
    out: Vec<u8>,
    step: Step,
}

impl Writer {
    /// A writer of an image of the kind named `magic`, its magic numbers
    /// written.
    pub fn new(magic: &str) -> R<Self> {
        let (value, layout) = schema::by_name(magic).ok_or_else(|| invalid(format!("unknown magic name {magic:?}")))?;
        if layout == Layout::Unhandled {
            return Err(ImageError::NoHandler(magic.to_string()));
        }
        let mut out = Vec::new();
        if magic != "INVENTORY" {
            let first = if magic == "STATS" || magic == "IRMAP_CACHE" { IMG_SERVICE } else { IMG_COMMON };
            out.extend_from_slice(&first.to_ne_bytes());
        }
        out.extend_from_slice(&value.to_ne_bytes());
        Ok(Writer { out, step: Step::first(layout) })
    }

    /// The message type the next entry must have; `None` when the image
    /// can take no more (a ghost file's contents end it).
    pub fn next_message(&self) -> Option<MessageDescriptor> {
        self.step.message()
    }

    /// What must follow `msg` when it is the next entry.
    pub fn follows(&self, msg: &DynamicMessage) -> Follows {
        self.step.follows(msg)
    }

    /// Writes one entry: its length, its message, and its payload with
    /// the padding its kind has. [`Payload::None`] after an entry of a
    /// kind with payloads writes nothing (as pycriu does for an empty
    /// "extra"). A payload is written as given: a shared memory segment or
    /// a queued message is cut to the size its message says, other bytes
    /// are not checked against it.
    pub fn put(&mut self, entry: &Entry) -> R<()> {
        let Some(desc) = self.step.message() else {
            return Err(invalid("an entry after a ghost file's contents"));
        };
        let got = entry.message.descriptor();
        if got.full_name() != desc.full_name() {
            return Err(invalid(format!("a {} entry where {} is expected", got.name(), desc.name())));
        }
        put_message(&mut self.out, &entry.message)?;
        let follows = self.step.follows(&entry.message);
        self.put_payload(&entry.message, follows, &entry.payload)?;
        self.step.after(&entry.message);
        Ok(())
    }

    fn put_payload(&mut self, msg: &DynamicMessage, follows: Follows, payload: &Payload) -> R<()> {
        let out = &mut self.out;
        match (follows, payload) {
            (_, Payload::Skipped(_)) => return Err(invalid("a skipped payload cannot be written")),
            (Follows::Nothing, Payload::None) | (Follows::Extra(_), Payload::None) => {}
            (Follows::Contents | Follows::Chunk, Payload::None) => {
                return Err(invalid("a ghost file entry without its contents"))
            }
            (Follows::Contents | Follows::Chunk, Payload::Bytes(data))
            | (Follows::Extra(Extra::PipeData | Extra::SkQueue | Extra::BpfMap), Payload::Bytes(data)) => {
                out.extend_from_slice(data)
            }
            (Follows::Extra(Extra::TcpStream), Payload::TcpQueues { inq, outq }) => {
                out.extend_from_slice(inq);
                out.extend_from_slice(outq);
            }
            // Nothing at all for no bytes: a segment whose contents are in
            // the pagemaps has no padding either.
            (Follows::Extra(Extra::IpcShm), Payload::Bytes(data)) if data.is_empty() => {}
            (Follows::Extra(Extra::IpcShm), Payload::Bytes(data)) => put_padded(out, data, field_u64(msg, "size"), 4),
            (Follows::Extra(Extra::IpcSem), Payload::Semaphores(values)) => {
                if values.len() as u64 != semaphore_count(msg) {
                    return Err(invalid("Number of semaphores mismatch"));
                }
                let mut data = Vec::with_capacity(2 * values.len());
                for v in values {
                    data.extend_from_slice(&v.to_ne_bytes());
                }
                put_padded(out, &data, data.len() as u64, 8);
            }
            (Follows::Extra(Extra::IpcMsg), Payload::Messages(list)) => {
                for (m, text) in list {
                    put_message(out, m)?;
                    put_padded(out, text, field_u64(m, "msize"), 8);
                }
            }
            _ => return Err(invalid(format!("a {} entry takes no such payload", msg.descriptor().name()))),
        }
        Ok(())
    }

    /// The image's bytes; refused when an entry the layout needs is missing.
    pub fn finish(self) -> R<Vec<u8>> {
        if matches!(self.step, Step::GhostHead) {
            return Err(invalid("a ghost file image needs its entry"));
        }
        Ok(self.out)
    }
}

/// An entry's length and message.
fn put_message(out: &mut Vec<u8>, msg: &DynamicMessage) -> R<()> {
    let body = prost::Message::encode_to_vec(msg);
    let len = i32::try_from(body.len()).map_err(|_| invalid("an entry of more than 2 GiB"))?;
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&body);
    Ok(())
}

/// `data` cut to `size` bytes, then zeros up to a multiple of `align`
/// past `size` (a shorter `data` is written short, then padded as if whole).
fn put_padded(out: &mut Vec<u8>, data: &[u8], size: u64, align: u64) {
    let cut = usize::try_from(size).map_or(data.len(), |size| size.min(data.len()));
    out.extend_from_slice(&data[..cut]);
    let pad = round_up(size, align) - size;
    out.resize(out.len() + pad as usize, 0);
}

/// The magic name of an image and its number of entries (pagemap's head
/// not counted), as pycriu's `images.info` gives them. Payloads are
/// skipped, so entries after them are counted too; entries of kinds
/// without payloads are counted by their lengths, not decoded.
pub fn count_entries(data: &[u8]) -> R<(&'static str, u64)> {
    let (magic, layout, mut cur) = head(data)?;
    let count = match layout {
        Layout::Entries(_, Extra::None) | Layout::Pagemap => {
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
        _ => {
            let mut n = 0u64;
            for entry in Reader::new(data, Payloads::Skip)? {
                entry?;
                n += 1;
            }
            n
        }
    };
    Ok((magic, count))
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

/// Where a walk over a layout's entries stands: which message comes next.
#[derive(Clone, Debug)]
enum Step {
    /// Entries of one message type, each followed by the kind's payload.
    Entries(MessageDescriptor, Extra),
    /// pagemap: the head (pagemap_head) comes next.
    PagemapHead,
    /// pagemap: pagemap_entry entries.
    Pagemap(MessageDescriptor),
    /// A ghost file: its ghost_file_entry comes next.
    GhostHead,
    /// A chunked ghost file: ghost_chunk_entry entries.
    GhostChunks(MessageDescriptor),
    /// No entry can come: a ghost file's contents took the rest.
    End,
}

/// The one statement of each layout's order of messages and payloads,
/// walked alike by [`Reader`] and [`Writer`].
impl Step {
    fn first(layout: Layout) -> Step {
        match layout {
            Layout::Entries(msg, extra) => Step::Entries(schema::message(msg), extra),
            Layout::Pagemap => Step::PagemapHead,
            Layout::GhostFile => Step::GhostHead,
            Layout::Unhandled => Step::End,
        }
    }

    /// The message type of the next entry; `None` when none can come.
    fn message(&self) -> Option<MessageDescriptor> {
        match self {
            Step::Entries(desc, _) | Step::Pagemap(desc) | Step::GhostChunks(desc) => Some(desc.clone()),
            Step::PagemapHead => Some(schema::message("pagemap_head")),
            Step::GhostHead => Some(schema::message("ghost_file_entry")),
            Step::End => None,
        }
    }

    fn follows(&self, msg: &DynamicMessage) -> Follows {
        match self {
            Step::Entries(_, Extra::None) | Step::PagemapHead | Step::Pagemap(_) | Step::End => Follows::Nothing,
            Step::Entries(_, extra) => Follows::Extra(*extra),
            Step::GhostHead if ghost_chunked(msg) => Follows::Nothing,
            Step::GhostHead => Follows::Contents,
            Step::GhostChunks(_) => Follows::Chunk,
        }
    }

    /// The step after an entry holding `msg`.
    fn after(&mut self, msg: &DynamicMessage) {
        match self {
            Step::PagemapHead => *self = Step::Pagemap(schema::message("pagemap_entry")),
            Step::GhostHead if ghost_chunked(msg) => *self = Step::GhostChunks(schema::message("ghost_chunk_entry")),
            Step::GhostHead => *self = Step::End,
            Step::Entries(..) | Step::Pagemap(_) | Step::GhostChunks(_) | Step::End => {}
        }
    }
}

/// Whether a ghost file's entry says its contents follow in chunks.
fn ghost_chunked(head: &DynamicMessage) -> bool {
    matches!(head.get_field_by_name("chunks").as_deref(), Some(Pb::Bool(true)))
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

/// Reads of what follows an entry.
impl<'a> Cursor<'a> {
    fn payload(&mut self, msg: &DynamicMessage, follows: Follows) -> R<Payload<'a>> {
        let extra = match follows {
            Follows::Nothing => return Ok(Payload::None),
            Follows::Contents => return Ok(Payload::Bytes(Cow::Borrowed(self.read(u64::MAX)))),
            Follows::Chunk => {
                return Ok(Payload::Bytes(self.exact(field_u64(msg, "len"), "a ghost file chunk")?.into()))
            }
            Follows::Extra(extra) => extra,
        };
        Ok(match extra {
            Extra::None => Payload::None,
            Extra::PipeData => Payload::Bytes(self.exact(field_u64(msg, "bytes"), "pipe data")?.into()),
            Extra::SkQueue => Payload::Bytes(self.exact(field_u64(msg, "length"), "a queued packet")?.into()),
            Extra::BpfMap => {
                let n = field_u64(msg, "keys_bytes") + field_u64(msg, "values_bytes");
                Payload::Bytes(self.exact(n, "BPF map data")?.into())
            }
            Extra::TcpStream => {
                let inq = self.exact(field_u64(msg, "inq_len"), "a TCP input queue")?.into();
                let outq = self.exact(field_u64(msg, "outq_len"), "a TCP output queue")?.into();
                Payload::TcpQueues { inq, outq }
            }
            // Contents kept in the pagemap/pages images are not inline;
            // pycriu reads what follows anyway, which at the end of the
            // image is nothing: the same empty payload.
            Extra::IpcShm if in_pagemaps(msg) => Payload::Bytes(Cow::Borrowed(&[])),
            Extra::IpcShm => Payload::Bytes(self.padded(field_u64(msg, "size"), 4, "a shared memory segment")?.into()),
            Extra::IpcSem => {
                let data = self.padded(2 * semaphore_count(msg), 8, "semaphore values")?;
                Payload::Semaphores(data.chunks_exact(2).map(|c| u16::from_ne_bytes([c[0], c[1]])).collect())
            }
            Extra::IpcMsg => {
                let desc = schema::message("ipc_msg");
                let mut list = Vec::new();
                for _ in 0..field_u64(msg, "qnum") {
                    let Some(m) = self.message(&desc)? else { break };
                    let text = self.padded(field_u64(&m, "msize"), 8, "a queued message")?;
                    list.push((m, text.into()));
                }
                Payload::Messages(list)
            }
        })
    }

    /// Exactly `n` bytes, then the padding up to a multiple of `align`
    /// (which may be cut short at the end of the image).
    fn padded(&mut self, n: u64, align: u64, what: &str) -> R<&'a [u8]> {
        let data = self.exact(n, what)?;
        self.skip(round_up(n, align) - n);
        Ok(data)
    }

    /// Steps over what follows an entry, as pycriu's `--nopl` does;
    /// returns it as skipped, by the size `crit show --nopl` reports.
    fn skip_payload(&mut self, msg: &DynamicMessage, follows: Follows) -> R<Payload<'a>> {
        let skipped = match follows {
            Follows::Nothing => return Ok(Payload::None),
            Follows::Contents => {
                let n = self.data.len().saturating_sub(self.pos) as u64;
                self.seek_end();
                n
            }
            Follows::Chunk => self.skip_counted(field_u64(msg, "len")),
            Follows::Extra(extra) => self.skip_extra(msg, extra)?,
        };
        Ok(Payload::Skipped(skipped))
    }

    /// Skips `n` bytes and says how many.
    fn skip_counted(&mut self, n: u64) -> u64 {
        self.skip(n);
        n
    }

    fn skip_extra(&mut self, msg: &DynamicMessage, extra: Extra) -> R<u64> {
        Ok(match extra {
            Extra::None => 0,
            Extra::PipeData => self.skip_counted(field_u64(msg, "bytes")),
            Extra::SkQueue => self.skip_counted(field_u64(msg, "length")),
            Extra::BpfMap => self.skip_counted(field_u64(msg, "keys_bytes") + field_u64(msg, "values_bytes")),
            Extra::TcpStream => {
                // pycriu skips to the end of the image here.
                self.seek_end();
                field_u64(msg, "inq_len") + field_u64(msg, "outq_len")
            }
            Extra::IpcShm => {
                let n = field_u64(msg, "size");
                if !in_pagemaps(msg) {
                    self.skip(round_up(n, 4));
                }
                n
            }
            Extra::IpcSem => {
                let n = 2 * semaphore_count(msg);
                self.skip(round_up(n, 8));
                n
            }
            Extra::IpcMsg => {
                let desc = schema::message("ipc_msg");
                let mut total = 0u64;
                for _ in 0..field_u64(msg, "qnum") {
                    let at = self.pos;
                    let Some(m) = self.message(&desc)? else { break };
                    let size = field_u64(&m, "msize");
                    total += (self.pos - at - 4) as u64 + size;
                    self.skip(round_up(size, 8));
                }
                total
            }
        })
    }
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

/// How many values follow a SysV semaphore set's entry.
pub fn semaphore_count(set: &DynamicMessage) -> u64 {
    field_u64(set, "nsems")
}

/// Whether a SysV shared memory segment's contents are in the pagemap
/// and pages images rather than after its entry.
fn in_pagemaps(msg: &DynamicMessage) -> bool {
    matches!(msg.get_field_by_name("in_pagemaps").as_deref(), Some(Pb::Bool(true)))
}

fn round_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to).saturating_mul(to)
}

#[cfg(test)]
mod tests;
