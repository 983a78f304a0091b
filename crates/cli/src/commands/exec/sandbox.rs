//! `macaroon exec --sandbox` (Linux): the command's only way out is the proxy.
//!
//! `HTTPS_PROXY` is a request, not a boundary: Node before 22.21, Java and many Go programs
//! ignore it and would send the token straight to the real host. Under `--sandbox` the
//! command runs in its own network namespace (besides the user and mount namespaces of
//! plain `exec`, the homes hidden the same way) that has nothing but a loopback device:
//!
//! * a stub resolver answers every name with an address of 127.77.0.0/16 that stands for
//!   it (and no IPv6 address, so clients use that one);
//! * every TCP connection to such an address is redirected (one `iptables` rule inside the
//!   namespace) to a listener that this process, the bridge, serves from outside: it
//!   turns the connection into a `CONNECT name:port` to the proxy, so interception,
//!   caveats, the audit and the secret injection apply as for any HTTPS_PROXY client;
//! * anything else (a raw IP, UDP other than the resolver, the host's loopback services)
//!   has no route.
//!
//! The sockets are made inside the namespace by the child and handed to the bridge over a
//! unix socket pair; the bridge, a fresh image of this binary that never read a root
//! token, stays outside, forwards signals to the command and exits with it.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::isolate::{self, Plan};

/// Where the stub resolver listens inside the namespace.
const RESOLVER: &str = "127.0.0.53:53";
/// Where redirected connections arrive inside the namespace.
const BRIDGE_PORT: u16 = 15001;
/// The first two octets of the addresses that stand for names.
const STAND_IN: [u8; 2] = [127, 77];

/// What the bridge needs, carried in the [`Plan`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    /// The proxy, `host:port`, reached from outside the namespace.
    pub proxy: String,
    /// A resolv.conf naming the stub resolver, bound over `/etc/resolv.conf` inside.
    pub resolv_conf: PathBuf,
    /// Hosts reached directly from outside, not through the proxy (`--allow-direct`).
    #[serde(default)]
    pub allow_direct: Vec<String>,
}

/// The resolv.conf the command sees.
pub fn resolv_conf() -> String {
    format!(
        "# macaroon exec --sandbox: every name resolves through the proxy\nnameserver {}\n",
        RESOLVER.trim_end_matches(":53")
    )
}

/// Runs the command in the sandbox and bridges it to the proxy until it exits; returns
/// its exit status.
pub fn run(plan: &Plan, sandbox: &Sandbox, program: OsString, args: Vec<OsString>) -> ExitCode {
    let (ours, theirs) = match UnixStream::pair() {
        Ok(p) => p,
        Err(e) => return fail(&format!("could not make a socket pair: {e}")),
    };
    // SAFETY: this stage is a fresh single-threaded process (see `isolate`), so the child
    // may run ordinary code until it execs.
    #[allow(unsafe_code)]
    let fork = unsafe { nix::unistd::fork() };
    match fork {
        Err(e) => fail(&format!("could not fork: {e}")),
        Ok(nix::unistd::ForkResult::Child) => {
            drop(ours);
            let code = child(plan, sandbox, theirs, program, args);
            std::process::exit(code)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(theirs);
            bridge(sandbox, ours, child)
        }
    }
}

fn fail(why: &str) -> ExitCode {
    eprintln!("macaroon: exec --sandbox: {why}");
    ExitCode::from(2)
}

/// The child: enters the namespaces, hands the bridge its sockets, becomes the command.
/// Returns an exit code only on failure.
fn child(
    plan: &Plan,
    sandbox: &Sandbox,
    to_bridge: UnixStream,
    program: OsString,
    args: Vec<OsString>,
) -> i32 {
    if let Err(e) = enter(plan, sandbox, &to_bridge) {
        eprintln!(
            "macaroon: exec --sandbox could not build the sandbox ({e}); it needs user and \
             network namespaces and iptables (apt-get install iptables)"
        );
        return 2;
    }
    drop(to_bridge);
    let _ = isolate::landlock_scope();
    use std::os::unix::process::CommandExt;
    let err = std::process::Command::new(&program)
        .args(args)
        .env_remove(isolate::PLAN_VAR)
        .exec();
    eprintln!("macaroon: could not run {}: {err}", program.to_string_lossy());
    if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}

fn enter(plan: &Plan, sandbox: &Sandbox, to_bridge: &UnixStream) -> Result<(), String> {
    use nix::sched::CloneFlags;
    let me = isolate::ids();
    // Root inside the first namespace, so that `ip` and `iptables` keep their
    // capabilities over the new network namespace; the command itself runs as the user.
    isolate::enter_user_namespace(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET, (0, 0), me)?;
    run_quietly("ip", &["link", "set", "lo", "up"])?;
    let stand_ins = format!("{}.{}.0.0/16", STAND_IN[0], STAND_IN[1]);
    let port = BRIDGE_PORT.to_string();
    run_quietly(
        "iptables",
        &[
            "-t",
            "nat",
            "-A",
            "OUTPUT",
            "-p",
            "tcp",
            "-d",
            &stand_ins,
            "-j",
            "REDIRECT",
            "--to-ports",
            &port,
        ],
    )?;
    let resolver = UdpSocket::bind(RESOLVER).map_err(|e| format!("resolver socket: {e}"))?;
    let listener =
        TcpListener::bind(("127.0.0.1", BRIDGE_PORT)).map_err(|e| format!("bridge socket: {e}"))?;
    send_fds(to_bridge, &[resolver.as_raw_fd(), listener.as_raw_fd()])?;
    drop((resolver, listener));
    isolate::hide(plan)?;
    bind_file(&sandbox.resolv_conf, "/etc/resolv.conf")?;
    isolate::enter_user_namespace(CloneFlags::CLONE_NEWNS, me, (0, 0))
}

fn bind_file(from: &std::path::Path, to: &str) -> Result<(), String> {
    use nix::mount::{mount, MsFlags};
    mount(Some(from), to, None::<&str>, MsFlags::MS_BIND, None::<&str>)
        .map_err(|e| format!("binding {} over {to}: {e}", from.display()))
}

fn run_quietly(program: &str, args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn send_fds(sock: &UnixStream, fds: &[RawFd]) -> Result<(), String> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov = [std::io::IoSlice::new(b"f")];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(fds)],
        MsgFlags::empty(),
        None,
    )
    .map(|_| ())
    .map_err(|e| format!("handing over the sockets: {e}"))
}

fn receive_fds(sock: &UnixStream) -> Option<(UdpSocket, TcpListener)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 2]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ok()?;
    let mut fds = Vec::new();
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(got) = c {
            fds.extend(got);
        }
    }
    // SAFETY: the kernel just gave us these descriptors; each is owned once, here.
    #[allow(unsafe_code)]
    let owned: Vec<OwnedFd> = fds
        .into_iter()
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect();
    let mut it = owned.into_iter();
    let (udp, tcp) = (it.next()?, it.next()?);
    Some((UdpSocket::from(udp), TcpListener::from(tcp)))
}

/// Names and the addresses that stand for them.
#[derive(Default)]
pub struct Names {
    by_name: HashMap<String, Ipv4Addr>,
    by_addr: HashMap<Ipv4Addr, String>,
}

impl Names {
    /// The address standing for `name` (a new one the first time), or `None` when all
    /// 65,534 are taken.
    pub fn address(&mut self, name: &str) -> Option<Ipv4Addr> {
        if let Some(a) = self.by_name.get(name) {
            return Some(*a);
        }
        let n = u16::try_from(self.by_name.len() + 1)
            .ok()
            .filter(|n| *n < u16::MAX)?;
        let [hi, lo] = n.to_be_bytes();
        let addr = Ipv4Addr::new(STAND_IN[0], STAND_IN[1], hi, lo);
        self.by_name.insert(name.to_string(), addr);
        self.by_addr.insert(addr, name.to_string());
        Some(addr)
    }

    /// The name `addr` stands for.
    pub fn name(&self, addr: Ipv4Addr) -> Option<&str> {
        self.by_addr.get(&addr).map(String::as_str)
    }
}

/// The stub resolver's answer to one query: an A record standing for each name asked; no
/// other records (so clients fall back to IPv4).
pub fn answer(query: &[u8], names: &mut Names) -> Option<Vec<u8>> {
    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::{rdata::A, RData, Record, RecordType};
    let q = Message::from_vec(query).ok()?;
    let mut reply = Message::response(q.metadata.id, q.metadata.op_code);
    reply.metadata.recursion_desired = q.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_queries(q.queries.iter().cloned());
    for asked in &q.queries {
        if asked.query_type() != RecordType::A {
            continue;
        }
        let name = asked.name().to_ascii().trim_end_matches('.').to_ascii_lowercase();
        match names.address(&name) {
            Some(addr) => {
                reply.add_answer(Record::from_rdata(asked.name().clone(), 5, RData::A(A(addr))));
            }
            None => reply.metadata.response_code = ResponseCode::ServFail,
        }
    }
    reply.to_vec().ok()
}

/// The bridge: serves the resolver and the redirected connections, forwards signals to
/// the command, and exits with it.
fn bridge(sandbox: &Sandbox, from_child: UnixStream, child: nix::unistd::Pid) -> ExitCode {
    let sockets = receive_fds(&from_child);
    drop(from_child);
    let Some((resolver, listener)) = sockets else {
        // The child failed before handing over its sockets and said why.
        return exit_like(wait(child));
    };
    let names = Arc::new(Mutex::new(Names::default()));
    let n = Arc::clone(&names);
    std::thread::spawn(move || serve_resolver(&resolver, &n));
    let sandbox = Arc::new(sandbox.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let names = Arc::clone(&names);
            let sandbox = Arc::clone(&sandbox);
            std::thread::spawn(move || {
                let _ = connect_out(conn, &names, &sandbox);
            });
        }
    });
    forward_signals(child);
    exit_like(wait(child))
}

fn serve_resolver(sock: &UdpSocket, names: &Mutex<Names>) {
    let mut buf = [0u8; 1500];
    while let Ok((n, from)) = sock.recv_from(&mut buf) {
        let reply = match names.lock() {
            Ok(mut names) => answer(&buf[..n], &mut names),
            Err(_) => return,
        };
        if let Some(reply) = reply {
            let _ = sock.send_to(&reply, from);
        }
    }
}

/// Turns one redirected connection into a CONNECT for the name its address stands for
/// (or, for an `--allow-direct` host, a direct connection, said on stderr).
fn connect_out(conn: TcpStream, names: &Mutex<Names>, sandbox: &Sandbox) -> std::io::Result<()> {
    let dst = nix::sys::socket::getsockopt(&conn, nix::sys::socket::sockopt::OriginalDst)
        .map_err(std::io::Error::from)?;
    let addr = Ipv4Addr::from(u32::from_be(dst.sin_addr.s_addr));
    let port = u16::from_be(dst.sin_port);
    let name = names
        .lock()
        .ok()
        .and_then(|n| n.name(addr).map(str::to_string))
        .ok_or_else(|| std::io::Error::other("an address no name stands for"))?;
    let _ = conn.set_nodelay(true);
    if sandbox.allow_direct.contains(&name) {
        eprintln!("macaroon: exec --sandbox: {name}:{port} reached directly (--allow-direct), not through the proxy");
        let up = TcpStream::connect((name.as_str(), port))?;
        let _ = up.set_nodelay(true);
        return splice(conn, up);
    }
    let mut up = TcpStream::connect(&sandbox.proxy)?;
    let _ = up.set_nodelay(true);
    write!(
        up,
        "CONNECT {name}:{port} HTTP/1.1\r\nHost: {name}:{port}\r\n\r\n"
    )?;
    let head = read_head(&mut up)?;
    if !(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200")) {
        return Err(std::io::Error::other("the proxy refused the tunnel"));
    }
    splice(conn, up)
}

/// Reads a response head, byte by byte so nothing after it is consumed.
fn read_head(up: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || up.read(&mut byte)? == 0 {
            return Err(std::io::Error::other("no answer to CONNECT"));
        }
        head.push(byte[0]);
    }
    Ok(head)
}

/// Copies both ways until both sides are done.
fn splice(a: TcpStream, b: TcpStream) -> std::io::Result<()> {
    let (mut a2, mut b2) = (a.try_clone()?, b.try_clone()?);
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut b2, &mut a2);
        let _ = a2.shutdown(std::net::Shutdown::Write);
    });
    let (mut a, mut b) = (a, b);
    let _ = std::io::copy(&mut a, &mut b);
    let _ = b.shutdown(std::net::Shutdown::Write);
    let _ = back.join();
    Ok(())
}

fn forward_signals(child: nix::unistd::Pid) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
    let Ok(mut signals) =
        signal_hook::iterator::Signals::new([SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2])
    else {
        return;
    };
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if let Ok(sig) = nix::sys::signal::Signal::try_from(sig) {
                let _ = nix::sys::signal::kill(child, sig);
            }
        }
    });
}

fn wait(child: nix::unistd::Pid) -> nix::sys::wait::WaitStatus {
    loop {
        match nix::sys::wait::waitpid(child, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return nix::sys::wait::WaitStatus::Exited(child, 1),
            Ok(s @ (nix::sys::wait::WaitStatus::Exited(..) | nix::sys::wait::WaitStatus::Signaled(..))) => {
                return s
            }
            Ok(_) => continue,
        }
    }
}

/// The bridge's own exit status: the command's, or 128 + the signal that ended it.
fn exit_like(status: nix::sys::wait::WaitStatus) -> ExitCode {
    match status {
        nix::sys::wait::WaitStatus::Exited(_, code) => ExitCode::from(code.clamp(0, 255) as u8),
        nix::sys::wait::WaitStatus::Signaled(_, sig, _) => ExitCode::from(128u8.saturating_add(sig as u8)),
        _ => ExitCode::from(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_gets_one_stand_in_address() {
        let mut names = Names::default();
        let a = names.address("api.stripe.com").expect("address");
        assert_eq!(a, Ipv4Addr::new(127, 77, 0, 1));
        assert_eq!(names.address("api.stripe.com"), Some(a));
        let b = names.address("api.openai.com").expect("address");
        assert_ne!(a, b);
        assert_eq!(names.name(b), Some("api.openai.com"));
        assert_eq!(names.name(Ipv4Addr::new(1, 1, 1, 1)), None);
    }

    #[test]
    fn the_resolver_answers_a_queries_with_stand_ins_and_nothing_else() {
        use hickory_proto::op::{Message, Query};
        use hickory_proto::rr::{Name, RData, RecordType};
        let mut names = Names::default();
        for (kind, answers) in [(RecordType::A, 1), (RecordType::AAAA, 0)] {
            let mut q = Message::query();
            q.metadata.recursion_desired = true;
            q.add_query(Query::query(
                Name::from_ascii("API.Stripe.com.").expect("name"),
                kind,
            ));
            let reply = answer(&q.to_vec().expect("encode"), &mut names).expect("reply");
            let reply = Message::from_vec(&reply).expect("decode");
            assert_eq!(reply.metadata.id, q.metadata.id);
            assert_eq!(reply.answers.len(), answers, "{kind}");
            if let Some(r) = reply.answers.first() {
                assert_eq!(
                    r.data,
                    RData::A(hickory_proto::rr::rdata::A(Ipv4Addr::new(127, 77, 0, 1)))
                );
            }
        }
        assert_eq!(answer(b"garbage", &mut names), None);
    }
}
