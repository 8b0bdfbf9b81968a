//! rust-criu's error enum, and the one conversion from the core's errors.

use std::fmt;

use crate::rust_criu_protobuf::rpc::Criu_req_type;

/// Why a call failed: rust-criu 0.6.1's variants, with the cause criu gave
/// carried in [`CriuError::RpcFailed`]'s `message`.
#[derive(Debug)]
pub enum CriuError {
    /// The socket pair to criu could not be created.
    SocketPair(std::io::Error),
    /// The criu binary could not be started.
    Spawn { path: String, source: std::io::Error },
    /// Talking to criu failed: a message could not be sent or received, a
    /// reply did not decode, was too large, or did not come in time.
    Io(std::io::Error),
    /// Kept for rust-criu's API; this crate encodes and decodes messages in
    /// the core and never returns it.
    Protobuf(protobuf::Error),
    /// criu ran the request and reported failure. `resp_type` is the
    /// response type (`"DUMP"`, ...), `cr_errno` criu's errno (0 when it
    /// sent none), `message` criu's own error message and the error lines of
    /// its log file (when a log file was named), which name the cause.
    RpcFailed { resp_type: String, cr_errno: i32, message: String },
    /// criu answered with a response of another type than the request's.
    UnexpectedResponse(String),
    /// The notify callback returned this nonzero value; criu was told to
    /// stop and the call failed.
    NotifyFailed(i32),
    /// An argument was refused before criu was started.
    InvalidArgument(String),
    /// criu's version does not fit in a `u32`.
    VersionParse,
}

impl fmt::Display for CriuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CriuError::SocketPair(e) => write!(f, "socketpair failed: {e}"),
            CriuError::Spawn { path, source } => write!(f, "failed to spawn criu binary at {path:?}: {source}"),
            CriuError::Io(e) => write!(f, "{e}"),
            CriuError::Protobuf(e) => write!(f, "{e}"),
            CriuError::RpcFailed { resp_type, cr_errno, message } => {
                write!(f, "criu failed: type {resp_type:?} errno {cr_errno}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            CriuError::UnexpectedResponse(t) => write!(f, "unexpected CRIU RPC response ({t:?})"),
            CriuError::NotifyFailed(v) => write!(f, "notify callback failed with {v}"),
            CriuError::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            CriuError::VersionParse => write!(f, "failed to parse CRIU version"),
        }
    }
}

impl std::error::Error for CriuError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CriuError::SocketPair(e) | CriuError::Spawn { source: e, .. } | CriuError::Io(e) => Some(e),
            CriuError::Protobuf(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for CriuError {
    fn from(e: std::io::Error) -> Self {
        CriuError::Io(e)
    }
}

impl From<protobuf::Error> for CriuError {
    fn from(e: protobuf::Error) -> Self {
        CriuError::Protobuf(e)
    }
}

impl CriuError {
    /// The rust-criu error for a core failure of a `request` (a
    /// `Criu_req_type` number) sent to the criu binary at `criu_path`.
    pub(crate) fn from_core(error: criu::Error, request: Criu_req_type, criu_path: &str) -> CriuError {
        use criu::Error as E;
        let os_error =
            |errno: i32, what: String| std::io::Error::new(std::io::Error::from_raw_os_error(errno).kind(), what);
        match error {
            E::Rpc { cr_errno, cr_errmsg, log_errors } => CriuError::RpcFailed {
                resp_type: type_name(request as i32),
                cr_errno: cr_errno.unwrap_or(0),
                message: failure_text(cr_errmsg, log_errors),
            },
            // criu answers a request type it does not know with a failed
            // EMPTY response; rust-criu reports every failed response as
            // RpcFailed.
            E::Unsupported => CriuError::RpcFailed {
                resp_type: type_name(Criu_req_type::EMPTY as i32),
                cr_errno: 0,
                message: E::Unsupported.to_string(),
            },
            E::Connect { errno, what } if what.starts_with("socketpair") => {
                CriuError::SocketPair(os_error(errno, what))
            }
            // The raw errno is kept, so `source.kind()` says NotFound for a
            // missing binary, as with std::process::Command.
            E::Connect { errno, .. } => {
                CriuError::Spawn { path: criu_path.to_owned(), source: std::io::Error::from_raw_os_error(errno) }
            }
            E::Comm { errno, what } => CriuError::Io(os_error(errno, what)),
            E::UnexpectedResponse { got, .. } => CriuError::UnexpectedResponse(type_name(got)),
            E::InvalidArgument(why) => CriuError::InvalidArgument(why),
            E::Callback(value) => CriuError::NotifyFailed(value),
            E::NoMemory => CriuError::Io(std::io::ErrorKind::OutOfMemory.into()),
        }
    }
}

/// A request or response type as rust-criu prints it (`DUMP`), or its
/// number when the schema does not know it.
fn type_name(kind: i32) -> String {
    match <Criu_req_type as protobuf::Enum>::from_i32(kind) {
        Some(t) => format!("{t:?}"),
        None => kind.to_string(),
    }
}

/// criu's own message and its log's error lines, both when both are known:
/// the message is criu's first error, which is often not the cause.
fn failure_text(cr_errmsg: Option<String>, log_errors: Option<String>) -> String {
    let cr_errmsg = cr_errmsg.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty());
    match (cr_errmsg, log_errors) {
        (Some(msg), Some(log)) if log.contains(&msg) => format!("criu log: {log}"),
        (Some(msg), Some(log)) => format!("{msg} (criu log: {log})"),
        (Some(msg), None) => msg,
        (None, Some(log)) => format!("criu log: {log}"),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_failures_name_the_request_and_the_cause() {
        let core = criu::Error::Rpc {
            cr_errno: Some(3),
            cr_errmsg: Some("rlimit: Can't setup RLIMIT_NOFILE\n".into()),
            log_errors: Some("No process with such pid; Dumping FAILED.".into()),
        };
        let e = CriuError::from_core(core, Criu_req_type::DUMP, "criu");
        let text = e.to_string();
        assert!(text.starts_with("criu failed: type \"DUMP\" errno 3: rlimit"), "{text}");
        assert!(text.contains("criu log: No process with such pid"), "{text}");
        assert!(matches!(e, CriuError::RpcFailed { cr_errno: 3, .. }));
    }

    #[test]
    fn core_errors_map_to_rust_criu_variants() {
        let from = |e| CriuError::from_core(e, Criu_req_type::RESTORE, "/x/criu");
        let missing = from(criu::Error::Connect { errno: libc::ENOENT, what: "start /x/criu".into() });
        match missing {
            CriuError::Spawn { path, source } => {
                assert_eq!(path, "/x/criu");
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
        let pair = from(criu::Error::Connect { errno: libc::EMFILE, what: "socketpair: too many".into() });
        assert!(matches!(pair, CriuError::SocketPair(_)));
        assert!(matches!(from(criu::Error::Callback(-5)), CriuError::NotifyFailed(-5)));
        let timeout = from(criu::Error::Comm { errno: libc::ETIMEDOUT, what: "no answer in 5 ms".into() });
        match timeout {
            CriuError::Io(e) => {
                assert_eq!((e.kind(), e.to_string().as_str()), (std::io::ErrorKind::TimedOut, "no answer in 5 ms"))
            }
            other => panic!("{other:?}"),
        }
        let odd = from(criu::Error::UnexpectedResponse { expected: 2, got: Criu_req_type::DUMP as i32 });
        assert_eq!(odd.to_string(), "unexpected CRIU RPC response (\"DUMP\")");
        let empty = from(criu::Error::Unsupported);
        assert!(matches!(empty, CriuError::RpcFailed { ref resp_type, .. } if resp_type == "EMPTY"));
    }
}
