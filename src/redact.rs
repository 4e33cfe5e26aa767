//! Secrets never reach a log or a message: a URL is printed with its password
//! and its secret query parameters (`token`, `key`, `password`, …) replaced.
//! Its own module so that any layer can use it without importing the
//! settings.

const MASK: &str = "***";
/// A query parameter whose name contains one of these holds a secret.
const SECRET_PARAMS: [&str; 7] = ["token", "key", "pass", "secret", "auth", "sig", "session"];

/// Whether a query parameter named so holds a secret (also used by the
/// access audit's request summaries).
pub fn secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|s| n.contains(s))
}

/// `url` with its password (if any) and secret query values replaced by
/// `***`, whatever its scheme, even when it does not parse as a URL.
pub fn redact_url(url: &str) -> String {
    if let Ok(mut u) = url::Url::parse(url)
        && (u.password().is_none() || u.set_password(Some(MASK)).is_ok())
    {
        if u.query_pairs().any(|(k, _)| secret_param(&k)) {
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let v = if secret_param(&k) {
                        MASK.into()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            u.query_pairs_mut().clear().extend_pairs(pairs);
        }
        return u.to_string();
    }
    redact_by_hand(url)
}

/// For what the URL parser refuses (several hosts, odd schemes): the text
/// between `://` and the last `@` before the path is user info; what follows
/// its first `:` is the password. Secret query values are replaced as well.
fn redact_by_hand(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            let auth_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(auth_end);
            match authority.rsplit_once('@') {
                Some((user_info, host)) => {
                    let user = user_info.split_once(':').map_or(user_info, |(u, _)| u);
                    let masked = if user_info.contains(':') {
                        format!("{user}:{MASK}")
                    } else {
                        user.to_owned()
                    };
                    format!("{scheme}://{masked}@{host}{path}")
                }
                None => head.to_owned(),
            }
        }
        None => head.to_owned(),
    };
    if let Some(q) = query {
        let pairs: Vec<String> = q
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if secret_param(k) => format!("{k}={MASK}"),
                _ => p.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_secret_parameters_are_hidden_whatever_the_scheme() {
        for (url, want) in [
            (
                "postgres://tthc:s3cret@db:5432/tthc",
                "postgres://tthc:***@db:5432/tthc",
            ),
            (
                "https://u:p%40ss@mc.example.vn/api",
                "https://u:***@mc.example.vn/api",
            ),
            (
                "ftp://user:hunter2@files.example.vn/x",
                "ftp://user:***@files.example.vn/x",
            ),
            (
                "mongodb://u:pw@h1:1,h2:2/db",
                "mongodb://u:***@h1:1,h2:2/db",
            ),
            ("tcp://u:pw@[::1", "tcp://u:***@[::1"),
            (
                "https://igate.example.vn/pa?token=abc123&page=1",
                "https://igate.example.vn/pa?token=***&page=1",
            ),
            ("http://h/x?api_key=k&x=1", "http://h/x?api_key=***&x=1"),
            ("sqlite://tthc-watch.db", "sqlite://tthc-watch.db"),
            (
                "https://public.example.vn/api",
                "https://public.example.vn/api",
            ),
        ] {
            let got = redact_url(url);
            assert_eq!(got, want, "{url}");
            for secret in ["s3cret", "p%40ss", "hunter2", "abc123", "pw@", "=k&"] {
                assert!(!got.contains(secret), "{url} -> {got}");
            }
        }
    }
}
