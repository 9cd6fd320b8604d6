//! The built site's file names. With `hash-files` cargo-leptos puts a hash of each file's
//! contents into its name (`latchkey.<hash>.css`) and lists the hashes in a file beside the
//! server binary; such names never change meaning, so browsers may keep them for good.

/// Where the pages find the bundle and the stylesheet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteFiles {
    pub script: String,
    pub wasm: String,
    pub stylesheet: String,
    /// The names carry their contents' hashes (so they may be cached for good).
    pub hashed: bool,
}

impl SiteFiles {
    /// `pkg`: the URL path of the site's package directory (`/pkg`); `name`: the output name;
    /// `plain_wasm`: the module's name without hashing; `hashes`: the hash file's text
    /// (`js: …`, `wasm: …`, `css: …` lines), if the build wrote one.
    pub fn new(pkg: &str, name: &str, plain_wasm: &str, hashes: Option<&str>) -> Self {
        let hash_of = |kind: &str| {
            hashes?.lines().find_map(|line| {
                let (file, hash) = line.split_once(':')?;
                (file.trim() == kind).then(|| hash.trim().to_string()).filter(|hash| !hash.is_empty())
            })
        };
        match (hash_of("js"), hash_of("wasm"), hash_of("css")) {
            (Some(js), Some(wasm), Some(css)) => SiteFiles {
                script: format!("{pkg}/{name}.{js}.js"),
                wasm: format!("{pkg}/{name}.{wasm}.wasm"),
                stylesheet: format!("{pkg}/{name}.{css}.css"),
                hashed: true,
            },
            _ => SiteFiles {
                script: format!("{pkg}/{name}.js"),
                wasm: format!("{pkg}/{plain_wasm}.wasm"),
                stylesheet: format!("{pkg}/{name}.css"),
                hashed: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn hashed_names_come_from_the_hash_file_and_plain_names_otherwise() {
        let hashes = "js: AbC\nwasm: dEf\ncss: x-_1\n";
        let hashed = SiteFiles::new("/pkg", "latchkey", "latchkey", Some(hashes));
        assert_eq!(hashed.script, "/pkg/latchkey.AbC.js");
        assert_eq!(hashed.wasm, "/pkg/latchkey.dEf.wasm");
        assert_eq!(hashed.stylesheet, "/pkg/latchkey.x-_1.css");
        assert!(hashed.hashed);

        let plain = SiteFiles::new("/pkg", "latchkey", "latchkey_bg", None);
        assert_eq!((plain.script.as_str(), plain.wasm.as_str()), ("/pkg/latchkey.js", "/pkg/latchkey_bg.wasm"));
        assert!(!plain.hashed);

        let incomplete = SiteFiles::new("/pkg", "latchkey", "latchkey", Some("js: AbC\n"));
        assert!(!incomplete.hashed, "a hash file without every name is not trusted");
    }
}
