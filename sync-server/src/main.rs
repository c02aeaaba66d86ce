//! `tessera-server`: the command line over the library: `serve`, `demo`, `migrate`,
//! `print-config`, catalog admin (`event`, `ticket-type`), `comp`, `void`, `refund`, `keys`,
//! the gate devices (`device-code`, `devices`, `readiness`), vendor booths (`booth`),
//! accounts (`user`) and the database as a whole (`copy-db`, `backup`, `restore`).

mod cli;

fn main() -> anyhow::Result<()> {
    cli::main()
}
