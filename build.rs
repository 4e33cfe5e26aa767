// `sqlx::migrate!` embeds the files of `migrations/`; without this, cargo does
// not notice a migration added to it and keeps a binary that lacks it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
