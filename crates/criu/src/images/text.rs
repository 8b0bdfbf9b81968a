//! The text forms Python gives values in pycriu's dicts, written here to
//! come out byte for byte the same: `base64.encodebytes` lines, `quopri`
//! quoted-printable, `"%#x"` hex (negative numbers too), `int(text, 0)`,
//! `ipaddress` addresses, `major:minor` device numbers in the kernel's
//! and in glibc's encoding, and the sizes `crit show --nopl` puts in place
//! of payloads (`4KB`). Pure functions, no image knowledge.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Why a text could not be read back.
type Result<T> = std::result::Result<T, String>;

/// Python's `"0x%x" % n` (which puts a minus sign after the `0x`).
pub fn py_hex(n: i128) -> String {
    if n < 0 {
        format!("0x-{:x}", -n)
    } else {
        format!("0x{n:x}")
    }
}

/// `major:minor`, in the kernel's encoding or (`odev`) glibc's.
pub fn dev_text(v: u64, odev: bool) -> String {
    if odev {
        // glibc's gnu_dev_major/gnu_dev_minor (32-bit results).
        let major = ((v >> 8) & 0xfff) | ((v >> 32) & 0xffff_f000);
        let minor = (v & 0xff) | ((v >> 12) & 0xffff_ff00);
        format!("{major}:{minor}")
    } else {
        format!("{}:{}", v >> 20, v & ((1 << 20) - 1))
    }
}

pub fn dev_value(major: u64, minor: u64, odev: bool) -> u64 {
    if odev {
        ((major & 0xffff_f000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffff_ff00) << 12) | (minor & 0xff)
    } else {
        (major << 20) | minor
    }
}

/// An address kept as u32 words in network byte order: one word is IPv4,
/// four are IPv6 (shown as Python's `ipaddress` does); `None` for any other
/// count (crit would show the first four of more, dropping the rest).
pub fn ip_text(words: &[u32]) -> Option<String> {
    let word = |i: usize| words.get(i).map(|w| u32::from_be(*w));
    match words.len() {
        1 => return Some(Ipv4Addr::from(word(0)?).to_string()),
        4 => {}
        _ => return None,
    }
    let v = ((word(0)? as u128) << 96) | ((word(1)? as u128) << 64) | ((word(2)? as u128) << 32) | word(3)? as u128;
    Some(ipv6_text(v))
}

/// Python 3's `IPv6Address.compressed`: lower-case groups without leading
/// zeros, the first longest run of two or more zero groups as `::` (and no
/// dotted IPv4 tail, unlike Rust's Display).
pub fn ipv6_text(v: u128) -> String {
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

pub fn ip_words(text: &str) -> Result<Vec<u32>> {
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
pub fn base64_decode(text: &str) -> Result<Vec<u8>> {
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

/// Python's `int(text, 0)`: decimal, or 0x / 0o / 0b with a prefix;
/// underscores between digits; surrounding blanks; pycriu's own `0x-5`.
pub fn py_int(text: &str, name: &str) -> Result<i128> {
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

/// pycriu's size text (its `--nopl` payload sizes): `5B`, `4KB`, `1.5MB`.
pub fn size_text(n: u64) -> String {
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
    fn addresses_like_python() {
        assert_eq!(ipv6_text(1), "::1");
        assert_eq!(ipv6_text(0), "::");
        assert_eq!(ipv6_text(0xffff_0102_0304), "::ffff:102:304");
        assert_eq!(ipv6_text(0x2001_0db8_0000_0001_0000_0000_0000_0001), "2001:db8:0:1::1");
        assert_eq!(ip_text(&[u32::from_be_bytes([127, 0, 0, 1]).to_be()]).as_deref(), Some("127.0.0.1"));
        assert_eq!(ip_text(&[1, 2]), None);
        assert_eq!(ip_words("::1").map(|w| ip_text(&w)), Ok(Some("::1".to_string())));
    }

    #[test]
    fn ints_like_python() {
        assert_eq!(py_int("0x1f", "f"), Ok(31));
        assert_eq!(py_int("0x-5", "f"), Ok(-5));
        assert!(py_int("017", "f").is_err());
        assert_eq!(py_int(" 12 ", "f"), Ok(12));
        assert_eq!(py_hex(-5), "0x-5");
        assert_eq!(dev_text(dev_value(8, 1, false), false), "8:1");
        assert_eq!(dev_text(dev_value(300, 70000, true), true), "300:70000");
    }

    #[test]
    fn sizes_like_pycriu() {
        assert_eq!(size_text(0), "0B");
        assert_eq!(size_text(1023), "1023B");
        assert_eq!(size_text(4096), "4KB");
        assert_eq!(size_text(1536), "1.5KB");
        assert_eq!(size_text(3 << 20), "3MB");
        assert_eq!(size_text(u64::MAX), "16EB");
    }
}
