//! The names pycriu gives numbers in a "pretty" dict: the bit names of
//! its flags tables (a field's `(criu).flags`: memory protections, mapping
//! flags, VMA status, open flags, pagemap flags, memfd seals) and the value
//! names of its dict tables (`(criu).dict`: task states, socket families,
//! types, states and protocols). The values are criu's and the kernel's.

use super::text::py_hex;

/// The bit names of pycriu's flags tables.
pub fn flags_table(name: &str) -> Option<&'static [(&'static str, u64)]> {
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
pub fn flags_text(value: i128, bits: &[(&str, u64)]) -> String {
    let mut parts: Vec<String> = bits.iter().filter(|b| value & b.1 as i128 != 0).map(|b| b.0.to_string()).collect();
    let rest = value & !bits.iter().map(|b| b.1 as i128).sum::<i128>();
    if rest != 0 {
        parts.push(py_hex(rest));
    }
    parts.join(" | ")
}

/// The value names of pycriu's dict tables, by table and field name.
pub fn dict_table(table: &str, field: &str) -> Option<&'static [(u32, &'static str)]> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_like_pycriu() {
        assert_eq!(flags_text(0x3 | 0x40, flags_table("mmap.prot").unwrap()), "PROT_READ | PROT_WRITE | 0x40");
        assert_eq!(flags_text(0, flags_table("mmap.prot").unwrap()), "");
        assert_eq!(dict_table("sk", "family").unwrap()[1], (2, "INET"));
        assert!(flags_table("no.such").is_none());
    }
}
