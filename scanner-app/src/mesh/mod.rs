//! The venue mesh (ADR 0024): long-running gates keep each other current directly, with
//! no server, whenever they share a network.
//!
//! - **Discovery:** multicast DNS (`_tessera-gate._tcp`), and a configured list of peers for
//!   networks that block multicast.
//! - **Membership:** a peer proves itself with its certificate (its device key signed by a
//!   server key in this gate's keyring, for this event, not revoked, and the key the server
//!   lists for it) and a signature over the session's transcript ([`session`]).
//! - **Exchange:** each side sends what it holds per device as a version vector (highest
//!   `seq`, count); the other answers with the signed check-ins missing. New scans are
//!   pushed to every peer at once. A received check-in is kept only when its device's
//!   signature verifies, so a relaying peer can neither forge nor change one.
//!
//! Everything runs on threads of its own, each with its own connection to `device.db` and
//! the replica; the scan path only hands the mesh the signed bytes of each new check-in.
//! Other gates' check-ins are committed to `device.db` before they count, so a killed gate
//! loses none of them.

mod held;
pub mod session;

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tessera_core::mesh::{CERTIFICATE_LEN, MeshError, VerifiedDevice, hex32, verify_certificate};

pub use held::{Held, HeldScan, SignedRow};
use session::{Keyed, Role, Sender, SessionError, key_exchange};

use crate::{Error, Scanner};

/// The multicast DNS service type gates announce.
pub const SERVICE: &str = "_tessera-gate._tcp.local.";
/// The setting the running mesh keeps its peers in, for `tessera-scan status`.
pub(crate) const STATUS_KEY: &str = "mesh_status";
/// How often each side sends its version vector (and the status is written).
const TICK: Duration = Duration::from_secs(2);
/// A peer silent this long is gone.
const SILENT: Duration = Duration::from_secs(15);
/// At most this many sessions at once.
const MAX_SESSIONS: usize = 64;
/// At most this many connections still proving themselves at once, each way (a stranger
/// opening connections by the thousand gets no more threads than this).
const MAX_HANDSHAKES: usize = 16;
/// The longest a connection may take to prove itself, however slowly it sends.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// At most this many services found by multicast DNS are dialed.
const MAX_DISCOVERED: usize = 64;
/// Check-ins sent in answer to one version vector, per device, at most.
const ANSWER_LIMIT: u32 = 5_000;

/// How a gate joins the mesh.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// Where to listen for peers (port 0: any free port).
    pub listen: SocketAddr,
    /// Peers to dial (`host:port`), for networks without multicast.
    pub peers: Vec<String>,
    /// Announce and browse by multicast DNS.
    pub mdns: bool,
}

/// A peer this gate is in touch with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    /// Its device id.
    pub device_id: String,
    /// Its name, as the server lists it or as it says.
    pub name: String,
    /// Its address.
    pub address: String,
    /// Since when.
    pub since: DateTime<Utc>,
}

/// The mesh's state as `status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeshStatus {
    /// Where this gate listens, while its mesh runs.
    pub listening: Option<String>,
    /// How many gates it is in touch with.
    pub in_touch: usize,
    /// Which.
    pub peers: Vec<PeerStatus>,
    /// Check-ins of other gates held here.
    pub held: u64,
    /// Of which the server has not confirmed yet (this gate carries them up when it can).
    pub unrelayed: u64,
    /// Peers refused (bad, revoked or superseded certificates, failed handshakes).
    pub refused: u64,
    /// Received check-ins dropped because their signature did not verify.
    pub dropped: u64,
    /// When the running mesh last wrote this.
    pub updated_at: Option<DateTime<Utc>>,
    /// What keeps this gate off the mesh, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// One message inside a session.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Msg {
    /// Who I am: certificate, signature over the transcript, my name.
    Auth {
        certificate: Vec<u8>,
        signature: Vec<u8>,
        name: String,
    },
    /// What I hold.
    Hello(Vec<Held>),
    /// A device's certificate, before its relayed check-ins.
    Certificate(Vec<u8>),
    /// A signed check-in.
    CheckIn(Vec<u8>),
}

impl Msg {
    fn encode(&self) -> Vec<u8> {
        match self {
            Msg::Auth {
                certificate,
                signature,
                name,
            } => {
                let mut out = vec![1];
                out.extend_from_slice(certificate);
                out.extend_from_slice(signature);
                let name = name.as_bytes();
                out.extend_from_slice(name.get(..name.len().min(200)).unwrap_or(&[]));
                out
            }
            Msg::Hello(held) => {
                let mut out = Vec::with_capacity(3 + held.len() * 32);
                out.push(2);
                let n = held.len().min(usize::from(u16::MAX));
                out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
                for h in held.iter().take(n) {
                    out.extend_from_slice(&h.device);
                    out.extend_from_slice(&h.max_seq.to_be_bytes());
                    out.extend_from_slice(&h.count.to_be_bytes());
                }
                out
            }
            Msg::Certificate(c) => [&[3u8][..], c].concat(),
            Msg::CheckIn(c) => [&[4u8][..], c].concat(),
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, SessionError> {
        let bad = SessionError::Protocol("a malformed message");
        let (&kind, rest) = bytes.split_first().ok_or(bad)?;
        match kind {
            1 if rest.len() >= CERTIFICATE_LEN + 64 => {
                let (certificate, rest) = rest.split_at(CERTIFICATE_LEN);
                let (signature, name) = rest.split_at(64);
                Ok(Msg::Auth {
                    certificate: certificate.to_vec(),
                    signature: signature.to_vec(),
                    name: String::from_utf8_lossy(name).into_owned(),
                })
            }
            2 if rest.len() >= 2 => {
                let (n, mut rest) = rest.split_at(2);
                let n = usize::from(u16::from_be_bytes([n[0], n[1]]));
                if rest.len() != n * 32 {
                    return Err(SessionError::Protocol("a malformed message"));
                }
                let mut held = Vec::with_capacity(n);
                while let Some((entry, tail)) = rest.split_first_chunk::<32>() {
                    let mut device = [0u8; 16];
                    device.copy_from_slice(&entry[..16]);
                    let mut max = [0u8; 8];
                    max.copy_from_slice(&entry[16..24]);
                    let mut count = [0u8; 8];
                    count.copy_from_slice(&entry[24..]);
                    held.push(Held {
                        device,
                        max_seq: u64::from_be_bytes(max),
                        count: u64::from_be_bytes(count),
                    });
                    rest = tail;
                }
                Ok(Msg::Hello(held))
            }
            3 if rest.len() == CERTIFICATE_LEN => Ok(Msg::Certificate(rest.to_vec())),
            4 if rest.len() > 17 => Ok(Msg::CheckIn(rest.to_vec())),
            _ => Err(SessionError::Protocol("a malformed message")),
        }
    }
}

/// One live session.
struct Conn {
    id: u64,
    peer: [u8; 16],
    name: String,
    address: SocketAddr,
    /// Dialed by this gate (to `address`).
    dialed: bool,
    since: DateTime<Utc>,
    sender: Arc<Mutex<Sender>>,
}

struct Shared {
    dir: PathBuf,
    me: [u8; 16],
    name: String,
    /// This gate's certificate, read again every tick (a sync may renew it).
    certificate: Mutex<Vec<u8>>,
    listening: SocketAddr,
    conns: Mutex<Vec<Conn>>,
    next_id: AtomicU64,
    /// Addresses known to be a given peer (or this gate itself), so they are not dialed again.
    owners: Mutex<HashMap<SocketAddr, [u8; 16]>>,
    /// Addresses being dialed now.
    dialing: Mutex<HashSet<SocketAddr>>,
    /// Addresses multicast DNS found, by service instance (forgotten when it goes).
    discovered: Mutex<HashMap<String, Vec<SocketAddr>>>,
    /// Signs this gate's handshakes and checks peers' before any session has a database
    /// connection of its own (a stranger costs no more than this).
    gatekeeper: Mutex<Scanner>,
    refused: AtomicU64,
    dropped: AtomicU64,
    /// Accepted connections not through their handshake yet.
    handshakes: std::sync::atomic::AtomicUsize,
    /// Bytes written on every session, for the benchmark.
    bytes: AtomicU64,
    /// Held while the status is read and written: sessions start and end on their own
    /// threads, and a write computed before another session's must not land after it.
    status: Mutex<()>,
    stop: AtomicBool,
}

/// A running mesh node. Dropping it stops it.
pub struct Mesh {
    shared: Arc<Shared>,
    push: mpsc::Sender<Vec<u8>>,
    mdns: Option<mdns_sd::ServiceDaemon>,
}

impl Mesh {
    /// Joins the mesh: listens, dials the configured peers and those multicast DNS finds,
    /// and exchanges check-ins with every peer that proves itself. Needs an enrolled device
    /// (its certificate) and an event.
    pub fn start(dir: &Path, config: &MeshConfig) -> Result<Self, Error> {
        let mut scanner = Scanner::open(dir)?;
        let event = scanner.event_id().ok_or(Error::NotProvisioned)?;
        let identity = scanner
            .device()
            .identity()
            .cloned()
            .ok_or(Error::NoIdentity)?;
        let me = tessera_core::mesh::parse_device_id(&identity.device_id).ok_or_else(|| {
            Error::Mesh("this device's id is not 32 hex digits: enroll it again".into())
        })?;
        let certificate = scanner.device().certificate()?.ok_or_else(|| {
            Error::Mesh(
                "this device has no certificate: enroll it with the server (`tessera-scan enroll`) to join the mesh"
                    .into(),
            )
        })?;
        // Our own certificate must pass what peers will check.
        let keyring = scanner.keyring().cloned().unwrap_or_default();
        verify_certificate(&certificate, &keyring, event)
            .map_err(|e| Error::Mesh(format!("this device's certificate: {e}")))?;
        let listener = TcpListener::bind(config.listen)?;
        let listening = listener.local_addr()?;
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            me,
            name: identity.name.clone(),
            certificate: Mutex::new(certificate),
            listening,
            conns: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            owners: Mutex::new(HashMap::new()),
            dialing: Mutex::new(HashSet::new()),
            discovered: Mutex::new(HashMap::new()),
            gatekeeper: Mutex::new(scanner),
            refused: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            handshakes: std::sync::atomic::AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
            status: Mutex::new(()),
            stop: AtomicBool::new(false),
        });
        let mdns = if config.mdns {
            start_mdns(&shared, event.0).ok()
        } else {
            None
        };
        let s = Arc::clone(&shared);
        std::thread::spawn(move || accept_loop(&s, &listener));
        let s = Arc::clone(&shared);
        let peers = config.peers.clone();
        std::thread::spawn(move || dial_loop(&s, &peers));
        let s = Arc::clone(&shared);
        std::thread::spawn(move || tick_loop(&s));
        let (push, rx) = mpsc::channel::<Vec<u8>>();
        let s = Arc::clone(&shared);
        std::thread::spawn(move || push_loop(&s, &rx));
        Ok(Self { shared, push, mdns })
    }

    /// Pushes this gate's new check-in (its signed bytes) to every peer, without waiting.
    pub fn push(&self, signed: Vec<u8>) {
        let _ = self.push.send(signed);
    }

    /// Where this gate listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.listening
    }

    /// The peers in touch now.
    pub fn peers(&self) -> Vec<PeerStatus> {
        peers_of(&self.shared)
    }

    /// Bytes written to peers so far (frames, headers and tags included).
    pub fn bytes_sent(&self) -> u64 {
        self.shared.bytes.load(Ordering::Relaxed)
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(d) = self.mdns.take() {
            let _ = d.shutdown();
        }
        for c in lock(&self.shared.conns).iter() {
            lock(&c.sender).shutdown();
        }
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.shared.listening, Duration::from_millis(200));
        // Sessions still ending see `stop` under this lock and leave the status alone.
        let _writing = lock(&self.shared.status);
        if let Ok(mut s) = Scanner::open(&self.shared.dir) {
            let _ = s.device().set_setting(STATUS_KEY, "{}");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn peers_of(shared: &Shared) -> Vec<PeerStatus> {
    let mut seen = HashSet::new();
    let mut out: Vec<PeerStatus> = lock(&shared.conns)
        .iter()
        .filter(|c| seen.insert(c.peer))
        .map(|c| PeerStatus {
            device_id: hex32(&c.peer),
            name: c.name.clone(),
            address: c.address.to_string(),
            since: c.since,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn start_mdns(shared: &Arc<Shared>, event: u32) -> Result<mdns_sd::ServiceDaemon, mdns_sd::Error> {
    let daemon = mdns_sd::ServiceDaemon::new()?;
    let me = hex32(&shared.me);
    let event = event.to_string();
    let info = mdns_sd::ServiceInfo::new(
        SERVICE,
        &me,
        &format!("{me}.local."),
        "",
        shared.listening.port(),
        &[("event", event.as_str())][..],
    )?
    .enable_addr_auto();
    daemon.register(info)?;
    let events = daemon.browse(SERVICE)?;
    let s = Arc::clone(shared);
    std::thread::spawn(move || {
        while let Ok(ev) = events.recv() {
            if s.stop.load(Ordering::Relaxed) {
                return;
            }
            match ev {
                mdns_sd::ServiceEvent::ServiceResolved(found) => {
                    let instance = found.fullname.split('.').next().unwrap_or("");
                    if instance == me || found.get_property_val_str("event") != Some(event.as_str())
                    {
                        continue;
                    }
                    let mut d = lock(&s.discovered);
                    // Anyone can announce: a bounded number of services is dialed.
                    if d.len() >= MAX_DISCOVERED && !d.contains_key(&found.fullname) {
                        continue;
                    }
                    let addrs = found
                        .get_addresses_v4()
                        .into_iter()
                        .take(4)
                        .map(|ip| SocketAddr::new(ip.into(), found.get_port()))
                        .collect();
                    d.insert(found.fullname.clone(), addrs);
                }
                mdns_sd::ServiceEvent::ServiceRemoved(_, fullname) => {
                    lock(&s.discovered).remove(&fullname);
                }
                _ => {}
            }
        }
    });
    Ok(daemon)
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(stream) = stream else { continue };
        if lock(&shared.conns).len() >= MAX_SESSIONS {
            continue;
        }
        if shared.handshakes.fetch_add(1, Ordering::AcqRel) >= MAX_HANDSHAKES {
            shared.handshakes.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        let s = Arc::clone(shared);
        // A machine out of threads drops the connection; it never stops the gate.
        let spawned = std::thread::Builder::new().spawn(move || {
            let address = stream.peer_addr().ok();
            if let Some(address) = address {
                run_session(&s, stream, Role::Listener, address);
            } else {
                s.handshakes.fetch_sub(1, Ordering::AcqRel);
            }
        });
        if spawned.is_err() {
            shared.handshakes.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn dial_loop(shared: &Arc<Shared>, peers: &[String]) {
    let mut last_try: HashMap<SocketAddr, Instant> = HashMap::new();
    while !shared.stop.load(Ordering::Relaxed) {
        let mut targets: Vec<SocketAddr> = peers
            .iter()
            .filter_map(|p| p.to_socket_addrs().ok())
            .flatten()
            .collect();
        targets.extend(lock(&shared.discovered).values().flatten().copied());
        for target in targets {
            if target == shared.listening {
                continue;
            }
            let owner = lock(&shared.owners).get(&target).copied();
            let connected = {
                let conns = lock(&shared.conns);
                conns
                    .iter()
                    .any(|c| (c.dialed && c.address == target) || Some(c.peer) == owner)
            };
            let dialing = lock(&shared.dialing);
            if connected
                || owner == Some(shared.me)
                || dialing.contains(&target)
                || dialing.len() >= MAX_HANDSHAKES
            {
                continue;
            }
            drop(dialing);
            if last_try
                .get(&target)
                .is_some_and(|t| t.elapsed() < Duration::from_secs(2))
            {
                continue;
            }
            last_try.insert(target, Instant::now());
            lock(&shared.dialing).insert(target);
            let s = Arc::clone(shared);
            let spawned = std::thread::Builder::new().spawn(move || {
                if let Ok(stream) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) {
                    run_session(&s, stream, Role::Dialer, target);
                }
                lock(&s.dialing).remove(&target);
            });
            if spawned.is_err() {
                lock(&shared.dialing).remove(&target);
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Every tick: each session gets this gate's version vector, peers whose certificate the
/// replica now refuses are dropped, and the status is written for `tessera-scan status`.
fn tick_loop(shared: &Arc<Shared>) {
    let Ok(mut scanner) = Scanner::open(&shared.dir) else {
        return;
    };
    while !shared.stop.load(Ordering::Relaxed) {
        let _ = scanner.reload();
        // The gatekeeper judges new peers on what the replica says now (revocations).
        let _ = lock(&shared.gatekeeper).reload();
        if let Ok(Some(cert)) = scanner.device().certificate() {
            *lock(&shared.certificate) = cert;
        }
        if let Ok(held) = scanner.device().held() {
            let hello = Msg::Hello(held).encode();
            let conns: Vec<(u64, [u8; 16], Arc<Mutex<Sender>>)> = lock(&shared.conns)
                .iter()
                .map(|c| (c.id, c.peer, Arc::clone(&c.sender)))
                .collect();
            for (_, peer, sender) in conns {
                // The organizer may have revoked a connected peer since it joined, or retired
                // the key that signed its certificate.
                let still_trusted = matches!(
                    scanner.device().peer_certificate(&peer),
                    Ok(Some(cert)) if scanner.trust_peer(&cert).is_ok()
                );
                let mut s = lock(&sender);
                if !still_trusted || send(shared, &mut s, &hello).is_err() {
                    s.shutdown();
                }
            }
        }
        write_status(shared, &mut scanner);
        std::thread::sleep(TICK);
    }
}

fn write_status(shared: &Shared, scanner: &mut Scanner) {
    let _writing = lock(&shared.status);
    if shared.stop.load(Ordering::Relaxed) {
        return;
    }
    let status = MeshStatus {
        listening: Some(shared.listening.to_string()),
        in_touch: 0,
        peers: peers_of(shared),
        held: 0,
        unrelayed: 0,
        refused: shared.refused.load(Ordering::Relaxed),
        dropped: shared.dropped.load(Ordering::Relaxed),
        updated_at: Some(Utc::now()),
        problem: None,
    };
    if let Ok(json) = serde_json::to_string(&status) {
        let _ = scanner.device().set_setting(STATUS_KEY, &json);
    }
}

fn push_loop(shared: &Arc<Shared>, rx: &mpsc::Receiver<Vec<u8>>) {
    while let Ok(signed) = rx.recv() {
        let frame = Msg::CheckIn(signed).encode();
        let senders: Vec<Arc<Mutex<Sender>>> = lock(&shared.conns)
            .iter()
            .map(|c| Arc::clone(&c.sender))
            .collect();
        for sender in senders {
            let mut s = lock(&sender);
            if send(shared, &mut s, &frame).is_err() {
                s.shutdown();
            }
        }
    }
}

fn send(shared: &Shared, sender: &mut Sender, frame: &[u8]) -> Result<(), SessionError> {
    let before = sender.bytes;
    let r = sender.send(frame);
    shared
        .bytes
        .fetch_add(sender.bytes - before, Ordering::Relaxed);
    r
}

/// Why a session ended before it began.
enum Refusal {
    Io,
    Untrusted,
}

fn run_session(shared: &Arc<Shared>, stream: TcpStream, role: Role, address: SocketAddr) {
    let mut counted = role == Role::Listener;
    let mut proven = || {
        if std::mem::take(&mut counted) {
            shared.handshakes.fetch_sub(1, Ordering::AcqRel);
        }
    };
    if let Err(Refusal::Untrusted) = session(shared, stream, role, address, &mut proven) {
        shared.refused.fetch_add(1, Ordering::Relaxed);
    }
    proven();
}

/// One session from key exchange to close; `proven` is called once the peer proved itself
/// (or failed to).
fn session(
    shared: &Arc<Shared>,
    stream: TcpStream,
    role: Role,
    address: SocketAddr,
    proven: &mut dyn FnMut(),
) -> Result<(), Refusal> {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    // One deadline for the whole handshake: a peer that trickles its bytes is cut off. The
    // watchdog ends as soon as the handshake does, either way (`through` dropped), so it
    // lives no longer than the handshake it guards.
    let (through, watchdog) = mpsc::channel::<()>();
    if let Ok(watched) = stream.try_clone() {
        // Without a thread to spare, the per-read timeouts still bound each read.
        let _ = std::thread::Builder::new().spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = watchdog.recv_timeout(HANDSHAKE_DEADLINE)
            {
                let _ = watched.shutdown(std::net::Shutdown::Both);
            }
        });
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|_| Refusal::Io)?;
    let Keyed {
        transcript,
        mut sender,
        mut receiver,
    } = key_exchange(stream, role, secret).map_err(|e| match e {
        SessionError::Io(_) => Refusal::Io,
        SessionError::Protocol(_) => Refusal::Untrusted,
    })?;
    let auth = Msg::Auth {
        certificate: lock(&shared.certificate).clone(),
        signature: lock(&shared.gatekeeper)
            .device()
            .signer()
            .map_err(|_| Refusal::Io)?
            .sign_handshake(role.byte(), &transcript)
            .to_vec(),
        name: shared.name.clone(),
    }
    .encode();
    // The dialer proves itself first; the listener answers only a peer it trusts.
    if role == Role::Dialer {
        sender.send(&auth).map_err(|_| Refusal::Io)?;
    }
    let frame = receiver.recv().map_err(|e| match e {
        SessionError::Io(_) => Refusal::Io,
        SessionError::Protocol(_) => Refusal::Untrusted,
    })?;
    let (peer, peer_certificate, name) = match Msg::decode(&frame) {
        Ok(Msg::Auth {
            certificate,
            signature,
            name,
        }) => {
            let peer = lock(&shared.gatekeeper)
                .trust_peer(&certificate)
                .map_err(|_| Refusal::Untrusted)?;
            peer.verify_handshake(role.peer().byte(), &transcript, &signature)
                .map_err(|_| Refusal::Untrusted)?;
            (peer, certificate, name)
        }
        _ => return Err(Refusal::Untrusted),
    };
    proven();
    let peer_id = peer.claims().device;
    if peer_id == shared.me {
        lock(&shared.owners).insert(address, shared.me);
        return Ok(());
    }
    if role == Role::Listener {
        sender.send(&auth).map_err(|_| Refusal::Io)?;
    }
    drop(through);
    let mut scanner = Scanner::open(&shared.dir).map_err(|_| Refusal::Io)?;
    let name: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
    let _ = scanner
        .device()
        .remember_peer(&peer_id, &peer_certificate, &name);
    let name = scanner.device_name(&hex32(&peer_id));
    let _ = receiver.stream().set_read_timeout(Some(SILENT));
    if role == Role::Dialer {
        // Known before the session is kept or not: a session the other side's is preferred
        // to must not make this gate dial the same address again.
        lock(&shared.owners).insert(address, peer_id);
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let sender = Arc::new(Mutex::new(sender));
    let sent_certificates = Arc::new(Mutex::new(HashSet::from([shared.me, peer_id])));
    if !register(
        shared,
        Conn {
            id,
            peer: peer_id,
            name,
            address,
            dialed: role == Role::Dialer,
            since: Utc::now(),
            sender: Arc::clone(&sender),
        },
    ) {
        lock(&sender).shutdown();
        return Ok(());
    }
    write_status(shared, &mut scanner);
    // Our vector first: the peer answers with what we lack.
    if let Ok(held) = scanner.device().held() {
        let _ = send(shared, &mut lock(&sender), &Msg::Hello(held).encode());
    }
    let mut exchange = Exchange {
        shared,
        scanner: &mut scanner,
        peer,
        peer_certificate,
        sender: &sender,
        sent_certificates: &sent_certificates,
        certificates: HashMap::new(),
        repair: HashMap::new(),
        repaired: HashMap::new(),
    };
    while !shared.stop.load(Ordering::Relaxed) {
        let Ok(frame) = receiver.recv() else { break };
        if exchange.handle(&frame).is_err() {
            break;
        }
    }
    lock(&sender).shutdown();
    lock(&shared.conns).retain(|c| c.id != id);
    write_status(shared, &mut scanner);
    Ok(())
}

/// Adds a session, unless one with the same peer is preferred: of two sessions between the
/// same gates, both keep the one the lower device id dialed.
fn register(shared: &Shared, conn: Conn) -> bool {
    let mut conns = lock(&shared.conns);
    let preferred_dialer = shared.me.min(conn.peer);
    let dialer = |c: &Conn| if c.dialed { shared.me } else { c.peer };
    if let Some(i) = conns.iter().position(|c| c.peer == conn.peer) {
        let old = &conns[i];
        let keep_old = dialer(old) != dialer(&conn) && dialer(old) == preferred_dialer;
        if keep_old {
            return false;
        }
        lock(&old.sender).shutdown();
        conns.remove(i);
    }
    conns.push(conn);
    true
}

struct Exchange<'a> {
    shared: &'a Shared,
    scanner: &'a mut Scanner,
    /// The peer at the other end, and its certificate's bytes.
    peer: VerifiedDevice,
    peer_certificate: Vec<u8>,
    sender: &'a Arc<Mutex<Sender>>,
    sent_certificates: &'a Arc<Mutex<HashSet<[u8; 16]>>>,
    /// Certificates of other devices received in this session, verified.
    certificates: HashMap<[u8; 16], (VerifiedDevice, Vec<u8>)>,
    /// Where a device's hole repair goes on from (the last `seq` sent), per device.
    repair: HashMap<[u8; 16], u64>,
    /// The peer's count for a device when a full repair pass ended: the same count again
    /// means the peer keeps none of them (it refuses that device), so they are not resent.
    repaired: HashMap<[u8; 16], u64>,
}

impl Exchange<'_> {
    fn handle(&mut self, frame: &[u8]) -> Result<(), SessionError> {
        match Msg::decode(frame)? {
            Msg::Hello(theirs) => {
                // Keys and devices the last sync brought count for what arrives next.
                let _ = self.scanner.reload();
                self.answer(&theirs)
            }
            Msg::Certificate(bytes) => {
                if let Ok(device) = self.scanner.trust_peer(&bytes) {
                    self.certificates
                        .insert(device.claims().device, (device, bytes));
                }
                Ok(())
            }
            Msg::CheckIn(signed) => {
                self.receive(&signed);
                Ok(())
            }
            Msg::Auth { .. } => Err(SessionError::Protocol("a second handshake")),
        }
    }

    /// Sends what the peer's vector shows it lacks.
    fn answer(&mut self, theirs: &[Held]) -> Result<(), SessionError> {
        let Ok(mine) = self.scanner.device().held() else {
            return Ok(());
        };
        let their: HashMap<[u8; 16], Held> = theirs.iter().map(|h| (h.device, *h)).collect();
        for h in mine {
            if h.device == self.peer.claims().device {
                continue;
            }
            let (after, hole) = match their.get(&h.device) {
                None => (0, None),
                Some(t) if t.max_seq >= h.max_seq && t.count >= h.count => continue,
                // The peer misses some below its highest: send them all again from the start
                // (it keeps each once), a batch a round, going on where the last ended.
                Some(t) => match self.scanner.device().held_upto(&h.device, t.max_seq) {
                    Ok(n) if n > t.count => {
                        if self.repaired.get(&h.device) == Some(&t.count) {
                            continue;
                        }
                        (
                            self.repair.get(&h.device).copied().unwrap_or(0),
                            Some(t.count),
                        )
                    }
                    _ => (t.max_seq, None),
                },
            };
            let Ok(rows) = self
                .scanner
                .device()
                .signed_after(&h.device, after, ANSWER_LIMIT)
            else {
                continue;
            };
            if let Some(count) = hole {
                match rows.last() {
                    Some((seq, _)) if rows.len() == ANSWER_LIMIT as usize => {
                        self.repair.insert(h.device, *seq);
                    }
                    _ => {
                        self.repair.remove(&h.device);
                        self.repaired.insert(h.device, count);
                    }
                }
            }
            if rows.is_empty() {
                continue;
            }
            self.ensure_certificate(&h.device)?;
            let mut s = lock(self.sender);
            for (_, signed) in rows {
                send(self.shared, &mut s, &Msg::CheckIn(signed).encode())?;
            }
        }
        Ok(())
    }

    /// Sends a relayed device's certificate once per session.
    fn ensure_certificate(&mut self, device: &[u8; 16]) -> Result<(), SessionError> {
        if lock(self.sent_certificates).contains(device) {
            return Ok(());
        }
        let Ok(Some(cert)) = self.scanner.device().peer_certificate(device) else {
            return Ok(());
        };
        send(
            self.shared,
            &mut lock(self.sender),
            &Msg::Certificate(cert).encode(),
        )?;
        lock(self.sent_certificates).insert(*device);
        Ok(())
    }

    /// Verifies and holds one signed check-in; a bad one is dropped and counted.
    fn receive(&mut self, signed: &[u8]) {
        let Some(device) = signed.get(1..17).and_then(|d| <[u8; 16]>::try_from(d).ok()) else {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if device == self.shared.me {
            return;
        }
        let found = if device == self.peer.claims().device {
            Some((self.peer.clone(), self.peer_certificate.clone()))
        } else if let Some((d, c)) = self.certificates.get(&device) {
            Some((d.clone(), c.clone()))
        } else {
            // A device whose certificate an earlier session brought.
            self.scanner
                .device()
                .peer_certificate(&device)
                .ok()
                .flatten()
                .and_then(|c| self.scanner.trust_peer(&c).ok().map(|d| (d, c)))
        };
        let Some((verified, certificate)) = found else {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match verified.verify_check_in(signed) {
            Ok(record) => {
                let new = self
                    .scanner
                    .device()
                    .hold(&record, signed, &certificate, Utc::now());
                if let (Ok(true), Some((ticket, _))) = (new, record.ticket) {
                    let _ = self.scanner.judge_held_ticket(ticket);
                }
            }
            Err(_) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl Scanner {
    /// Checks a peer's certificate against this gate's keyring and event, and against what the
    /// server last said of the device: refused when it is revoked, or when the server holds
    /// another key for it (it was enrolled again).
    pub fn trust_peer(&self, certificate: &[u8]) -> Result<VerifiedDevice, MeshError> {
        let event = self
            .event_id()
            .ok_or(MeshError::Malformed("no event on this gate"))?;
        let keyring = self
            .keyring()
            .ok_or(MeshError::Malformed("no keyring on this gate"))?;
        let device = verify_certificate(certificate, keyring, event)?;
        if !self.peer_allowed(&device.device_id()) {
            return Err(MeshError::BadSignature);
        }
        // The server lists the device: only its current certified key is good (enrolled
        // again with another key, or with none, the old certificate is dead).
        if let Ok(Some(known)) = self.replica_ref().device(&device.device_id())
            && known.public_key.as_deref() != Some(&device.claims().device_key[..])
        {
            return Err(MeshError::BadSignature);
        }
        Ok(device)
    }

    /// A device's name: as the server lists it, else as it said in its handshake, else the
    /// start of its id.
    pub fn device_name(&self, device_id: &str) -> String {
        if let Ok(Some(d)) = self.replica_ref().device(device_id) {
            return d.name;
        }
        self.device_ref()
            .peer_name(device_id)
            .ok()
            .flatten()
            .unwrap_or_else(|| format!("gate {}", device_id.get(..8).unwrap_or(device_id)))
    }

    /// Whether the replica lets this device on the mesh (not revoked).
    pub fn peer_allowed(&self, device_id: &str) -> bool {
        !matches!(self.replica_ref().device(device_id), Ok(Some(d)) if d.revoked)
    }

    /// The mesh's state for `status`: what the running mesh wrote (peers count only while
    /// it is fresh), and the held check-ins.
    pub fn mesh_status(&mut self, now: DateTime<Utc>) -> Result<MeshStatus, Error> {
        let mut status: MeshStatus = self
            .device()
            .setting(STATUS_KEY)?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        let fresh = status
            .updated_at
            .is_some_and(|t| (now - t).num_milliseconds() < (3 * TICK).as_millis() as i64);
        if !fresh {
            status.peers.clear();
            status.listening = None;
        }
        status.in_touch = status.peers.len();
        (status.held, status.unrelayed) = self.device().held_counts()?;
        status.problem = match (self.device().certificate()?, self.keyring(), self.event_id()) {
            (None, ..) => Some(
                "no certificate: enroll this device with the server to join the venue mesh".into(),
            ),
            (Some(cert), Some(keyring), Some(event)) => verify_certificate(&cert, keyring, event)
                .err()
                .map(|e| {
                    format!(
                        "this device's certificate no longer verifies ({e}): enroll it again to rejoin the venue mesh"
                    )
                }),
            _ => None,
        };
        Ok(status)
    }

    /// Entries the mesh's check-ins show were let in twice (or on a replaced code), as
    /// judged when they arrived ([`Scanner::judge_held_ticket`]): what every gate of a
    /// healed partition shows before the server is back. Newest first, at most 200.
    pub fn mesh_conflicts(&mut self) -> Result<Vec<crate::replica::Conflict>, Error> {
        self.device().mesh_conflicts()
    }

    /// Judges one ticket's admissions with core's `reconcile` over this gate's own
    /// check-ins and those it holds for others, and keeps what it flags (replacing what
    /// was flagged for the ticket before). Run whenever another gate's check-in of the
    /// ticket arrives: a conflict on a gate needs two admissions, and the later of them to
    /// reach it is always another gate's.
    pub fn judge_held_ticket(&mut self, ticket: tessera_core::TicketId) -> Result<(), Error> {
        let Some((keyring, event, gates)) = self.loaded_parts() else {
            return Ok(());
        };
        let mut out = Vec::new();
        let own = self
            .device()
            .identity()
            .map(|i| (i.device_id.clone(), i.name.clone()));
        {
            let mut scans = self.device().own_scans(ticket)?;
            scans.extend(self.device().held_scans(ticket)?);
            // The same order on every gate, whoever's own the scans are: a tie in time goes
            // to the lower device id, so every gate flags the same admission.
            scans.sort_by(|a, b| (a.at, &a.device_id, a.seq).cmp(&(b.at, &b.device_id, b.seq)));
            let record = self.replica().ticket(ticket)?.map(|r| r.record);
            let names = |id: &str| match &own {
                Some((me, name)) if me == id => name.clone(),
                _ => self.device_name(id),
            };
            let verified: Vec<(
                HeldScan,
                tessera_core::VerifiedTicket,
                tessera_core::Gate,
                String,
            )> = scans
                .into_iter()
                .filter_map(|s| {
                    let ticket = tessera_core::verify(s.text.as_deref()?, &keyring).ok()?;
                    let zones = gates
                        .iter()
                        .find(|(n, _)| *n == s.gate)
                        .map_or(tessera_core::ZoneMask::GENERAL, |(_, z)| *z);
                    let gate = tessera_core::Gate {
                        name: s.gate.clone(),
                        zones,
                        direction: s.direction,
                    };
                    let name = names(&s.device_id);
                    Some((s, ticket, gate, name))
                })
                .collect();
            let recorded: Vec<tessera_core::Recorded<'_>> = verified
                .iter()
                .map(|(s, t, g, name)| tessera_core::Recorded {
                    ticket: t,
                    at: s.at,
                    clock_error_ms: None,
                    gate: g,
                    device: name,
                    device_admitted: s.admitted,
                })
                .collect();
            let judged = tessera_core::reconcile(record.as_ref(), &event, &recorded);
            let first = verified
                .iter()
                .filter(|(s, ..)| s.admitted && s.direction == tessera_core::Direction::Entry)
                .min_by_key(|(s, ..)| s.at);
            for ((s, _, _, name), j) in verified.iter().zip(&judged) {
                let Some(kind) = j.kind else { continue };
                out.push((
                    s.device_id.clone(),
                    s.seq,
                    crate::replica::Conflict {
                        kind: Some(kind.code().to_owned()),
                        ticket_id: Some(ticket.0),
                        at: s.at,
                        gate: s.gate.clone(),
                        device: name.clone(),
                        first_at: first.map(|f| f.0.at),
                        first_gate: first.map(|f| f.0.gate.clone()),
                        first_device: first.map(|f| f.3.clone()),
                    },
                ));
            }
        }
        self.device().keep_mesh_conflicts(ticket, &out)
    }
}
