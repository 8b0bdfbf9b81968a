//! Whole images as pycriu's dicts: each payload kind's `"extra"` form,
//! both ways, `--nopl` sizes, `info` counts, and what `encode` ignores or
//! refuses, with pycriu's messages.

use serde_json::{json, Value};

use super::*;

fn ipc_desc() -> Value {
    json!({"key": 1, "uid": 0, "gid": 0, "cuid": 0, "cgid": 0, "mode": 384, "id": 5})
}

fn tcp_entry() -> Value {
    json!({"inq_len": 2, "inq_seq": 1, "outq_len": 3, "outq_seq": 2, "opt_mask": 0, "snd_wscale": 7, "mss_clamp": 1460})
}

/// A dict of each payload kind, as `decode` gives it (plain).
fn dicts() -> Vec<Value> {
    vec![
        json!({"magic": "PIPES_DATA", "entries": [{"pipe_id": 1, "bytes": 5, "extra": "aGVsbG8=\n"}]}),
        json!({"magic": "SK_QUEUES", "entries": [{"id_for": 3, "length": 3, "extra": "YWJj\n"}]}),
        json!({"magic": "BPFMAP_DATA", "entries": [
            {"map_id": 1, "keys_bytes": 4, "values_bytes": 2, "count": 1, "extra": "a2tra3Z2\n"}]}),
        json!({"magic": "TCP_STREAM", "entries": [{
            "inq_len": 2, "inq_seq": 1, "outq_len": 3, "outq_seq": 2, "opt_mask": 0, "snd_wscale": 7,
            "mss_clamp": 1460, "extra": {"inq": "aW4=\n", "outq": "b3V0\n"}}]}),
        json!({"magic": "IPCNS_SHM", "entries": [
            {"desc": ipc_desc(), "size": 5, "extra": "MTIzNDU=\n"},
            {"desc": ipc_desc(), "size": 4097, "in_pagemaps": true, "extra": ""}]}),
        json!({"magic": "IPCNS_SEM", "entries": [{"desc": ipc_desc(), "nsems": 3, "extra": [1, 2, 65535]}]}),
        json!({"magic": "IPCNS_MSG", "entries": [{"desc": ipc_desc(), "qbytes": 64, "qnum": 2, "extra": [
            {"mtype": 1, "msize": 3}, "YWJj\n", {"mtype": 2, "msize": 1}, "eg==\n"]}]}),
        json!({"magic": "GHOST_FILE", "entries": [{"uid": 0, "gid": 0, "mode": 33188, "extra": "d2hvbGU=\n"}]}),
        json!({"magic": "GHOST_FILE", "entries": [
            {"uid": 0, "gid": 0, "mode": 33188, "chunks": true},
            {"len": 2, "off": 0, "extra": "aGk=\n"},
            {"len": 4, "off": 8, "extra": "YnllCg==\n"}]}),
        json!({"magic": "PAGEMAP", "entries": [{"pages_id": 1}, {"vaddr": 4096, "compat_nr_pages": 1, "flags": 2}]}),
    ]
}

#[test]
fn every_payload_kind_round_trips_through_its_dict() {
    for dict in dicts() {
        let bytes = encode(&dict).unwrap_or_else(|e| panic!("{dict}: {e}"));
        assert_eq!(decode(&bytes, false, false).as_ref(), Ok(&dict));
        // The pretty dict reads back to the same bytes.
        let pretty = decode(&bytes, true, false).unwrap();
        assert_eq!(encode(&pretty).as_ref(), Ok(&bytes), "{pretty}");
    }
}

#[test]
fn payload_bytes_are_written_raw_after_their_entry() {
    let d = dicts();
    assert!(encode(&d[0]).unwrap().ends_with(b"hello"));
    assert!(encode(&d[3]).unwrap().ends_with(b"inout"));
    assert!(encode(&d[4]).unwrap().ends_with(&[0x10, 0x81, 0x20, 0x18, 1]), "the second segment: nothing after it");
    assert!(encode(&d[5]).unwrap().ends_with(&[1u16, 2, 65535, 0].map(u16::to_ne_bytes).concat()));
    assert!(encode(&d[6]).unwrap().ends_with(b"z\0\0\0\0\0\0\0"));
    assert!(encode(&d[7]).unwrap().ends_with(b"whole"));
    assert!(encode(&d[8]).unwrap().ends_with(b"bye\n"));
}

#[test]
fn no_payload_shows_sizes_where_pycriu_does() {
    let extras = |dict: &Value| -> Vec<Option<Value>> {
        let bytes = encode(dict).unwrap();
        let image = decode(&bytes, false, true).unwrap();
        image["entries"].as_array().unwrap().iter().map(|e| e.get("extra").cloned()).collect()
    };
    let d = dicts();
    let size = |s: &str| Some(Value::from(format!("... <{s}>")));
    assert_eq!(extras(&d[0]), [size("5B")]);
    assert_eq!(extras(&d[3]), [size("5B")]);
    assert_eq!(extras(&d[4]), [size("5B"), size("4.0KB")]);
    // Each queued message's header (4 bytes here) counts, with its text.
    assert_eq!(extras(&d[6]), [size("12B")]);
    // A ghost file's contents and chunks are skipped without a word.
    assert_eq!(extras(&d[7]), [None]);
    assert_eq!(extras(&d[8]), [None, None, None]);
    assert_eq!(extras(&d[9]), [None, None]);
}

#[test]
fn info_counts_entries_past_their_payloads() {
    for (dict, count) in dicts().iter().zip([1, 1, 1, 1, 2, 1, 1, 1, 3, 1]) {
        let magic = dict["magic"].clone();
        assert_eq!(info(&encode(dict).unwrap()), Ok(json!({"magic": magic, "count": count})));
    }
}

#[test]
fn encode_ignores_what_pycriu_ignores() {
    let d = dicts();
    let without_payload = encode(&json!({"magic": "PIPES_DATA", "entries": [{"pipe_id": 1, "bytes": 5}]})).unwrap();
    for empty in [json!(""), json!([]), json!({}), json!(0), json!(null), json!(false)] {
        let image = json!({"magic": "PIPES_DATA", "entries": [{"pipe_id": 1, "bytes": 5, "extra": empty}]});
        assert_eq!(encode(&image).as_ref(), Ok(&without_payload), "extra {empty}");
    }
    let mut pagemap = d[9].clone();
    pagemap["entries"][1]["extra"] = json!(5);
    assert_eq!(encode(&pagemap), encode(&d[9]));
    // Entries after a ghost file's contents, however wrong, are not read.
    let mut ghost = d[7].clone();
    ghost["entries"].as_array_mut().unwrap().push(json!({"not": "a ghost chunk"}));
    assert_eq!(encode(&ghost), encode(&d[7]));
    let mut chunked = d[8].clone();
    chunked["entries"][0]["extra"] = json!("not base64 at all!");
    assert_eq!(encode(&chunked), encode(&d[8]));
}

#[test]
fn encode_refuses_with_pycriu_messages() {
    let refused = |image: Value| encode(&image).unwrap_err().to_string();
    let d = dicts();
    let mut sem = d[5].clone();
    // The count is checked before the values, as pycriu does.
    sem["entries"][0]["extra"] = json!([70000]);
    assert_eq!(refused(sem.clone()), "Number of semaphores mismatch");
    sem["entries"][0]["extra"] = json!([1, 2, 70000]);
    assert_eq!(refused(sem.clone()), "a semaphore value is not a u16");
    sem["entries"][0]["extra"] = json!("AQID");
    assert_eq!(refused(sem), "semaphore values are not a list");
    let mut ghost = d[7].clone();
    ghost["entries"][0].as_object_mut().unwrap().remove("extra");
    assert_eq!(refused(ghost), "a ghost file entry without its \"extra\" contents");
    let mut chunk = d[8].clone();
    chunk["entries"][2]["extra"] = json!(["x"]);
    assert_eq!(refused(chunk), "a ghost file entry without its \"extra\" contents");
    let mut tcp = d[3].clone();
    tcp["entries"][0]["extra"] = json!({"outq": ""});
    assert_eq!(refused(tcp), "TCP queues without inq");
    let mut pipe = d[0].clone();
    pipe["entries"][0]["extra"] = json!(7);
    assert_eq!(refused(pipe), "a payload given as something other than base64 text");
    let mut msg = d[6].clone();
    msg["entries"][0]["extra"] = json!([{"mtype": 1, "msize": 3}]);
    assert_eq!(refused(msg.clone()), "a queued message without its text");
    msg["entries"][0]["extra"] = json!(["YWJj"]);
    assert_eq!(refused(msg), "a queued message is not a dict");
    assert_eq!(refused(json!({"magic": "GHOST_FILE", "entries": []})), "a ghost file image needs its entry");
    assert_eq!(refused(json!({"magic": "PIPES_DATA", "entries": [{}, 3]})), "entry 1 is not a dict");
    assert_eq!(refused(json!({"magic": "KDAT", "entries": 3})), "no handler found for image with magic KDAT");
    assert_eq!(refused(json!({"entries": []})), "the image has no \"magic\" name");
    assert_eq!(refused(json!({"magic": "PIPES_DATA"})), "the image has no \"entries\" list");
    let tcp_only = json!({"magic": "TCP_STREAM", "entries": [tcp_entry()]});
    assert!(encode(&tcp_only).is_ok(), "no payload given: none written");
}
