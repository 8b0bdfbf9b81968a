//! Just enough of the protobuf wire format to pick a descriptor set apart
//! without decoding it into types that would drop the fields they do not
//! know (the `(criu)` options are such fields). Shared with build.rs.

/// One field of a message: its number, its bytes as they stand (key
/// included), and for a length-delimited field its contents.
pub struct Field<'a> {
    pub number: u64,
    pub whole: &'a [u8],
    pub body: &'a [u8],
}

fn varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The top-level fields of `buf`, or `None` if it is not well formed.
pub fn fields(buf: &[u8]) -> Option<Vec<Field<'_>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let start = at;
        let key = varint(buf, &mut at)?;
        let (number, kind) = (key >> 3, key & 7);
        let body_start;
        match kind {
            0 => {
                varint(buf, &mut at)?;
                body_start = at;
            }
            1 => {
                at = at.checked_add(8)?;
                body_start = at;
            }
            2 => {
                let len = usize::try_from(varint(buf, &mut at)?).ok()?;
                body_start = at;
                at = at.checked_add(len)?;
            }
            5 => {
                at = at.checked_add(4)?;
                body_start = at;
            }
            _ => return None,
        }
        if at > buf.len() {
            return None;
        }
        out.push(Field { number, whole: &buf[start..at], body: &buf[body_start..at] });
    }
    Some(out)
}

/// `buf` without its top-level fields numbered `drop`.
pub fn without(buf: &[u8], drop: u64) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(buf.len());
    for f in fields(buf)? {
        if f.number != drop {
            out.extend_from_slice(f.whole);
        }
    }
    Some(out)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A length-delimited field: `number`'s key, the length, the contents.
pub fn put_bytes(out: &mut Vec<u8>, number: u64, body: &[u8]) {
    put_varint(out, (number << 3) | 2);
    put_varint(out, body.len() as u64);
    out.extend_from_slice(body);
}
