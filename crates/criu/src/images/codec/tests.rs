//! The typed framing on images built here, entry by entry: every payload
//! kind read back as written and borrowed from the input, padding and
//! skipped sizes, and the refusals of the reader and the writer.

use prost_reflect::{DynamicMessage, MessageDescriptor, Value as Pb};

use super::*;
use crate::images::schema::magic;

/// A message of type `desc` with `fields` set.
fn message(desc: MessageDescriptor, fields: &[(&str, Pb)]) -> DynamicMessage {
    let mut msg = DynamicMessage::new(desc);
    for (name, value) in fields {
        msg.set_field_by_name(name, value.clone());
    }
    msg
}

/// An image message named `name` (as in the schema) with `fields` set.
fn entry(name: &str, fields: &[(&str, Pb)]) -> DynamicMessage {
    message(schema::message(name), fields)
}

/// The `desc` field of a SysV IPC entry of type `parent`, all ids set.
fn ipc_desc(parent: &str) -> (&'static str, Pb) {
    let field = schema::message(parent).get_field_by_name("desc").unwrap();
    let desc = field.kind().as_message().unwrap().clone();
    let ids = ["key", "uid", "gid", "cuid", "cgid", "mode", "id"].map(|f| (f, Pb::U32(7)));
    ("desc", Pb::Message(message(desc, &ids)))
}

fn with<'a>(message: DynamicMessage, payload: Payload<'a>) -> Entry<'a> {
    Entry { message, payload }
}

fn bytes(data: &[u8]) -> Payload<'_> {
    Payload::Bytes(Cow::Borrowed(data))
}

/// One image of every layout and payload kind.
fn every_kind() -> Vec<Image<'static>> {
    let shm = |size: u64, inline: bool| {
        let mut fields = vec![ipc_desc("ipc_shm_entry"), ("size", Pb::U64(size))];
        if !inline {
            fields.push(("in_pagemaps", Pb::Bool(true)));
        }
        entry("ipc_shm_entry", &fields)
    };
    let ghost = |chunks: bool| {
        let mut fields = vec![("uid", Pb::U32(0)), ("gid", Pb::U32(0)), ("mode", Pb::U32(0o100644))];
        if chunks {
            fields.push(("chunks", Pb::Bool(true)));
        }
        entry("ghost_file_entry", &fields)
    };
    let chunk = |len: u64, off: u64| entry("ghost_chunk_entry", &[("len", Pb::U64(len)), ("off", Pb::U64(off))]);
    let ipc_msg = |size: u32| entry("ipc_msg", &[("mtype", Pb::U64(1)), ("msize", Pb::U32(size))]);
    vec![
        Image {
            magic: "PIPES_DATA",
            entries: vec![
                with(entry("pipe_data_entry", &[("pipe_id", Pb::U32(1)), ("bytes", Pb::U32(5))]), bytes(b"hello")),
                with(entry("pipe_data_entry", &[("pipe_id", Pb::U32(2)), ("bytes", Pb::U32(0))]), bytes(b"")),
            ],
        },
        Image {
            magic: "SK_QUEUES",
            entries: vec![with(
                entry("sk_packet_entry", &[("id_for", Pb::U32(3)), ("length", Pb::U32(3))]),
                bytes(b"abc"),
            )],
        },
        Image {
            magic: "BPFMAP_DATA",
            entries: vec![with(
                entry(
                    "bpfmap_data_entry",
                    &[
                        ("map_id", Pb::U32(1)),
                        ("keys_bytes", Pb::U32(4)),
                        ("values_bytes", Pb::U32(2)),
                        ("count", Pb::U32(1)),
                    ],
                ),
                bytes(b"kkkkvv"),
            )],
        },
        Image {
            magic: "TCP_STREAM",
            entries: vec![with(
                entry(
                    "tcp_stream_entry",
                    &[
                        ("inq_len", Pb::U32(2)),
                        ("inq_seq", Pb::U32(0)),
                        ("outq_len", Pb::U32(3)),
                        ("outq_seq", Pb::U32(0)),
                        ("opt_mask", Pb::U32(0)),
                        ("snd_wscale", Pb::U32(0)),
                        ("mss_clamp", Pb::U32(0)),
                    ],
                ),
                Payload::TcpQueues { inq: Cow::Borrowed(b"in"), outq: Cow::Borrowed(b"out") },
            )],
        },
        Image {
            magic: "IPCNS_SHM",
            entries: vec![
                with(shm(5, true), bytes(b"12345")),
                with(shm(4097, false), bytes(b"")),
                with(shm(3, true), bytes(b"xyz")),
            ],
        },
        Image {
            magic: "IPCNS_SEM",
            entries: vec![with(
                entry("ipc_sem_entry", &[ipc_desc("ipc_sem_entry"), ("nsems", Pb::U32(3))]),
                Payload::Semaphores(vec![1, 2, 65535]),
            )],
        },
        Image {
            magic: "IPCNS_MSG",
            entries: vec![with(
                entry("ipc_msg_entry", &[ipc_desc("ipc_msg_entry"), ("qbytes", Pb::U32(64)), ("qnum", Pb::U32(2))]),
                Payload::Messages(vec![(ipc_msg(3), Cow::Borrowed(b"abc")), (ipc_msg(9), Cow::Borrowed(b"123456789"))]),
            )],
        },
        Image { magic: "GHOST_FILE", entries: vec![with(ghost(false), bytes(b"the whole file"))] },
        Image {
            magic: "GHOST_FILE",
            entries: vec![
                with(ghost(true), Payload::None),
                with(chunk(4, 0), bytes(b"head")),
                with(chunk(4, 100), bytes(b"tail")),
            ],
        },
        Image {
            magic: "PAGEMAP",
            entries: vec![
                with(entry("pagemap_head", &[("pages_id", Pb::U32(1))]), Payload::None),
                with(
                    entry("pagemap_entry", &[("vaddr", Pb::U64(0x1000)), ("compat_nr_pages", Pb::U32(1))]),
                    Payload::None,
                ),
            ],
        },
        Image {
            magic: "INVENTORY",
            entries: vec![with(
                entry("inventory_entry", &[("img_version", Pb::U32(2)), ("fdinfo_per_id", Pb::Bool(true))]),
                Payload::None,
            )],
        },
    ]
}

/// Whether every byte payload of `image` lies inside `data`.
fn all_borrowed_from(image: &Image, data: &[u8]) -> bool {
    let inside = |c: &Cow<[u8]>| match c {
        Cow::Borrowed(b) => data.as_ptr_range().contains(&b.as_ptr()) || b.is_empty(),
        Cow::Owned(_) => false,
    };
    image.entries.iter().all(|e| match &e.payload {
        Payload::Bytes(b) => inside(b),
        Payload::TcpQueues { inq, outq } => inside(inq) && inside(outq),
        Payload::Messages(list) => list.iter().all(|(_, text)| inside(text)),
        Payload::None | Payload::Semaphores(_) | Payload::Skipped(_) => true,
    })
}

#[test]
fn every_payload_kind_reads_back_as_written_and_borrowed() {
    for image in every_kind() {
        let data = image.write().unwrap_or_else(|e| panic!("{}: {e}", image.magic));
        let read = Image::read(&data, Payloads::Read).unwrap_or_else(|e| panic!("{}: {e}", image.magic));
        assert_eq!(read, image, "{}", image.magic);
        assert!(all_borrowed_from(&read, &data), "{}: a payload was copied", image.magic);
        assert_eq!(read.write().as_ref(), Ok(&data), "{}: written again differently", image.magic);
        let (name, count) = count_entries(&data).unwrap();
        let head = usize::from(name == "PAGEMAP");
        assert_eq!((name, count as usize), (image.magic, image.entries.len() - head));
    }
}

#[test]
fn payloads_are_framed_with_their_padding() {
    let image = &every_kind()[4]; // IPCNS_SHM: 5 bytes inline, one in the pagemaps, 3 inline
    let data = image.write().unwrap();
    let mut expected = [IMG_COMMON, magic("IPCNS_SHM")].map(u32::to_ne_bytes).concat();
    for e in &image.entries {
        let body = prost::Message::encode_to_vec(&e.message);
        expected.extend((body.len() as u32).to_ne_bytes());
        expected.extend(body);
        if let Payload::Bytes(b) = &e.payload {
            expected.extend(b.iter());
            expected.resize(expected.len() + b.len().next_multiple_of(4) - b.len(), 0);
        }
    }
    assert_eq!(data, expected);
    // A semaphore set: three u16, then two bytes of padding to 8.
    let sem = every_kind()[5].write().unwrap();
    assert_eq!(&sem[sem.len() - 8..], [1u16, 2, 65535, 0].map(u16::to_ne_bytes).concat());
}

#[test]
fn skipped_payloads_are_sized_and_may_run_past_the_end() {
    // Each entry's skipped size; `None` where nothing follows it.
    let sizes = |image: &Image| -> Vec<Option<u64>> {
        let data = image.write().unwrap();
        let read = Image::read(&data, Payloads::Skip).unwrap();
        let size = |e: Entry| match e.payload {
            Payload::Skipped(n) => Some(n),
            Payload::None => None,
            other => panic!("{other:?} read in skip mode"),
        };
        read.entries.into_iter().map(size).collect()
    };
    let kinds = every_kind();
    assert_eq!(sizes(&kinds[0]), [Some(5), Some(0)]);
    assert_eq!(sizes(&kinds[3]), [Some(5)]);
    assert_eq!(sizes(&kinds[4]), [Some(5), Some(4097), Some(3)]);
    // Each message's header (4 bytes of protobuf) counts, with its text.
    assert_eq!(sizes(&kinds[6]), [Some(4 + 3 + 4 + 9)]);
    assert_eq!(sizes(&kinds[7]), [Some(14)]);
    assert_eq!(sizes(&kinds[8]), [None, Some(4), Some(4)]);
    assert_eq!(sizes(&kinds[9]), [None, None]);

    let mut cut = kinds[0].write().unwrap();
    cut.truncate(cut.len() - 9); // the second entry (8 bytes) and the first pipe's last byte
    assert_eq!(Image::read(&cut, Payloads::Skip).unwrap().entries.len(), 1);
    let err = Image::read(&cut, Payloads::Read).unwrap_err().to_string();
    assert!(err.contains("the image ends inside pipe data of 5 bytes (4 left)"), "{err}");
}

#[test]
fn the_reader_refuses_damage_naming_the_offset() {
    let data = every_kind()[0].write().unwrap();
    let first_len = u32::from_ne_bytes(data[8..12].try_into().unwrap()) as usize;
    let second = 8 + 4 + first_len + 5;
    let err = Image::read(&data[..second + 3], Payloads::Read).unwrap_err().to_string();
    assert_eq!(err, format!("offset {second}: the image ends inside an entry's length"));

    let mut negative = data.clone();
    negative[second..second + 4].copy_from_slice(&(-1i32).to_ne_bytes());
    let err = Image::read(&negative, Payloads::Read).unwrap_err().to_string();
    assert_eq!(err, format!("offset {second}: negative entry length -1"));

    // pipe_data_entry without its required `bytes`.
    let lacking = Image {
        magic: "PIPES_DATA",
        entries: vec![with(entry("pipe_data_entry", &[("pipe_id", Pb::U32(1))]), Payload::None)],
    };
    let err = Image::read(&lacking.write().unwrap(), Payloads::Read).unwrap_err().to_string();
    assert_eq!(err, "offset 8: pipe_data_entry lacks its required field bytes");

    let head_only = [IMG_COMMON, magic("GHOST_FILE")].map(u32::to_ne_bytes).concat();
    let err = Image::read(&head_only, Payloads::Read).unwrap_err().to_string();
    assert_eq!(err, "a ghost file image without its entry");
    assert_eq!(Image::read(&0xdead_beef_u32.to_ne_bytes(), Payloads::Read), Err(ImageError::UnknownMagic(0xdead_beef)));
}

#[test]
fn the_reader_stops_after_its_first_error() {
    let mut data = every_kind()[0].write().unwrap();
    data.truncate(data.len() - 1);
    let mut reader = Reader::new(&data, Payloads::Read).unwrap();
    assert_eq!(reader.magic(), "PIPES_DATA");
    assert!(reader.next().unwrap().is_ok());
    assert!(reader.next().unwrap().is_err());
    assert!(reader.next().is_none());
}

#[test]
fn the_writer_refuses_what_the_layout_does_not_take() {
    let kinds = every_kind();
    let refused =
        |magic: &'static str, entries: Vec<Entry<'static>>| Image { magic, entries }.write().unwrap_err().to_string();
    let pipe = kinds[0].entries[0].clone();
    assert_eq!(refused("SK_QUEUES", vec![pipe.clone()]), "a pipe_data_entry entry where sk_packet_entry is expected");
    let semaphores = with(pipe.message.clone(), Payload::Semaphores(vec![1]));
    assert_eq!(refused("PIPES_DATA", vec![semaphores]), "a pipe_data_entry entry takes no such payload");
    let skipped = with(pipe.message.clone(), Payload::Skipped(5));
    assert_eq!(refused("PIPES_DATA", vec![skipped]), "a skipped payload cannot be written");
    let mut sem = kinds[5].entries[0].clone();
    sem.payload = Payload::Semaphores(vec![1, 2]);
    assert_eq!(refused("IPCNS_SEM", vec![sem]), "Number of semaphores mismatch");
    assert_eq!(refused("GHOST_FILE", vec![]), "a ghost file image needs its entry");
    let mut after_contents = kinds[7].entries.clone();
    after_contents.push(after_contents[0].clone());
    assert_eq!(refused("GHOST_FILE", after_contents), "an entry after a ghost file's contents");
    let mut no_chunk = kinds[8].entries.clone();
    no_chunk[1].payload = Payload::None;
    assert_eq!(refused("GHOST_FILE", no_chunk), "a ghost file entry without its contents");
    assert_eq!(Writer::new("KDAT").err(), Some(ImageError::NoHandler("KDAT".into())));
    assert_eq!(Writer::new("NOPE").err(), Some(invalid("unknown magic name \"NOPE\"")));
}

#[test]
fn no_payload_given_writes_none_and_data_is_cut_to_its_size() {
    let kinds = every_kind();
    let mut pipe = kinds[0].clone();
    pipe.entries[0].payload = Payload::None;
    let data = pipe.write().unwrap();
    assert_eq!(data.len(), kinds[0].write().unwrap().len() - 5);
    // A segment's data longer than its size is cut; shorter is written short.
    let mut shm = kinds[4].clone();
    shm.entries[0].payload = bytes(b"1234567");
    assert_eq!(shm.write(), kinds[4].write());
    shm.entries[0].payload = bytes(b"12");
    assert_eq!(shm.write().unwrap().len(), kinds[4].write().unwrap().len() - 3);
}
