//! Signing keys: `keys rotate`, `keys list`.

use super::*;

#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// Adds a new active signing key; older keys keep verifying until retired. Running
    /// servers pick it up within `keys_reload_ms` (30 seconds by default).
    Rotate,
    /// Lists the keys, one JSON object per line.
    List,
}

/// The subcommands of this topic.
#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// Runs one subcommand of this topic.
pub(super) async fn run(settings: Settings, command: Command) -> Result<()> {
    match command {
        Command::Keys(KeysCommand::Rotate) => {
            let store = admin_store(&settings).await?;
            let master = app::keys::MasterKey::load(&settings)?;
            app::keys::Keys::load_or_create(store.as_ref(), &master).await?;
            let id = app::keys::Keys::rotate(store.as_ref(), &master).await?;
            println!("{}", json!({"key_id": id, "status": "active"}));
        }
        Command::Keys(KeysCommand::List) => {
            let store = admin_store(&settings).await?;
            for k in store.signing_keys().await? {
                println!(
                    "{}",
                    json!({"key_id": k.id, "public_key": hex::encode(&k.public_key), "status": k.state.as_str()})
                );
            }
        }
    }
    Ok(())
}
