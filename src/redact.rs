//! Secrets never reach a log or a message: a URL is printed with its password
//! replaced. Its own module so that any layer can use it without importing the
//! settings.

/// `url` with its password (if any) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
