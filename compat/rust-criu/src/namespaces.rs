//! The key an external namespace goes by.

/// The label under which an external namespace of kind `name` (`net`,
/// `pid`, ...) is declared at dump (`net[INODE]:LABEL`) and handed back at
/// restore as an inherit-fd key: `extRoot`, the kind with its first letter
/// upper-cased, `NS` (`extRootNetNS`), the names runc and crun use.
pub fn criu_ns_to_key(name: &str) -> String {
    let mut letters = name.chars();
    let first: String = letters.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    format!("extRoot{first}{}NS", letters.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_runc() {
        assert_eq!(criu_ns_to_key("net"), "extRootNetNS");
        assert_eq!(criu_ns_to_key("pid"), "extRootPidNS");
        assert_eq!(criu_ns_to_key(""), "extRootNS");
        // The label must pass the core's inherit-key check unchanged.
        assert!(criu::ids::validate_inherit_key(&criu_ns_to_key("net")).is_ok());
    }
}
