//! Request parameters, parsed by hand from `application/x-www-form-urlencoded`
//! text so that nothing a request sends can make extraction fail, and so that
//! repeated parameters (forbidden by RFC 6749 §3.1 and §3.2) can be rejected.

/// The longest parameter value accepted (state, nonce, …).
pub(super) const MAX_VALUE_LEN: usize = 2048;

pub(super) struct Params(Vec<(String, String)>);

#[derive(Debug, PartialEq, Eq)]
pub(super) enum ParamError {
    Repeated(&'static str),
    TooLong(&'static str),
}

impl ParamError {
    pub(super) fn describe(&self) -> String {
        match self {
            ParamError::Repeated(name) => format!("the {name} parameter is repeated"),
            ParamError::TooLong(name) => format!("the {name} parameter is too long"),
        }
    }
}

impl Params {
    pub(super) fn parse(input: &[u8]) -> Self {
        Params(url::form_urlencoded::parse(input).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// The value of a parameter that may appear at most once. Parameters sent
    /// without a value count as omitted (RFC 6749 §3.1).
    pub(super) fn single(&self, name: &'static str) -> Result<Option<&str>, ParamError> {
        let mut found = None;
        for (k, v) in &self.0 {
            if k == name {
                if found.is_some() {
                    return Err(ParamError::Repeated(name));
                }
                found = Some(v.as_str());
            }
        }
        match found {
            Some(v) if v.len() > MAX_VALUE_LEN => Err(ParamError::TooLong(name)),
            Some("") | None => Ok(None),
            Some(v) => Ok(Some(v)),
        }
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (as used for the
/// client id and secret inside HTTP Basic credentials, RFC 6749 §2.3.1).
/// `None` when a percent escape is malformed or the result is not UTF-8.
pub(super) fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = hex_digit(*bytes.get(i + 1)?)?;
                let lo = hex_digit(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 7636 §4.1/§4.2: 43 to 128 characters from the unreserved set.
pub(super) fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_empty_parameters() {
        let p = Params::parse(b"a=1&b=&c=x&c=y");
        assert_eq!(p.single("a"), Ok(Some("1")));
        assert_eq!(p.single("b"), Ok(None));
        assert_eq!(p.single("missing"), Ok(None));
        assert_eq!(p.single("c"), Err(ParamError::Repeated("c")));
    }

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a%3Ab+c%25").as_deref(), Some("a:b c%"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%FF"), None);
    }

    #[test]
    fn pkce_strings() {
        assert!(is_pkce_string("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!is_pkce_string("short"));
        assert!(!is_pkce_string(&"a".repeat(129)));
        assert!(!is_pkce_string("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX="));
    }
}
