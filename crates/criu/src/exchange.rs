//! One request, its notifications, one answer: how every operation talks
//! to criu. [`crate::ops`] and [`crate::migrate`] build requests and read
//! the answers; this module opens the connection (as the options say),
//! sends the request, answers each notification on the way (the library's
//! own hook first, then the caller's callback) and checks that the answer
//! is the one asked for and says success.

use std::os::fd::OwnedFd;

use prost::Message;

use crate::criu_log;
use crate::error::{Error, Result};
use crate::notify::Notification;
use crate::options::{Options, Service};
use crate::rpc::{CriuOpts, CriuReq, CriuReqType, CriuResp};
use crate::service::{Connection, Launch};

/// A request of type `kind` carrying `opts` (criu reads its options from
/// the request; WAIT_PID and notification answers carry none).
pub(crate) fn request(kind: CriuReqType, opts: Option<CriuOpts>) -> CriuReq {
    CriuReq { r#type: kind as i32, opts, ..Default::default() }
}

/// What the library itself does at a notification, before the caller's
/// callback sees it (saving tmp files at `post-dump`). An error fails the
/// operation with it.
pub(crate) type Hook<'a> = &'a mut dyn FnMut(&Notification) -> Result<()>;

/// The hook of requests that need none.
pub(crate) fn no_hook(_: &Notification) -> Result<()> {
    Ok(())
}

/// Send `req` and read responses until the one that answers it, handing
/// notifications to `hook` and then the caller's callback on the way.
pub(crate) fn exchange(conn: &mut Connection, opts: &mut Options, req: &CriuReq, hook: Hook) -> Result<CriuResp> {
    conn.send(req)?;
    let resp = loop {
        let received = conn.recv()?;
        if received.response.r#type != CriuReqType::Notify as i32 {
            break received.response;
        }
        answer_notification(conn, opts, received.response, received.fd, hook)?;
    };
    if resp.r#type != answer_type(req.r#type) {
        if resp.r#type == CriuReqType::Empty as i32 && !resp.success {
            return Err(Error::Unsupported);
        }
        return Err(Error::UnexpectedResponse { expected: req.r#type, got: resp.r#type });
    }
    if !resp.success {
        let log_errors = req.opts.as_ref().and_then(criu_log::log_path).and_then(|p| criu_log::error_summary(&p));
        return Err(Error::Rpc { cr_errno: resp.cr_errno, cr_errmsg: resp.cr_errmsg.clone(), log_errors });
    }
    Ok(resp)
}

/// [`exchange`] for clients that judge criu's answer themselves: the first
/// datagram that is not a notification comes back as criu sent it, whatever
/// its type or success, even when it does not decode; no bytes when criu
/// closed the connection instead (pycriu reads that as an empty answer).
pub(crate) fn exchange_bytes(conn: &mut Connection, opts: &mut Options, req: &CriuReq) -> Result<Vec<u8>> {
    conn.send(req)?;
    loop {
        let (bytes, fd) = conn.recv_bytes()?;
        match CriuResp::decode(&bytes[..]) {
            Ok(resp) if resp.r#type == CriuReqType::Notify as i32 => {
                answer_notification(conn, opts, resp, fd, &mut no_hook)?
            }
            _ => return Ok(bytes),
        }
    }
}

/// Hand a notification to `hook`, then to the caller's callback, and tell
/// criu whether to go on.
fn answer_notification(
    conn: &mut Connection,
    opts: &mut Options,
    resp: CriuResp,
    fd: Option<OwnedFd>,
    hook: Hook,
) -> Result<()> {
    let info = resp.notify.unwrap_or_default();
    let note = Notification::new(info.script.unwrap_or_default(), info.pid, fd);
    if let Err(e) = hook(&note) {
        let nack = CriuReq { r#type: CriuReqType::Notify as i32, notify_success: Some(false), ..Default::default() };
        let _ = conn.send(&nack);
        return Err(e);
    }
    // The callback is lent the options, so it is taken out of them for the
    // call and put back unless it installed another one.
    let verdict = match opts.notify.take() {
        Some(mut callback) => {
            let verdict = callback(&note, opts);
            if opts.notify.is_none() {
                opts.notify = Some(callback);
            }
            verdict
        }
        None => 0,
    };
    drop(note);
    let ack = CriuReq { r#type: CriuReqType::Notify as i32, notify_success: Some(verdict == 0), ..Default::default() };
    let sent = conn.send(&ack);
    if verdict != 0 {
        return Err(Error::Callback(verdict));
    }
    sent
}

/// The response type criu answers a request type with: its own, except
/// PAGE_SERVER_CHLD, which criu answers as PAGE_SERVER.
fn answer_type(request: i32) -> i32 {
    if request == CriuReqType::PageServerChld as i32 {
        CriuReqType::PageServer as i32
    } else {
        request
    }
}

/// Open a connection for a request with these options, after checking
/// what criu would skip silently (see [`check_config_file`]).
pub(crate) fn connect(opts: &mut Options, service: &Service, rpc: &CriuOpts, launch: Launch) -> Result<Connection> {
    if matches!(service, Service::Binary(_)) {
        check_config_file(rpc)?;
    }
    open(opts, service, rpc, launch)
}

/// Open a connection to `service` for a request with these options,
/// checking nothing: for clients that build their requests themselves. A
/// criu the library starts is placed as `launch` says; unless it is a
/// daemon's, it gets the descriptors of `inherit_fd` entries even when the
/// caller opened them close-on-exec.
pub(crate) fn open(opts: &mut Options, service: &Service, rpc: &CriuOpts, launch: Launch) -> Result<Connection> {
    let inherited: Vec<i32> = rpc.inherit_fd.iter().map(|i| i.fd).collect();
    let conn = Connection::open(service, launch, &inherited, opts.reply_timeout)?;
    if matches!(service, Service::Fd(_)) {
        // The connection now owns (and will close) the caller's socket: a
        // later request must not use that number, which may by then name
        // some other file of the caller.
        opts.service = Service::Fd(-1);
    }
    Ok(conn)
}

/// criu skips a configuration file it cannot open without a word and runs
/// the request with the options alone, so a typo in the path would go
/// unnoticed. A criu the library starts sees the caller's files (and working
/// directory), so the file is opened here first; a service criu may live
/// elsewhere, and its files are its own business.
fn check_config_file(rpc: &CriuOpts) -> Result<()> {
    let Some(path) = rpc.config_file.as_deref() else { return Ok(()) };
    std::fs::File::open(path).map(drop).map_err(|e| {
        Error::InvalidArgument(format!("config file {path}: {e} (criu would ignore it and run without it)"))
    })
}

/// One request on a fresh connection.
pub(crate) fn call(opts: &mut Options, req: CriuReq, launch: Launch) -> Result<CriuResp> {
    call_with(opts, req, launch, &mut no_hook)
}

/// [`call`] with a hook that sees each notification before the caller's
/// callback does.
pub(crate) fn call_with(opts: &mut Options, req: CriuReq, launch: Launch, hook: Hook) -> Result<CriuResp> {
    let service = opts.service.clone();
    let mut conn = match &req.opts {
        Some(rpc) => connect(opts, &service, rpc, launch)?,
        None => connect(opts, &service, &CriuOpts::default(), launch)?,
    };
    exchange(&mut conn, opts, &req, hook)
}

/// The error for an answer of criu that lacks `what`.
pub(crate) fn missing(what: &str) -> Error {
    Error::Comm { errno: libc::EBADMSG, what: format!("criu's answer has no {what}") }
}
