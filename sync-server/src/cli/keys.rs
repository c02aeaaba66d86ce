//! Signing keys: `keys rotate`, `keys list`, `keys retire`, `keys reissue-all`.

use super::*;

#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// Adds a new active signing key; older keys keep verifying until retired. Running
    /// servers pick it up within `keys_reload_ms` (30 seconds by default).
    Rotate,
    /// Lists the keys, one JSON object per line.
    List,
    /// Retires a key: every ticket it signed is refused from then on (`retired_key`), by
    /// the gates from their next sync. The key that signs new tickets cannot be retired:
    /// rotate first. After a key leak: rotate, reissue, then retire (docs/operations.md).
    Retire {
        /// The key id (see `keys list`).
        key_id: i64,
    },
    /// Reissues every valid ticket an older key signed under the current key and emails
    /// each holder the new code (the key-compromise drill's middle step, after `rotate` and
    /// before `retire`); prints one JSON object. Run again, it reissues only what is left.
    ReissueAll,
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
        Command::Keys(KeysCommand::Retire { key_id }) => {
            let store = admin_store(&settings).await?;
            app::keys::Keys::retire(store.as_ref(), key_id).await?;
            println!("{}", json!({"key_id": key_id, "status": "retired"}));
        }
        Command::Keys(KeysCommand::ReissueAll) => {
            // The running server's worker sends the emails (this process may end first).
            let mut settings = settings;
            settings.email.worker = false;
            let state = admin_services(settings).await?;
            let done = app::tickets::reissue_all(&state).await?;
            println!("{}", serde_json::to_string(&done)?);
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
