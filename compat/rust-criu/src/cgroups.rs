//! rust-criu's cgroup mode, and the core's for each.

/// How criu handles the tree's cgroups (`criu_cg_mode`), under rust-criu's
/// names. `NONE` is criu's `CG_NONE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgMode {
    IGNORE = 0,
    NONE = 1,
    PROPS = 2,
    SOFT = 3,
    FULL = 4,
    STRICT = 5,
    DEFAULT = 6,
}

impl CgMode {
    /// The mode with this `criu_cg_mode` number; unknown numbers give
    /// `DEFAULT`, as in rust-criu.
    #[allow(clippy::should_implement_trait)]
    pub fn from(value: i32) -> CgMode {
        match criu::options::CgMode::from_raw(value).unwrap_or(criu::options::CgMode::Default) {
            criu::options::CgMode::Ignore => CgMode::IGNORE,
            criu::options::CgMode::None => CgMode::NONE,
            criu::options::CgMode::Props => CgMode::PROPS,
            criu::options::CgMode::Soft => CgMode::SOFT,
            criu::options::CgMode::Full => CgMode::FULL,
            criu::options::CgMode::Strict => CgMode::STRICT,
            criu::options::CgMode::Default => CgMode::DEFAULT,
        }
    }

    /// The core's name for this mode (the numbers are criu's in both).
    pub(crate) fn to_core(self) -> criu::options::CgMode {
        criu::options::CgMode::from_raw(self as i32).expect("both enums list criu_cg_mode's values")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_unknown_is_default() {
        for n in 0..=6 {
            assert_eq!(CgMode::from(n) as i32, n);
            assert_eq!(CgMode::from(n).to_core() as i32, n);
        }
        assert_eq!(CgMode::from(42), CgMode::DEFAULT);
        assert_eq!(CgMode::from(-1), CgMode::DEFAULT);
    }
}
