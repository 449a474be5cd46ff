#!/usr/bin/env python3
"""Self-test of prosody_peer.py: proves that a real Prosody runs as a federation peer here.

Without parley. It makes a throwaway CA and ECDSA P-256 certificates with the openssl CLI
(prosody.test, other.test, parley.test: SAN DNS:name and DNS:*.name, serverAuth+clientAuth,
plus one parley.test certificate from an untrusted CA), adds /etc/hosts entries
(prosody.test 127.0.0.2, parley.test 127.0.0.3, other.test 127.0.0.4; removed at the end),
starts Prosody for prosody.test on 127.0.0.2 (c2s on a free port, s2s on 5269) and a second
one for other.test on 127.0.0.4, and checks:

  c2s       alice and bob log in with slixmpp (STARTTLS, certificate verified against the
            test CA) at 127.0.0.2 and a chat message from alice reaches bob;
  s2s       alice@prosody.test and carol@other.test exchange messages through the two
            Prosodys (certificates + SASL EXTERNAL both ways, no dialback);
  dial-out  a message to dave@parley.test makes Prosody dial 127.0.0.3:5269 (no SRV, A from
            /etc/hosts); a scripted parley.test there answers with STARTTLS, checks Prosody's
            client certificate, accepts SASL EXTERNAL and receives the message;
  dial-in   a scripted parley.test dials 127.0.0.2:5269, authenticates with its certificate
            (SASL EXTERNAL) and delivers a message to alice;
  bad-cert  a parley.test whose certificate is from an unknown CA is refused, with the log
            line and stream error expected;
  shutdown  both Prosodys stop on SIGTERM, their processes are gone and /etc/hosts is as
            before.

Prints one line per check and "N passed, M failed" at the end; exits 0 only if all passed.
Everything is bounded: the whole run is given up after 58 s. Needs root (Prosody drops to
the prosody user; /etc/hosts is edited), Debian's prosody, lua-unbound, python3-slixmpp and
openssl; run it with /usr/bin/python3. --keep keeps the work directory (kept on failure).
"""

import argparse
import asyncio
import base64
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Before slixmpp is imported: it logs a warning about its pure-Python stringprep at import.
logging.basicConfig(level=logging.CRITICAL, format="%(levelname)s %(name)s: %(message)s",
                    stream=sys.stderr)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prosody_peer import HostsEntries, ProsodyError, ProsodyPeer, free_port  # noqa: E402

try:
    import slixmpp
except ImportError as e:
    sys.stderr.write(f"prosody_selftest: cannot import slixmpp ({e}); install Debian's "
                     "python3-slixmpp and run this with /usr/bin/python3\n")
    sys.exit(4)

# The slixmpp client, shared with prosody_federation.py.
from interop_client import Client, Failure, logout  # noqa: E402
from interop_client import login as shared_login  # noqa: E402

TOTAL_LIMIT = 58  # seconds for the whole run
PROSODY = ("prosody.test", "127.0.0.2")
OTHER = ("other.test", "127.0.0.4")
PARLEY = ("parley.test", "127.0.0.3")
S2S_PORT = 5269  # where Prosody dials a domain without SRV records
NS_STREAM = "http://etherx.jabber.org/streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


class GiveUp(BaseException):
    """The whole run took too long (raised from SIGALRM, through everything)."""


# ---- certificates (openssl CLI) ----------------------------------------------------------

def openssl(*args) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=20)
    if result.returncode != 0:
        raise Failure(f"openssl {' '.join(args)}: {result.stderr.strip()}")


def make_ca(directory: Path, name: str) -> tuple:
    key, crt = directory / f"{name}.key", directory / f"{name}.crt"
    openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "2",
            "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return crt, key


def make_cert(directory: Path, domain: str, ca: tuple, tag: str = "") -> tuple:
    """A leaf for `domain` (and *.domain), serverAuth and clientAuth, signed by `ca`."""
    stem = directory / f"{domain}{tag}"
    key, csr, crt, ext = (stem.with_suffix(stem.suffix + s) for s in (".key", ".csr", ".crt", ".ext"))
    ext.write_text(f"subjectAltName=DNS:{domain},DNS:*.{domain}\n"
                   "extendedKeyUsage=serverAuth,clientAuth\n"
                   "basicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={domain}")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
            "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "2",
            "-extfile", str(ext), "-out", str(crt))
    return crt, key


# ---- slixmpp clients (interop_client.py) --------------------------------------------------

async def login(jid: str, password: str, peer: ProsodyPeer, ca_file: Path) -> Client:
    return await shared_login(jid, password, peer.address, peer.c2s_port, ca_file, 15)


# ---- a scripted XMPP server-to-server peer (raw sockets) ---------------------------------

class RawStream:
    """A socket with a read buffer: enough XMPP to script one s2s exchange."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.received = []  # everything read, for the failure message

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def read_until(self, pattern: str, timeout: float = 10.0) -> re.Match:
        """Reads until `pattern` (bytes regex, DOTALL) matches; consumes through the match."""
        regex = re.compile(pattern.encode(), re.S)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.buffer)
            if match:
                self.buffer = self.buffer[match.end():]
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Failure(f"scripted peer: no {pattern!r} within {timeout:g} s; "
                              f"got {b''.join(self.received)[-600:]!r}")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise Failure(f"scripted peer: connection closed while waiting for {pattern!r}; "
                              f"got {b''.join(self.received)[-600:]!r}")
            self.received.append(data)
            self.buffer += data

    def read_stream_header(self) -> dict:
        match = self.read_until(r"<stream:stream\s([^>]*)>")
        return dict(re.findall(r"([\w:]+)=['\"]([^'\"]*)['\"]", match.group(1).decode()))

    def wrap(self, context: ssl.SSLContext, server_side: bool, server_hostname: str = None) -> None:
        if self.buffer:
            raise Failure(f"scripted peer: data before the TLS handshake: {self.buffer!r}")
        self.sock.settimeout(10)
        self.sock = context.wrap_socket(self.sock, server_side=server_side,
                                        server_hostname=server_hostname)


def header(from_: str, to: str, stream_id: str = None) -> str:
    id_attr = f" id='{stream_id}'" if stream_id else ""
    return (f"<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
            f"xmlns:stream='{NS_STREAM}' from='{from_}' to='{to}'{id_attr} version='1.0'>")


def san_names(cert: dict) -> list:
    return [value for kind, value in cert.get("subjectAltName", ()) if kind == "DNS"]


class ScriptedReceiver(threading.Thread):
    """Plays parley.test as the receiving server at 127.0.0.3:5269: STARTTLS (required),
    the client certificate checked, SASL EXTERNAL offered, then one stanza read. With
    `complete=False` it stops after the TLS handshake and reads what Prosody says."""

    def __init__(self, cert: tuple, ca_file: Path, verify_client: bool = True) -> None:
        super().__init__(daemon=True)
        self.cert, self.ca_file, self.verify_client = cert, ca_file, verify_client
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((PARLEY[1], S2S_PORT))
        self.listener.listen(4)
        self.facts = {}
        self.error = None

    def run(self) -> None:
        try:
            self.script()
        except BaseException as e:  # reported by the test
            self.error = e
        finally:
            self.listener.close()

    def script(self) -> None:
        self.listener.settimeout(15)
        sock, peer = self.listener.accept()
        self.facts["connected_from"] = peer[0]
        stream = RawStream(sock)
        try:
            self.facts["header1"] = stream.read_stream_header()
            stream.send(header(PARLEY[0], PROSODY[0], "s1") + "<stream:features>"
                        f"<starttls xmlns='{NS_TLS}'><required/></starttls></stream:features>")
            stream.read_until(r"<starttls[^>]*/>")
            stream.send(f"<proceed xmlns='{NS_TLS}'/>")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.cert[0]), str(self.cert[1]))
            context.set_alpn_protocols(["xmpp-server"])
            self.facts["sni"] = None  # Prosody 0.12 sends no SNI on STARTTLS s2s
            context.sni_callback = lambda _sock, name, _ctx: self.facts.__setitem__("sni", name)
            if self.verify_client:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(cafile=str(self.ca_file))
            try:
                stream.wrap(context, server_side=True)
            except (ssl.SSLError, OSError) as e:
                self.facts["tls_error"] = str(e)
                return
            self.facts["tls_version"] = stream.sock.version()
            self.facts["alpn"] = stream.sock.selected_alpn_protocol()
            self.facts["client_cert_names"] = san_names(stream.sock.getpeercert() or {})
            self.facts["header2"] = stream.read_stream_header()
            if not self.verify_client:  # the bad-cert case: Prosody should refuse us now
                stream.send(header(PARLEY[0], PROSODY[0], "s2") + "<stream:features/>")
                match = stream.read_until(r"<stream:error>.*?</stream:error>")
                self.facts["stream_error"] = match.group(0).decode()
                return
            stream.send(header(PARLEY[0], PROSODY[0], "s2") + "<stream:features>"
                        f"<mechanisms xmlns='{NS_SASL}'><mechanism>EXTERNAL</mechanism>"
                        "</mechanisms></stream:features>")
            match = stream.read_until(r"<auth\s[^>]*mechanism=['\"]EXTERNAL['\"][^>]*(?:/>|>(.*?)</auth>)")
            authzid = (match.group(1) or b"").decode().strip()
            self.facts["sasl_external_authzid"] = base64.b64decode(authzid).decode() if authzid not in ("", "=") else authzid
            stream.send(f"<success xmlns='{NS_SASL}'/>")
            self.facts["header3"] = stream.read_stream_header()
            stream.send(header(PARLEY[0], PROSODY[0], "s3") + "<stream:features/>")
            match = stream.read_until(r"<message\s.*?</message>")
            self.facts["stanza"] = match.group(0).decode()
            stream.send("</stream:stream>")
            try:
                stream.read_until(r"</stream:stream>", timeout=3)
            except Failure:
                pass
        finally:
            stream.sock.close()


def scripted_initiator(cert: tuple, ca_file: Path, to_jid: str, body: str) -> dict:
    """Plays parley.test dialing Prosody at 127.0.0.2:5269: STARTTLS with our client
    certificate, SASL EXTERNAL, then one message to `to_jid`."""
    facts = {}
    sock = socket.create_connection((PROSODY[1], S2S_PORT), timeout=10)
    stream = RawStream(sock)
    try:
        stream.send(header(PARLEY[0], PROSODY[0]))
        facts["reply_header1"] = stream.read_stream_header()
        features = stream.read_until(r"<stream:features.*?(?:</stream:features>|<stream:features/>)").group(0)
        facts["features1"] = features.decode()
        stream.send(f"<starttls xmlns='{NS_TLS}'/>")
        stream.read_until(r"<proceed[^>]*/>")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cafile=str(ca_file))
        context.load_cert_chain(str(cert[0]), str(cert[1]))
        stream.wrap(context, server_side=False, server_hostname=PROSODY[0])
        facts["tls_version"] = stream.sock.version()
        facts["server_cert_names"] = san_names(stream.sock.getpeercert())
        stream.send(header(PARLEY[0], PROSODY[0]))
        stream.read_stream_header()
        features = stream.read_until(r"<stream:features.*?(?:</stream:features>|<stream:features/>)").group(0)
        facts["features2"] = features.decode()
        if b"EXTERNAL" not in features:
            raise Failure(f"Prosody offered no SASL EXTERNAL after TLS: {features!r}")
        stream.send(f"<auth xmlns='{NS_SASL}' mechanism='EXTERNAL'>"
                    f"{base64.b64encode(PARLEY[0].encode()).decode()}</auth>")
        match = stream.read_until(r"<(success|failure)\b.*?(?:/>|</\1>)")
        if match.group(1) != b"success":
            raise Failure(f"SASL EXTERNAL refused: {match.group(0)!r}")
        stream.send(header(PARLEY[0], PROSODY[0]))
        stream.read_stream_header()
        features = stream.read_until(r"<stream:features.*?(?:</stream:features>|<stream:features/>)").group(0)
        facts["features3"] = features.decode()
        stream.send(f"<message from='dave@{PARLEY[0]}/harness' to='{to_jid}' type='chat' "
                    f"id='in1'><body>{body}</body></message>")
        time.sleep(0.5)  # let it be routed before we close
        stream.send("</stream:stream>")
        try:
            stream.read_until(r"</stream:stream>", timeout=3)
        except Failure:
            pass
    finally:
        stream.sock.close()
    return facts


# ---- the checks ----------------------------------------------------------------------------

class Context:
    """What the checks share: certificates, the two Prosodys, passwords."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.passwords = {"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret"}
        self.peers = []


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


async def check_c2s(ctx: Context) -> str:
    p = ctx.prosody
    alice = await login(f"alice@{PROSODY[0]}/selftest", ctx.passwords["alice"], p, ctx.ca)
    bob = await login(f"bob@{PROSODY[0]}/selftest", ctx.passwords["bob"], p, ctx.ca)
    try:
        alice.send_message(mto=f"bob@{PROSODY[0]}", mbody="hello bob (c2s)", mtype="chat")
        msg = await bob.next_message(f"alice@{PROSODY[0]}", 10)
        check(msg["body"] == "hello bob (c2s)", f"bob got {msg['body']!r}")
        mech = alice["feature_mechanisms"].mech.name
        tls = alice.transport.get_extra_info("ssl_object")
        return f"alice -> bob delivered; {tls.version()}, SASL {mech}"
    finally:
        await logout(alice, bob)


async def check_s2s(ctx: Context) -> str:
    alice = await login(f"alice@{PROSODY[0]}/selftest", ctx.passwords["alice"], ctx.prosody, ctx.ca)
    carol = await login(f"carol@{OTHER[0]}/selftest", ctx.passwords["carol"], ctx.other, ctx.ca)
    try:
        alice.send_message(mto=f"carol@{OTHER[0]}", mbody="hello carol (s2s)", mtype="chat")
        msg = await carol.next_message(f"alice@{PROSODY[0]}", 15)
        check(msg["body"] == "hello carol (s2s)", f"carol got {msg['body']!r}")
        carol.send_message(mto=msg["from"], mbody="hello alice (s2s)", mtype="chat")
        msg = await alice.next_message(f"carol@{OTHER[0]}", 15)
        check(msg["body"] == "hello alice (s2s)", f"alice got {msg['body']!r}")
    finally:
        await logout(alice, carol)
    ctx.other.wait_for_log(r"Accepting SASL EXTERNAL identity from prosody\.test", 5)
    ctx.prosody.wait_for_log(r"Accepting SASL EXTERNAL identity from other\.test", 5)
    ctx.prosody.wait_for_log(r"Outgoing s2s connection prosody\.test->other\.test complete", 5)
    return "both ways, SASL EXTERNAL with certificates both ways"


async def check_dial_out(ctx: Context) -> str:
    receiver = ScriptedReceiver(ctx.certs[PARLEY[0]], ctx.ca)
    receiver.start()
    alice = await login(f"alice@{PROSODY[0]}/selftest", ctx.passwords["alice"], ctx.prosody, ctx.ca)
    try:
        alice.send_message(mto=f"dave@{PARLEY[0]}", mbody="hello parley", mtype="chat")
        await asyncio.get_running_loop().run_in_executor(None, receiver.join, 20)
    finally:
        await logout(alice)
    f = receiver.facts
    if receiver.error:
        raise Failure(f"{receiver.error} (so far: {f})")
    check(not receiver.is_alive(), "scripted parley.test did not finish in 20 s")
    h1 = f["header1"]
    check(h1.get("to") == PARLEY[0] and h1.get("from") == PROSODY[0],
          f"first stream header {h1}")
    check(PROSODY[0] in f.get("client_cert_names", []), f"client certificate names {f.get('client_cert_names')}")
    check(f.get("sasl_external_authzid") == PROSODY[0], f"SASL EXTERNAL authzid {f.get('sasl_external_authzid')!r}")
    check("hello parley" in f.get("stanza", "") and f"to='dave@{PARLEY[0]}'" in f["stanza"].replace('"', "'"),
          f"stanza {f.get('stanza')!r}")
    return (f"dialed {PARLEY[1]}:{S2S_PORT} from {f['connected_from']}; header {h1}; "
            f"SNI {f['sni']}, ALPN {f['alpn']}, {f['tls_version']}, client cert {f['client_cert_names']}; "
            f"EXTERNAL authzid {f['sasl_external_authzid']!r}")


async def check_dial_in(ctx: Context) -> str:
    alice = await login(f"alice@{PROSODY[0]}/selftest", ctx.passwords["alice"], ctx.prosody, ctx.ca)
    try:
        facts = await asyncio.get_running_loop().run_in_executor(
            None, scripted_initiator, ctx.certs[PARLEY[0]], ctx.ca, f"alice@{PROSODY[0]}", "hello alice from parley")
        msg = await alice.next_message(f"dave@{PARLEY[0]}", 10)
        check(msg["body"] == "hello alice from parley", f"alice got {msg['body']!r}")
    finally:
        await logout(alice)
    ctx.prosody.wait_for_log(r"Accepting SASL EXTERNAL identity from parley\.test", 5)
    return (f"features before TLS {facts['features1']!r}; after TLS {facts['features2']!r}; "
            f"after SASL {facts['features3']!r}")


async def check_bad_cert(ctx: Context) -> str:
    receiver = ScriptedReceiver(ctx.untrusted_parley, ctx.ca, verify_client=False)
    receiver.start()
    alice = await login(f"alice@{PROSODY[0]}/selftest", ctx.passwords["alice"], ctx.prosody, ctx.ca)
    try:
        alice.send_message(mto=f"erin@{PARLEY[0]}", mbody="should bounce", mtype="chat")
        bounce = await alice.next_error(20)
        await asyncio.get_running_loop().run_in_executor(None, receiver.join, 10)
    finally:
        await logout(alice)
    if receiver.error:
        raise Failure(f"{receiver.error} (so far: {receiver.facts})")
    line = ctx.prosody.wait_for_log(
        r"Forbidding insecure connection to/from parley\.test because its certificate is not trusted", 5)
    error = receiver.facts.get("stream_error", "")
    check("not-authorized" in error, f"stream error sent to the peer: {error!r}")
    return (f"log: {line.string.strip()!r}; stream error to peer: {error!r}; bounce to alice: "
            f"{bounce['error']['type']}/{bounce['error']['condition']} {bounce['error']['text']!r}")


def check_shutdown(ctx: Context) -> str:
    pids = [peer.pid for peer in ctx.peers]
    for peer in ctx.peers:
        peer.stop()
        check(peer.process.returncode == 0, f"{peer.domain}: exit status {peer.process.returncode}")
    for pid in pids:
        check(not Path(f"/proc/{pid}").exists(), f"process {pid} still exists")
    ctx.hosts.remove()
    check(Path("/etc/hosts").read_text() == ctx.hosts_before, "/etc/hosts differs from before")
    return f"pids {pids} exited 0 and are gone; /etc/hosts restored"


def run(ctx: Context, verbose: bool) -> int:
    results = []

    def record(name: str, fn, *args) -> bool:
        started = time.monotonic()
        try:
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = asyncio.run(result)
        except (Failure, ProsodyError) as e:
            results.append(False)
            print(f"FAIL {name} ({time.monotonic() - started:.1f} s): {e}", flush=True)
            return False
        except Exception as e:  # a bug or an unexpected error: still a failed check, not a crash
            results.append(False)
            print(f"FAIL {name} ({time.monotonic() - started:.1f} s): {type(e).__name__}: {e}", flush=True)
            return False
        results.append(True)
        detail = f": {result}" if verbose and result else ""
        print(f"PASS {name} ({time.monotonic() - started:.1f} s){detail}", flush=True)
        return True

    checks = [("c2s", check_c2s), ("s2s", check_s2s), ("dial-out", check_dial_out),
              ("dial-in", check_dial_in), ("bad-cert", check_bad_cert)]
    for name, fn in checks:
        record(name, fn, ctx)
    record("shutdown", check_shutdown, ctx)
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed", flush=True)
    return 0 if passed == len(results) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--verbose", action="store_true", help="details of each check")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.stderr.write("prosody_selftest: needs root (edits /etc/hosts, starts Prosody as prosody)\n")
        return 2
    for tool in ("prosody", "prosodyctl", "openssl"):
        if not shutil.which(tool):
            sys.stderr.write(f"prosody_selftest: {tool} not found (apt-get install prosody lua-unbound openssl)\n")
            return 2

    def give_up(_signum, _frame):
        raise GiveUp(f"still running after {TOTAL_LIMIT} s")

    def terminated(signum, _frame):
        raise GiveUp(f"received signal {signum}")

    signal.signal(signal.SIGALRM, give_up)
    signal.signal(signal.SIGTERM, terminated)  # still stop Prosody and restore /etc/hosts
    signal.alarm(TOTAL_LIMIT)

    root = Path(tempfile.mkdtemp(prefix="prosody-selftest-"))
    os.chmod(root, 0o755)  # the prosody user must reach the work directories inside
    ctx = Context(root)
    status = 1
    try:
        pki = root / "pki"
        pki.mkdir()
        ca = make_ca(pki, "parley-interop-test-ca")
        ctx.ca = ca[0]
        ctx.certs = {name: make_cert(pki, name, ca) for name in (PROSODY[0], OTHER[0], PARLEY[0])}
        ctx.untrusted_parley = make_cert(pki, PARLEY[0], make_ca(pki, "unknown-ca"), ".untrusted")

        ctx.hosts_before = Path("/etc/hosts").read_text()
        ctx.hosts = HostsEntries({name: address for name, address in (PROSODY, PARLEY, OTHER)})
        with ctx.hosts:
            ctx.prosody = ProsodyPeer(root / "prosody", PROSODY[0], PROSODY[1], free_port(PROSODY[1]),
                                      S2S_PORT, *ctx.certs[PROSODY[0]], ctx.ca)
            ctx.other = ProsodyPeer(root / "other", OTHER[0], OTHER[1], free_port(OTHER[1]),
                                    S2S_PORT, *ctx.certs[OTHER[0]], ctx.ca)
            ctx.peers = [ctx.prosody, ctx.other]
            try:
                for user in ("alice", "bob"):
                    ctx.prosody.add_user(user, ctx.passwords[user])
                ctx.other.add_user("carol", ctx.passwords["carol"])
                for peer in ctx.peers:
                    peer.start()
                    if args.verbose:
                        print(f"started Prosody for {peer.domain}: pid {peer.pid}, "
                              f"c2s {peer.address}:{peer.c2s_port}, s2s {peer.address}:{peer.s2s_port}, "
                              f"log {peer.log_path}", flush=True)
            except (Failure, ProsodyError) as e:
                print(f"FAIL setup: {e}", flush=True)
                print("0 passed, 1 failed", flush=True)
                return 1
            status = run(ctx, args.verbose)
    except (GiveUp, KeyboardInterrupt) as e:
        print(f"FAIL: gave up: {e or 'interrupted'}", flush=True)
        print("0 passed, 1 failed", flush=True)
        status = 1
    finally:
        signal.alarm(0)
        for peer in ctx.peers:  # no-op when already stopped
            peer.stop()
        if status == 0 and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"work directory kept: {root} (Prosody logs: */prosody.log)", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
