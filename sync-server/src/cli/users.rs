//! Accounts: `user create|role|list`.

use super::*;

#[derive(Debug, Subcommand)]
pub(super) enum UserCommand {
    /// Creates an account with a confirmed address. The password is read from the first
    /// line of stdin; with nothing on stdin a random one is made and printed once.
    Create {
        /// Email (the login).
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// attendee, vendor, gate_staff or organizer.
        #[arg(long, default_value = "attendee")]
        role: String,
    },
    /// Changes the role of an account.
    Role {
        /// The account's email.
        email: String,
        /// attendee, vendor, gate_staff or organizer.
        role: String,
    },
    /// Lists accounts, one JSON object per line.
    List,
}

/// The subcommands of this topic.
#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Accounts: create one with any role (organizers, gate staff), change a role, list.
    #[command(subcommand)]
    User(UserCommand),
}

/// Runs one subcommand of this topic.
pub(super) async fn run(settings: Settings, command: Command) -> Result<()> {
    match command {
        Command::User(UserCommand::Create { email, name, role }) => {
            // The first organizer is made on a fresh installation: `user create` creates the
            // database like `migrate` (every other admin command refuses a missing one).
            let store = open_store(&settings).await?;
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            let given = line.trim_end_matches(['\r', '\n']).to_owned();
            let (password, generated) = if given.is_empty() {
                (
                    accounts::new_token().map_err(|e| anyhow::anyhow!("{e}"))?[..24].to_owned(),
                    true,
                )
            } else {
                (given, false)
            };
            let email = Email::new(&email);
            app::orders::validate_contact(email.as_str(), name.trim())?;
            accounts::validate_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
            let hash = accounts::hash_password(password.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let id = store
                .create_user(&NewUser {
                    email: email.as_str().to_owned(),
                    name: name.trim().to_owned(),
                    password_hash: hash,
                    role: role.as_str().to_owned(),
                    verified: true,
                    now: chrono::Utc::now().timestamp(),
                })
                .await?;
            let mut out = json!({"id": id, "email": email.as_str(), "role": role.as_str()});
            if generated {
                out["password"] = json!(password);
            }
            println!("{out}");
        }
        Command::User(UserCommand::Role { email, role }) => {
            let store = admin_store(&settings).await?;
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let email = Email::new(&email);
            let Some(user) = store.user_by_email(email.as_str()).await? else {
                bail!("no account with email {email} (see `tessera-server user list`)");
            };
            store.set_role(user.id, role.as_str()).await?;
            println!(
                "{}",
                json!({"id": user.id, "email": email.as_str(), "role": role.as_str()})
            );
        }
        Command::User(UserCommand::List) => {
            let store = admin_store(&settings).await?;
            for u in store.users().await? {
                println!(
                    "{}",
                    json!({"id": u.id, "email": u.email, "name": u.name, "role": u.role,
                           "email_verified": u.email_verified_at.is_some(), "created_at": u.created_at})
                );
            }
        }
    }
    Ok(())
}
