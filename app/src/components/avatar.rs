use leptos::prelude::*;

/// A round profile picture, or the person's initials when there is none.
#[component]
pub fn Avatar(
    /// Display name: used for the alt text and the initials.
    #[prop(into)]
    name: Signal<String>,
    /// Picture URL (only http(s) URLs are shown).
    picture: Option<String>,
    /// Seed for the initials' background colour (e.g. the user id).
    #[prop(into, optional)]
    seed: String,
) -> impl IntoView {
    match picture.filter(|p| is_web_url(p)) {
        Some(src) => view! {
            <img
                class="avatar"
                src=src
                alt=move || format!("Profile picture of {}", name.get())
                width="96"
                height="96"
                referrerpolicy="no-referrer"
                decoding="async"
            />
        }
        .into_any(),
        None => {
            // A class, not a `style` attribute: the Content-Security-Policy allows no inline style.
            let hue = hue_for(if seed.is_empty() { "latchkey" } else { &seed });
            view! {
                <span
                    class=format!("avatar avatar--initials avatar--hue-{hue}")
                    role="img"
                    aria-label=move || format!("Initials of {}", name.get())
                >
                    <span aria-hidden="true">{move || initials(&name.get())}</span>
                </span>
            }
            .into_any()
        }
    }
}

/// Up to two initials, uppercase: "Ada Lovelace" → "AL", "ada" → "A".
pub fn initials(name: &str) -> String {
    let letters: String = name
        .split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    if letters.is_empty() { "?".to_string() } else { letters }
}

/// One of the twelve hues of `style/main.css` (`.avatar--hue-0` … `-11`).
fn hue_for(seed: &str) -> u32 {
    // FNV-1a: stable across server and browser.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in seed.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % 12
}

/// An http(s) URL: the only pictures shown.
pub fn is_web_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_initials() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("ada"), "A");
        assert_eq!(initials("  jean-luc  de la  Rue "), "JD");
        assert_eq!(initials("   "), "?");
        assert_eq!(initials("élodie"), "É");
    }

    #[test]
    fn only_web_pictures() {
        assert!(is_web_url("https://example.com/a.png"));
        assert!(!is_web_url("javascript:alert(1)"));
    }
}
