/// Where a sign-in goes when it did not say.
pub const DEFAULT_RETURN_TO: &str = "/profile";

/// Only same-origin relative paths are followed after sign-in; anything else goes to the
/// default. `//evil.example`, `/\evil.example`, `https://…` and control characters are refused.
pub fn safe_return_to(requested: Option<&str>) -> String {
    let Some(path) = requested else { return DEFAULT_RETURN_TO.to_string() };
    let acceptable = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 1024
        && !path.chars().any(|c| c.is_control() || c == '\\');
    if acceptable { path.to_string() } else { DEFAULT_RETURN_TO.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_kept() {
        assert_eq!(safe_return_to(Some("/profile?tab=1")), "/profile?tab=1");
        assert_eq!(safe_return_to(Some("/")), "/");
    }

    #[test]
    fn off_site_targets_fall_back_to_the_default() {
        for evil in
            ["https://evil.example/", "//evil.example", "/\\evil.example", "evil", "/ok\n", "javascript:alert(1)", ""]
        {
            assert_eq!(safe_return_to(Some(evil)), DEFAULT_RETURN_TO, "{evil:?}");
        }
        assert_eq!(safe_return_to(None), DEFAULT_RETURN_TO);
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2048))]

            /// Whatever a request asks for, a browser following the answer stays on this site.
            #[test]
            fn no_return_to_leads_off_site(requested in prop_oneof![
                any::<String>(),
                "[/\\\\]{0,3}[a-z.:@%0-9]{0,20}[/?#]?.{0,10}",
                "(https?:|javascript:|data:)?//?[^/]{0,10}/.{0,10}",
            ]) {
                let site = url::Url::parse("https://latchkey.example/").expect("a URL");
                let kept = safe_return_to(Some(&requested));
                let landed = site.join(&kept).expect("a path joins onto the site");
                prop_assert_eq!(landed.origin(), site.origin(), "{:?} → {:?} → {}", requested, kept, landed);
                prop_assert!(kept == requested || kept == DEFAULT_RETURN_TO);
            }
        }
    }
}
