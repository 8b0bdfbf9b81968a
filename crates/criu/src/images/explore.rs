//! `crit x DIR ps|fds|mems|rss`: a dump's process tree, descriptors,
//! memory areas and resident pages, as text in crit's exact layout, built
//! from the same dicts crit reads. The directory is read through
//! [`super::container`].

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::codec::{invalid, R};
use super::container::ImagesDir;
use super::image_dict::decode;

/// What `crit x` can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Explore {
    /// The process tree: pid, pgid, sid, command.
    Ps,
    /// Each task's descriptors, cwd and root.
    Fds,
    /// Each task's memory areas.
    Mems,
    /// Each task's dumped pages against its memory areas.
    Rss,
}

impl Explore {
    /// From crit's word for it (`ps`, `fds`, `mems`, `rss`).
    pub fn from_name(name: &str) -> Option<Explore> {
        Some(match name {
            "ps" => Explore::Ps,
            "fds" => Explore::Fds,
            "mems" => Explore::Mems,
            "rss" => Explore::Rss,
            _ => return None,
        })
    }
}

/// The text `crit x dir what` prints.
pub fn explore(dir: &Path, what: Explore) -> R<String> {
    let dir = ImagesDir::open_existing(dir)?;
    let mut x = Explorer { dir, files: None, by_image: HashMap::new(), names: HashMap::new(), out: String::new() };
    match what {
        Explore::Ps => x.ps()?,
        Explore::Fds => x.fds()?,
        Explore::Mems => x.mems()?,
        Explore::Rss => x.rss()?,
    }
    Ok(x.out)
}

struct Explorer {
    dir: ImagesDir,
    /// files.img's entries (empty when there is none).
    files: Option<Vec<Value>>,
    /// Entries of the per-kind images of older dumps, by image name.
    by_image: HashMap<&'static str, Vec<Value>>,
    /// Names already worked out, by (type, id).
    names: HashMap<(String, u64), String>,
    out: String,
}

fn get<'v>(v: &'v Value, key: &str) -> R<&'v Value> {
    v.get(key).ok_or_else(|| invalid(format!("an entry without {key}")))
}

fn num(v: &Value, key: &str) -> R<u64> {
    get(v, key)?.as_u64().ok_or_else(|| invalid(format!("{key} is not a number")))
}

fn text<'v>(v: &'v Value, key: &str) -> R<&'v str> {
    get(v, key)?.as_str().ok_or_else(|| invalid(format!("{key} is not text")))
}

/// A page run's length in pages, read as criu reads it: `nr_pages` when
/// present, otherwise `compat_nr_pages`, the only count criu up to 4.1
/// wrote (crit 4.2.1 asks for `nr_pages` alone and fails on those dumps).
fn run_pages(pm: &Value) -> R<u64> {
    if pm.get("nr_pages").is_some() {
        num(pm, "nr_pages")
    } else {
        num(pm, "compat_nr_pages")
    }
}

/// criu's `task_state` of a zombie (compel's `COMPEL_TASK_DEAD`).
const TASK_DEAD: u64 = 2;

fn entries(image: Value) -> Vec<Value> {
    match image {
        Value::Object(mut m) => match m.remove("entries") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// crit's `get_task_id`: the field, or the first of its `ns_` list.
fn task_id(p: &Value, key: &str) -> R<u64> {
    match p.get(key) {
        Some(v) => v.as_u64().ok_or_else(|| invalid(format!("{key} is not a number"))),
        None => {
            get(p, &format!("ns_{key}"))?.get(0).and_then(Value::as_u64).ok_or_else(|| invalid(format!("no {key}")))
        }
    }
}

impl Explorer {
    fn load(&self, name: &str) -> R<Vec<Value>> {
        let data = self.dir.read_existing(name)?;
        decode(&data, false, false).map(entries).map_err(|e| invalid(format!("{name}: {e}")))
    }

    fn first(&self, name: &str) -> R<Value> {
        self.load(name)?.into_iter().next().ok_or_else(|| invalid(format!("{name} has no entry")))
    }

    /// Whether `pid` was dumped as a zombie (its core says so; criu writes
    /// no other image of it).
    fn zombie(&self, pid: u64) -> R<bool> {
        let core = self.first(&format!("core-{pid}.img"))?;
        Ok(num(get(&core, "tc")?, "task_state")? == TASK_DEAD)
    }

    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn pstree(&self) -> R<Vec<(u64, Value)>> {
        self.load("pstree.img")?.into_iter().map(|p| Ok((task_id(&p, "pid")?, p))).collect()
    }

    fn ps(&mut self) -> R<()> {
        let tasks = self.pstree()?;
        let mut comm = HashMap::new();
        let mut kids: HashMap<u64, Vec<u64>> = HashMap::new();
        let mut root = None;
        for (pid, _) in &tasks {
            let core = self.first(&format!("core-{pid}.img"))?;
            comm.insert(*pid, text(get(&core, "tc")?, "comm")?.to_string());
            kids.entry(*pid).or_default();
        }
        for (pid, p) in &tasks {
            let ppid = num(p, "ppid")?;
            if ppid == 0 {
                root = Some(*pid);
                continue;
            }
            kids.get_mut(&ppid)
                .ok_or_else(|| invalid(format!("parent {ppid} of {pid} is not in the tree")))?
                .push(*pid);
        }
        self.line(&format!("{:>7}{:>7}{:>7}   {}", "PID", "PGID", "SID", "COMM"));
        let by_pid: HashMap<u64, &Value> = tasks.iter().map(|(pid, p)| (*pid, p)).collect();
        let mut stack = match root {
            Some(r) => vec![(r, 0usize)],
            None => return Err(invalid("no task without a parent")),
        };
        while let Some((pid, depth)) = stack.pop() {
            let p = by_pid[&pid];
            self.line(&format!(
                "{:>7}{:>7}{:>7}   {}{}",
                pid,
                task_id(p, "pgid")?,
                task_id(p, "sid")?,
                " ".repeat(4 * depth),
                comm[&pid]
            ));
            for kid in kids[&pid].iter().rev() {
                stack.push((*kid, depth + 1));
            }
        }
        Ok(())
    }

    /// crit's `get_file_str`: a descriptor's file by type and id.
    fn file_str(&mut self, kind: &str, id: u64) -> R<String> {
        let key = (kind.to_string(), id);
        if let Some(name) = self.names.get(&key) {
            return Ok(name.clone());
        }
        let (field, image) = match kind {
            "REG" => ("reg", "reg-files.img"),
            "PIPE" => ("pipe", "pipes.img"),
            "UNIXSK" => ("usk", "unixsk.img"),
            _ => {
                let name = format!("{kind}.{id}");
                self.names.insert(key, name.clone());
                return Ok(name);
            }
        };
        let found = self.find(field, image, id)?;
        let name = match (kind, found) {
            ("REG", Some(f)) => {
                f.get("name").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or("unknown path").to_string()
            }
            ("REG", None) => "unknown path".to_string(),
            ("PIPE", Some(f)) => format!("pipe[{}]", num(&f, "pipe_id")?),
            ("PIPE", None) => "pipe[?]".to_string(),
            (_, Some(f)) => {
                let name = text(&f, "name")?;
                let name = if name.is_empty() { String::new() } else { format!(" {name}") };
                format!("unix[{} ({}){}]", num(&f, "ino")?, num(&f, "peer")?, name)
            }
            (_, None) => "unix[?]".to_string(),
        };
        self.names.insert(key, name.clone());
        Ok(name)
    }

    /// The file `id` in files.img (its `field` part), or in the per-kind
    /// `image` of dumps made before files.img.
    fn find(&mut self, field: &str, image: &'static str, id: u64) -> R<Option<Value>> {
        if self.files.is_none() {
            self.files = Some(self.load("files.img").unwrap_or_default());
        }
        let files = self.files.as_deref().unwrap_or_default();
        if !files.is_empty() {
            if let Some(f) = files.iter().find(|f| f.get("id").and_then(Value::as_u64) == Some(id)) {
                return Ok(f.get(field).cloned());
            }
        }
        if !self.by_image.contains_key(image) {
            let loaded = self.load(image)?;
            self.by_image.insert(image, loaded);
        }
        Ok(self.by_image[image].iter().find(|f| f.get("id").and_then(Value::as_u64) == Some(id)).cloned())
    }

    /// Each task of pstree.img in its order: its pid on a line, then, for a
    /// live task, what `show` prints of it. A zombie (criu writes only its
    /// core) has no descriptors, cwd, root or memory left: its pid stands
    /// alone, where crit 4.2.1 crashes looking for its ids or mm image.
    fn each_task(&mut self, mut show: impl FnMut(&mut Self, u64) -> R<()>) -> R<()> {
        for (pid, _) in self.pstree()? {
            self.line(&pid.to_string());
            if !self.zombie(pid)? {
                show(self, pid)?;
            }
        }
        Ok(())
    }

    fn fds(&mut self) -> R<()> {
        self.each_task(|x, pid| {
            let ids = x.first(&format!("ids-{pid}.img"))?;
            let fdinfo = x.load(&format!("fdinfo-{}.img", num(&ids, "files_id")?))?;
            for fd in &fdinfo {
                let name = x.file_str(text(fd, "type")?, num(fd, "id")?)?;
                x.line(&format!("\t{:>7}: {}", num(fd, "fd")?, name));
            }
            let fs = x.first(&format!("fs-{pid}.img"))?;
            for (what, key) in [("cwd", "cwd_id"), ("root", "root_id")] {
                let name = x.file_str("REG", num(&fs, key)?)?;
                x.line(&format!("\t{what:>7}: {name}"));
            }
            Ok(())
        })
    }

    fn mems(&mut self) -> R<()> {
        let mut vids: HashMap<u64, u64> = HashMap::new();
        let mut vid = |id: u64| {
            let next = vids.len() as u64 + 1;
            *vids.entry(id).or_insert(next)
        };
        self.each_task(|x, pid| {
            let mm = x.first(&format!("mm-{pid}.img"))?;
            let exe = x.file_str("REG", num(&mm, "exe_file_id")?)?;
            x.line(&format!("\t{:<36}    {}", "exe", exe));
            let empty = Vec::new();
            for vma in mm.get("vmas").and_then(Value::as_array).unwrap_or(&empty) {
                let st = num(vma, "status")?;
                let mut name = if st & (1 << 10) != 0 {
                    format!(" ips[{:x}]", vid(num(vma, "shmid")?))
                } else if st & (1 << 8) != 0 {
                    format!(" shmem[{:x}]", vid(num(vma, "shmid")?))
                } else if st & (1 << 11) != 0 {
                    format!(" packet[{:x}]", vid(num(vma, "shmid")?))
                } else if st & ((1 << 6) | (1 << 7)) != 0 {
                    let mut n = format!(" {}", x.file_str("REG", num(vma, "shmid")?)?);
                    let pgoff = num(vma, "pgoff")?;
                    if pgoff != 0 {
                        n += &format!(" + {pgoff:#x}");
                    }
                    if st & (1 << 7) != 0 {
                        n += " (s)";
                    }
                    n
                } else if st & (1 << 1) != 0 {
                    " [stack]".to_string()
                } else if st & (1 << 2) != 0 {
                    " [vsyscall]".to_string()
                } else if st & (1 << 3) != 0 {
                    " [vdso]".to_string()
                } else if num(vma, "flags")? & 0x0100 != 0 {
                    " [stack?]".to_string()
                } else {
                    String::new()
                };
                if st & 1 == 0 {
                    name += " *";
                }
                let prot = num(vma, "prot")?;
                let rwx: String =
                    [(1, 'r'), (2, 'w'), (4, 'x')].iter().map(|&(b, c)| if prot & b != 0 { c } else { '-' }).collect();
                let range = format!("{:08x}-{:08x}", num(vma, "start")?, num(vma, "end")?);
                x.line(&format!("\t{range:<36}{rwx}{name}"));
            }
            Ok(())
        })
    }

    fn rss(&mut self) -> R<()> {
        self.each_task(|x, pid| {
            let mm = x.first(&format!("mm-{pid}.img"))?;
            let vmas = mm.get("vmas").and_then(Value::as_array).cloned().unwrap_or_default();
            let pms = x.load(&format!("pagemap-{pid}.img"))?;
            // Indexes as crit's Python has them: -1 is the last area.
            let n = vmas.len() as i64;
            let at = |i: i64| {
                let j = if i < 0 { n + i } else { i };
                usize::try_from(j)
                    .ok()
                    .and_then(|j| vmas.get(j))
                    .ok_or_else(|| invalid("pages outside every memory area"))
            };
            let mut vmi: i64 = 0;
            let mut pvmi: Option<i64> = None;
            for pm in pms.iter().skip(1) {
                let vaddr = num(pm, "vaddr")?;
                let nr = run_pages(pm)?;
                let pstr = format!("\t{vaddr:x} / {nr:<8}");
                while vmi < n && num(at(vmi)?, "end")? <= vaddr {
                    vmi += 1;
                }
                let pme = vaddr.wrapping_add(nr << 12);
                let mut vstr = String::new();
                while vmi < n && num(at(vmi)?, "start")? < pme {
                    let vma = at(vmi)?;
                    if pvmi == Some(vmi) {
                        vstr += " ~";
                    } else {
                        let (start, end) = (num(vma, "start")?, num(vma, "end")?);
                        vstr += &format!(" {start:08x} / {:<8}", end.wrapping_sub(start) >> 12);
                        if num(vma, "status")? & ((1 << 6) | (1 << 7)) != 0 {
                            vstr += &format!(" {}", x.file_str("REG", num(vma, "shmid")?)?);
                        }
                        pvmi = Some(vmi);
                    }
                    vstr += &format!("\n\t{:23}", "");
                    vmi += 1;
                }
                vmi -= 1;
                x.line(&format!("{pstr:<24}{vstr}"));
            }
            Ok(())
        })
    }
}
