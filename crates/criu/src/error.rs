//! One error type for every failure of the library, with the numeric
//! contract upstream libcriu documents in criu.h: the negative value a C
//! caller gets back and the `errno` it sees afterwards.

use std::fmt;

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// criu ran the request and reported failure. `cr_errno` is criu's own
    /// errno for the failure (when it sent one), `cr_errmsg` its first error
    /// message, and `log_errors` the last error lines of its log file (when
    /// the caller named one), which usually name the cause. C value:
    /// `-EBADE`, errno = `cr_errno` or 0.
    Rpc { cr_errno: Option<i32>, cr_errmsg: Option<String>, log_errors: Option<String> },
    /// criu could not be reached: the binary could not be started, or the
    /// service socket refused. `errno` is the system error. C: `-ECONNREFUSED`.
    Connect { errno: i32, what: String },
    /// A message could not be sent to or received from criu. C: `-ECOMM`.
    Comm { errno: i32, what: String },
    /// criu does not know this request type (it answered with an empty,
    /// failed response): it is probably too old. C: `-EINVAL`.
    Unsupported,
    /// criu answered with a response of another type than the request's.
    /// C: `-EBADMSG`.
    UnexpectedResponse { expected: i32, got: i32 },
    /// An argument was rejected before anything was sent. C: `-EINVAL`.
    InvalidArgument(String),
    /// A caller's callback (notify or dump-iteration) returned this nonzero
    /// value and the operation stopped; the value is handed back unchanged.
    Callback(i32),
    /// Memory could not be allocated. C: `-ENOMEM`.
    NoMemory,
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The (negative) return value upstream libcriu documents for this failure.
    pub fn return_value(&self) -> i32 {
        match self {
            Error::Rpc { .. } => -libc::EBADE,
            Error::Connect { .. } => -libc::ECONNREFUSED,
            Error::Comm { .. } => -libc::ECOMM,
            Error::Unsupported => -libc::EINVAL,
            Error::UnexpectedResponse { .. } => -libc::EBADMSG,
            Error::InvalidArgument(_) => -libc::EINVAL,
            Error::Callback(value) => *value,
            Error::NoMemory => -libc::ENOMEM,
        }
    }

    /// The `errno` a C caller sees after the failure, as upstream sets it:
    /// criu's own errno for RPC failures, the system error for transport
    /// failures, 0 where upstream leaves nothing.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Rpc { cr_errno, .. } => cr_errno.unwrap_or(0),
            Error::Connect { errno, .. } | Error::Comm { errno, .. } => *errno,
            Error::NoMemory => libc::ENOMEM,
            _ => 0,
        }
    }

    pub(crate) fn comm(what: &str, err: nix::Error) -> Error {
        Error::Comm { errno: err as i32, what: format!("{what}: {}", err.desc()) }
    }

    pub(crate) fn connect(what: &str, err: nix::Error) -> Error {
        Error::Connect { errno: err as i32, what: format!("{what}: {}", err.desc()) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Rpc { cr_errno, cr_errmsg, log_errors } => {
                write!(f, "criu reported failure")?;
                if let Some(msg) = log_errors.as_deref().or(cr_errmsg.as_deref()).filter(|m| !m.is_empty()) {
                    write!(f, ": {}", msg.trim_end())?;
                }
                if let Some(e) = cr_errno.filter(|e| *e != 0) {
                    write!(f, " (errno {e}: {})", nix::Error::from_raw(e).desc())?;
                }
                Ok(())
            }
            Error::Connect { what, .. } => write!(f, "cannot reach criu: {what}"),
            Error::Comm { what, .. } => write!(f, "cannot talk to criu: {what}"),
            Error::Unsupported => {
                write!(f, "criu does not support this request (it may be too old)")
            }
            Error::UnexpectedResponse { expected, got } => {
                write!(f, "criu answered a request of type {expected} with a response of type {got}")
            }
            Error::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Error::Callback(v) => write!(f, "a callback stopped the operation with {v}"),
            Error::NoMemory => write!(f, "out of memory"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_values_follow_criu_h() {
        let rpc = Error::Rpc { cr_errno: Some(libc::ESRCH), cr_errmsg: None, log_errors: None };
        assert_eq!(rpc.return_value(), -libc::EBADE);
        assert_eq!(rpc.errno(), libc::ESRCH);
        assert_eq!(Error::Rpc { cr_errno: None, cr_errmsg: None, log_errors: None }.errno(), 0);
        let conn = Error::Connect { errno: libc::ENOENT, what: String::new() };
        assert_eq!((conn.return_value(), conn.errno()), (-libc::ECONNREFUSED, libc::ENOENT));
        let comm = Error::Comm { errno: libc::EPIPE, what: String::new() };
        assert_eq!((comm.return_value(), comm.errno()), (-libc::ECOMM, libc::EPIPE));
        assert_eq!(Error::Unsupported.return_value(), -libc::EINVAL);
        let unexpected = Error::UnexpectedResponse { expected: 1, got: 3 };
        assert_eq!(unexpected.return_value(), -libc::EBADMSG);
        assert_eq!(Error::InvalidArgument("x".into()).return_value(), -libc::EINVAL);
        assert_eq!(Error::Callback(-7).return_value(), -7);
        assert_eq!(Error::NoMemory.return_value(), -libc::ENOMEM);
    }

    #[test]
    fn messages_name_the_cause() {
        let e =
            Error::Rpc { cr_errno: Some(libc::ESRCH), cr_errmsg: Some("No such process\n".into()), log_errors: None };
        let text = e.to_string();
        assert!(text.contains("No such process"), "{text}");
        assert!(text.contains("errno 3"), "{text}");
        let e = Error::Rpc { cr_errno: None, cr_errmsg: Some("rlimit".into()), log_errors: Some("ghost limit".into()) };
        assert!(e.to_string().contains("ghost limit"), "the log's cause wins over cr_errmsg");
    }
}
