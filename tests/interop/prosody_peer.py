#!/usr/bin/env python3
"""A real Prosody (Debian 12's `prosody`, 0.12) as a federation peer for interop tests.

ProsodyPeer writes a complete, self-contained Prosody configuration into a work directory
(its own data, pid file, log and certificates there), registers accounts with prosodyctl,
runs `prosody -F` as a child process of this one (as the `prosody` user when we are root)
and stops exactly that child. It listens only on one loopback address:

  c2s  STARTTLS, required            on ADDRESS:C2S_PORT
  s2s  STARTTLS, required            on ADDRESS:S2S_PORT
  s2s  authentication: certificates only (s2s_secure_auth, SASL EXTERNAL; dialback off),
       chains checked against the test CA given as ca_file

How Prosody finds a peer domain (say parley.test) for s2s: it resolves through libunbound
(lua-unbound) configured here with hoststxt, no resolv.conf and a forwarder on 127.0.0.1,
so it never sends a DNS query off this machine:
  1. SRV _xmpps-server._tcp.parley.test (direct TLS), then SRV _xmpp-server._tcp.parley.test;
     names under .test are a built-in local zone of libunbound, so both are NXDOMAIN at once;
  2. then parley.test port 5269 (STARTTLS), with the A record from the hosts file: /etc/hosts
     (put entries there with HostsEntries) or, with extra_hosts, a hosts file in the work
     directory made from /etc/hosts plus those entries, for this Prosody only.
So a peer at parley.test must listen on <its address from the hosts file>:5269.
Names outside .test that are not in the hosts file fail, after tens of seconds (SERVFAIL).

Used as a module:

    with HostsEntries({"prosody.test": "127.0.0.2", "parley.test": "127.0.0.3"}):
        peer = ProsodyPeer(workdir, "prosody.test", "127.0.0.2", c2s_port, 5269,
                           cert, key, ca_file)
        peer.add_user("alice", "secret")
        with peer:                      # start() ... stop()
            ...                         # peer.log_text(), peer.wait_for_log(regex)

Used as a program, it starts one Prosody, prints one line of JSON (pid, ports, config and
log paths) and keeps it running until SIGINT or SIGTERM; see --help.

Only the Python standard library; run it with any Python 3.9+ (the self-test uses Debian's
/usr/bin/python3 for slixmpp). Needs the Debian packages prosody and lua-unbound.
"""

import argparse
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

PROSODY_USER = "prosody"
HOSTS_MARKER = "# parley-interop-hosts"  # followed by a unique id per HostsEntries


class ProsodyError(RuntimeError):
    """Prosody could not be configured, started, stopped or asked something."""


def lua_string(value) -> str:
    """A Lua string literal (long strings are avoided: paths may contain ']]')."""
    text = str(value)
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"')
               .replace("\n", "\\n").replace("\r", "\\r").replace("\0", "\\0"))
    return f'"{escaped}"'


def lua_list(values) -> str:
    return "{ " + ", ".join(lua_string(v) for v in values) + " }"


def free_port(address: str) -> int:
    """A TCP port that nothing listens on at `address` right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def port_is_free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def accepts_tcp(address: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


class HostsEntries:
    """Adds `IP name` lines to a hosts file (/etc/hosts by default) for the duration of a
    `with` block, each tagged with a marker comment unique to this instance, and removes
    exactly those lines on exit; everything else in the file is kept as it is then. The file
    is rewritten in place (not replaced): in containers /etc/hosts is often a bind mount."""

    def __init__(self, entries: dict, path: str = "/etc/hosts") -> None:
        self.entries = dict(entries)
        self.path = Path(path)
        self.marker = f"{HOSTS_MARKER} {uuid.uuid4().hex}"
        self._added_newline = False
        self._active = False

    def lines(self) -> list:
        return [f"{ip}\t{name}\t{self.marker}\n" for name, ip in self.entries.items()]

    def __enter__(self) -> "HostsEntries":
        text = self.path.read_text()
        self._added_newline = bool(text) and not text.endswith("\n")
        with open(self.path, "a") as f:
            if self._added_newline:
                f.write("\n")
            f.writelines(self.lines())
        self._active = True
        return self

    def remove(self) -> None:
        if not self._active:
            return
        text = self.path.read_text()
        kept = [line for line in text.splitlines(keepends=True)
                if not line.rstrip("\n").endswith(self.marker)]
        result = "".join(kept)
        if self._added_newline and result.endswith("\n"):
            result = result[:-1]
        if result != text:
            with open(self.path, "r+") as f:
                f.write(result)
                f.truncate()
        self._active = False

    def __exit__(self, *_exc) -> None:
        self.remove()

    @staticmethod
    def remove_all_marked(path: str = "/etc/hosts") -> int:
        """Removes every line any HostsEntries added (left behind by a killed test run);
        returns how many. Do not call it while another test run is using its entries."""
        text = Path(path).read_text()
        kept = [line for line in text.splitlines(keepends=True) if HOSTS_MARKER not in line]
        if len(kept) != len(text.splitlines()):
            with open(path, "r+") as f:
                f.write("".join(kept))
                f.truncate()
        return len(text.splitlines()) - len(kept)


class ProsodyPeer:
    """One Prosody server for one VirtualHost `domain`, run from `workdir`.

    cert, key and ca_file are PEM files; they are copied into workdir/certs (owned by the
    prosody user, the key mode 0600). ca_file is the only trust anchor for certificates of
    s2s peers (and of s2s clients certificates). extra_hosts, a dict name -> IPv4 address,
    makes this Prosody (only) resolve those names so; without it, it reads /etc/hosts.
    extra_config is Lua appended to the global section; extra_modules adds to
    modules_enabled; log_level is the lowest level written to workdir/prosody.log."""

    DEFAULT_MODULES = ("roster", "saslauth", "tls", "disco", "ping", "presence", "message",
                       "offline", "carbons")

    def __init__(self, workdir, domain: str, address: str, c2s_port: int, s2s_port: int,
                 cert, key, ca_file, extra_hosts: dict = None, *, extra_modules=(),
                 extra_config: str = "", log_level: str = "debug",
                 prosody_bin: str = None, prosodyctl_bin: str = None) -> None:
        if not address.startswith("127."):
            raise ProsodyError(f"address {address!r}: only loopback (127.0.0.0/8) addresses")
        self.workdir = Path(workdir).resolve()
        self.domain = domain
        self.address = address
        self.c2s_port = int(c2s_port)
        self.s2s_port = int(s2s_port)
        self.source_cert, self.source_key, self.source_ca = Path(cert), Path(key), Path(ca_file)
        self.extra_hosts = dict(extra_hosts or {})
        self.extra_modules = tuple(extra_modules)
        self.extra_config = extra_config
        self.log_level = log_level
        self.prosody_bin = prosody_bin or shutil.which("prosody") or "/usr/bin/prosody"
        self.prosodyctl_bin = prosodyctl_bin or shutil.which("prosodyctl") or "/usr/bin/prosodyctl"

        self.config_path = self.workdir / "prosody.cfg.lua"
        self.data_path = self.workdir / "data"
        self.certs_path = self.workdir / "certs"
        self.capath = self.workdir / "capath"  # empty: no system trust store for s2s
        self.log_path = self.workdir / "prosody.log"
        self.console_path = self.workdir / "prosody.console"  # stdout/stderr of the process
        self.pid_path = self.workdir / "prosody.pid"
        self.socket_path = self.workdir / "prosody.sock"
        self.hosts_path = self.workdir / "hosts"
        self.cert_path = self.certs_path / f"{domain}.crt"
        self.key_path = self.certs_path / f"{domain}.key"
        self.ca_path = self.certs_path / "ca.crt"

        self.process = None
        self._console = None
        self._prepared = False
        if os.geteuid() == 0:  # prosody refuses to run as root: run it as its own user
            entry = pwd.getpwnam(PROSODY_USER)
            self.uid, self.gid = entry.pw_uid, entry.pw_gid
        else:
            self.uid = self.gid = None

    # ---- configuration ----------------------------------------------------------------

    def config_text(self) -> str:
        hoststxt = lua_string(self.hosts_path) if self.extra_hosts else "true"
        modules = list(dict.fromkeys(self.DEFAULT_MODULES + self.extra_modules))
        levels = f'{{ min = {lua_string(self.log_level)} }}'
        return f"""-- Written by tests/interop/prosody_peer.py for an interop test; rewritten on start().
-- Process
pidfile = {lua_string(self.pid_path)}
data_path = {lua_string(self.data_path)}
daemonize = false -- prosody is started with -F anyway (0.12 reads this only without -D/-F)
admin_socket = {lua_string(self.socket_path)} -- unused unless admin_socket/admin_shell is loaded
plugin_paths = {{ }}
log = {{
\t{{ levels = {levels}, to = "file", filename = {lua_string(self.log_path)}, timestamps = "%Y-%m-%d %H:%M:%S" }};
}}

-- Network: one loopback address, IPv4 only, no HTTP, no components, no direct TLS ports
interfaces = {{ {lua_string(self.address)} }}
local_interfaces = {{ {lua_string(self.address)} }}
c2s_ports = {{ {self.c2s_port} }}
s2s_ports = {{ {self.s2s_port} }}
c2s_direct_tls_ports = {{ }}
s2s_direct_tls_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
component_ports = {{ }}
use_ipv6 = false

-- DNS (libunbound): names from the hosts file; nothing is sent off this machine (queries for
-- names neither in the hosts file nor under .test go to 127.0.0.1:53 and fail)
unbound = {{ hoststxt = {hoststxt}, resolvconf = false, forward = "127.0.0.1" }}

-- Security
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = true -- certificate (chain + name) required for every s2s peer
authentication = "internal_hashed"
storage = "internal"
certificates = {lua_string(self.certs_path)}
ssl = {{ cafile = {lua_string(self.ca_path)}, capath = {lua_string(self.capath)} }}

modules_enabled = {lua_list(modules)}
modules_disabled = {{ "dialback" }}
{self.extra_config}

VirtualHost {lua_string(self.domain)}
\tssl = {{
\t\tcertificate = {lua_string(self.cert_path)};
\t\tkey = {lua_string(self.key_path)};
\t\tcafile = {lua_string(self.ca_path)};
\t\tcapath = {lua_string(self.capath)};
\t}}
"""

    def hosts_text(self) -> str:
        base = Path("/etc/hosts").read_text() if Path("/etc/hosts").exists() else ""
        if base and not base.endswith("\n"):
            base += "\n"
        return base + "".join(f"{ip}\t{name}\n" for name, ip in self.extra_hosts.items())

    def _own(self, path: Path, mode: int) -> None:
        if self.uid is not None:
            os.chown(path, self.uid, self.gid)
        os.chmod(path, mode)

    def prepare(self) -> None:
        """Writes the work directory: config, certificates, hosts file, data directory."""
        for d in (self.workdir, self.data_path, self.certs_path, self.capath):
            d.mkdir(parents=True, exist_ok=True)
        for src, dst, mode in ((self.source_cert, self.cert_path, 0o644),
                               (self.source_key, self.key_path, 0o600),
                               (self.source_ca, self.ca_path, 0o644)):
            if not src.is_file():
                raise ProsodyError(f"{src}: no such file")
            if src.resolve() != dst.resolve():
                shutil.copyfile(src, dst)
            self._own(dst, mode)
        self.config_path.write_text(self.config_text())
        self._own(self.config_path, 0o640)
        if self.extra_hosts:
            self.hosts_path.write_text(self.hosts_text())
            self._own(self.hosts_path, 0o644)
        for d in (self.workdir, self.data_path, self.certs_path, self.capath):
            self._own(d, 0o750)
        if self.uid is not None:  # e.g. a work directory under /root: say so now, clearly
            probe = subprocess.run(["test", "-r", str(self.config_path), "-a",
                                    "-w", str(self.data_path)], **self._as_prosody())
            if probe.returncode != 0:
                raise ProsodyError(f"the {PROSODY_USER} user cannot read {self.config_path} or "
                                   f"write {self.data_path}: a parent directory of "
                                   f"{self.workdir} is not searchable by it")
        self._prepared = True

    def _as_prosody(self) -> dict:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def _env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
        env.setdefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        env["HOME"] = str(self.data_path)
        return env

    # ---- accounts ---------------------------------------------------------------------

    def add_user(self, user: str, password: str) -> None:
        """Registers user@domain with `prosodyctl register` (works with Prosody stopped
        or running: it writes the account file in data_path)."""
        if not self._prepared:
            self.prepare()
        result = subprocess.run(
            [self.prosodyctl_bin, "--config", str(self.config_path), "register", user,
             self.domain, password],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
            env=self._env(), cwd=self.workdir, **self._as_prosody())
        if result.returncode != 0:
            raise ProsodyError(f"prosodyctl register {user} {self.domain} failed "
                               f"(exit {result.returncode}): {result.stdout}{result.stderr}".strip())

    # ---- process ----------------------------------------------------------------------

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        """Starts `prosody -F` and waits until both its ports accept TCP connections."""
        if self.running():
            raise ProsodyError(f"Prosody for {self.domain} is already running (pid {self.pid})")
        for port in (self.c2s_port, self.s2s_port):
            if not port_is_free(self.address, port):
                raise ProsodyError(f"{self.address}:{port} is already in use")
        self.prepare()  # rewrites the config and the hosts file (picks up /etc/hosts now)
        self.log_path.unlink(missing_ok=True)
        self._console = open(self.console_path, "wb")
        self.process = subprocess.Popen(
            [self.prosody_bin, "--config", str(self.config_path), "-F"],
            stdin=subprocess.DEVNULL, stdout=self._console, stderr=subprocess.STDOUT,
            cwd=self.workdir, env=self._env(), start_new_session=True, **self._as_prosody())
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                code = self.process.returncode
                self._close_console()
                raise ProsodyError(f"Prosody for {self.domain} exited with {code} while "
                                   f"starting\n{self.diagnostics()}")
            if accepts_tcp(self.address, self.c2s_port) and accepts_tcp(self.address, self.s2s_port):
                break
            if time.monotonic() > deadline:
                self.stop()
                raise ProsodyError(f"Prosody for {self.domain} did not accept connections on "
                                   f"{self.address}:{self.c2s_port} and :{self.s2s_port} within "
                                   f"{timeout:g} s\n{self.diagnostics()}")
            time.sleep(0.1)
        errors = self.log_lines(level="error")
        if errors:  # e.g. a certificate it could not load: fail now, not in the test
            self.stop()
            raise ProsodyError(f"Prosody for {self.domain} logged errors while starting:\n"
                               + "".join(errors) + self.diagnostics())

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to our child (and only it), SIGKILL if it is still there after `timeout`."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._close_console()

    def _close_console(self) -> None:
        if self._console is not None:
            self._console.close()
            self._console = None

    def __enter__(self) -> "ProsodyPeer":
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    # ---- logs -------------------------------------------------------------------------

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self, level: str = None) -> list:
        """Lines of prosody.log: 'DATE TIME source<TAB>level<TAB>message'."""
        lines = self.log_text().splitlines(keepends=True)
        if level:
            lines = [line for line in lines if f"\t{level}\t" in line]
        return lines

    def log_tail(self, lines: int = 40) -> str:
        return "".join(self.log_lines()[-lines:]) if lines > 0 else ""

    def diagnostics(self, lines: int = 40) -> str:
        console = ""
        try:
            console = self.console_path.read_text(errors="replace").strip()
        except FileNotFoundError:
            pass
        text = f"--- last lines of {self.log_path} ---\n{self.log_tail(lines)}"
        if console:
            text += f"--- output of the prosody process ---\n{console[-4000:]}\n"
        return text

    def wait_for_log(self, pattern: str, timeout: float = 10.0):
        """Waits until a line of the log matches the regular expression; returns the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_lines():
                match = regex.search(line)
                if match:
                    return match
            if time.monotonic() > deadline:
                raise ProsodyError(f"no line matching {pattern!r} in {self.log_path} within "
                                   f"{timeout:g} s\n{self.diagnostics()}")
            time.sleep(0.1)


def pairs(values, what: str) -> dict:
    result = {}
    for value in values or ():
        name, sep, rest = value.partition("=" if what == "NAME=IP" else ":")
        if not sep or not name or not rest:
            raise SystemExit(f"prosody_peer: expected {what}, got {value!r}")
        result[name] = rest
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Run one Prosody as a federation peer until SIGINT/SIGTERM.")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--domain", required=True)
    parser.add_argument("--address", default="127.0.0.2")
    parser.add_argument("--c2s-port", type=int, default=5222)
    parser.add_argument("--s2s-port", type=int, default=5269)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--user", action="append", metavar="NAME:PASSWORD", help="register (repeatable)")
    parser.add_argument("--extra-host", action="append", metavar="NAME=IP",
                        help="resolve NAME to IP for this Prosody only (repeatable)")
    parser.add_argument("--etc-hosts", action="append", metavar="NAME=IP",
                        help="add to /etc/hosts while running, removed on exit (repeatable)")
    parser.add_argument("--log-level", default="debug")
    args = parser.parse_args()

    peer = ProsodyPeer(args.workdir, args.domain, args.address, args.c2s_port, args.s2s_port,
                       args.cert, args.key, args.ca_file, pairs(args.extra_host, "NAME=IP"),
                       log_level=args.log_level)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    with HostsEntries(pairs(args.etc_hosts, "NAME=IP")):
        try:
            for name, password in pairs(args.user, "NAME:PASSWORD").items():
                peer.add_user(name, password)
            peer.start()
        except ProsodyError as e:
            sys.stderr.write(f"prosody_peer: {e}\n")
            return 1
        try:
            print(json.dumps({"pid": peer.pid, "domain": peer.domain, "address": peer.address,
                              "c2s_port": peer.c2s_port, "s2s_port": peer.s2s_port,
                              "config": str(peer.config_path), "log": str(peer.log_path)}),
                  flush=True)
            while not stop and peer.running():
                time.sleep(0.2)
            if not peer.running():
                sys.stderr.write(f"prosody_peer: Prosody exited with {peer.process.returncode}\n"
                                 f"{peer.diagnostics()}")
                return 1
        finally:
            peer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
