#!/usr/bin/env python3
"""parley and a real Prosody 0.12 federate: messages both ways and a subscription each way.

The caller has already made a test CA with a certificate for prosody.test
(`parley cert dev --out CADIR --domain prosody.test`), started parley for parley.test (c2s
with STARTTLS on 127.0.0.1:--parley-c2s-port, s2s on 127.0.0.3:5269, its certificate from
the same CA, the static route `"prosody.test" = "127.0.0.2:<--prosody-s2s-port>"`) and
created alice@parley.test with --alice-password. This script

  - starts Prosody for prosody.test on 127.0.0.2 (c2s on a free port, s2s on
    --prosody-s2s-port) with prosody_peer.py in --workdir: certificates only (SASL EXTERNAL,
    s2s_secure_auth, dialback disabled), the CA file as the only trust anchor, and
    parley.test resolved to 127.0.0.3 from a hosts file of its own (/etc/hosts is not
    touched), so Prosody dials parley.test at 127.0.0.3:5269;
  - registers bob@prosody.test (a fresh Prosody data directory every run);
  - logs in bob (Prosody's c2s) and alice (parley's c2s, 127.0.0.1) with slixmpp over
    STARTTLS, each server's certificate verified against --ca-file only; both fetch the
    roster (interested resources, RFC 6121 §2.1.6) and send initial presence; slixmpp's
    own subscription handling is off (auto_authorize None, auto_subscribe False), so every
    approval below is sent by this script;

and checks, printing `PASS name` or `FAIL name: reason` for each:

  parley-to-prosody  alice sends a chat message to bob@prosody.test; bob receives it from
                     alice's full JID with the same body (Prosody accepted parley.test's
                     SASL EXTERNAL);
  prosody-to-parley  bob sends a chat message to alice@parley.test; alice receives it from
                     bob's full JID (Prosody dialed parley.test and completed its link);
  subscription       alice subscribes to bob: bob gets the subscribe from alice's bare JID
                     and answers subscribed, alice gets the subscribed and bob's available
                     presence from his full JID; then the reverse, bob subscribing to alice;
  shutdown           Prosody stops on SIGTERM with exit status 0, its process is gone and
                     its ports are closed.

With --verbose a PASS line goes on with the time taken and what was seen. The last line
is `N passed, M failed`; the exit status is 0 only if all passed. A failing
setup (Prosody, a login) is one more failed item, `FAIL setup: ...`, and the steps it
prevented fail as "not run". On any failure Prosody's diagnostics (warnings, s2s lines, the
tail of its log) go to standard error; its log stays in --workdir.

Everything is bounded by --timeout seconds (default 60), shutdown included. Prosody is
stopped on every path, on SIGTERM and SIGINT too; only the processes this script started
are signalled. Needs root or the prosody user (prosody_peer.py runs Prosody as `prosody`),
Debian's prosody, lua-unbound and python3-slixmpp: run it with /usr/bin/python3.
"""

import argparse
import asyncio
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path

# Before slixmpp is imported: it logs a warning about its pure-Python stringprep at import.
logging.basicConfig(level=logging.CRITICAL, format="%(levelname)s %(name)s: %(message)s",
                    stream=sys.stderr)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prosody_peer import ProsodyError, ProsodyPeer, accepts_tcp, free_port  # noqa: E402

try:
    import slixmpp
except ImportError as e:
    sys.stderr.write(f"prosody_federation: cannot import slixmpp ({e}); install Debian's "
                     "python3-slixmpp and run this with /usr/bin/python3\n")
    sys.exit(4)

# The slixmpp client, shared with prosody_selftest.py.
from interop_client import Client, Failure, describe_exception, login, logout  # noqa: E402

PARLEY = ("parley.test", "127.0.0.3")    # domain, the address Prosody resolves it to
PROSODY = ("prosody.test", "127.0.0.2")  # domain, the address Prosody listens on
PARLEY_C2S_HOST = "127.0.0.1"
STEPS = ("parley-to-prosody", "prosody-to-parley", "subscription", "shutdown")
STEP_LIMIT = {"parley-to-prosody": 20.0, "prosody-to-parley": 20.0, "subscription": 30.0}
LOGIN_LIMIT = 15.0
AVAILABLE = ("available", "chat", "away", "xa", "dnd")  # slixmpp's types of an available presence
PROSODY_CONFIG_MARK = "-- Written by tests/interop/prosody_peer.py"


class GiveUp(BaseException):
    """The overall time is up, or we were told to stop (raised from a signal handler)."""


# ---- failure messages ----------------------------------------------------------------------

def summary(stanza) -> str:
    """One short line for a failure message: kind, type, from, and the body or error."""
    kind = stanza.name
    text = f"{kind} type={stanza['type']} from={stanza['from']}"
    if stanza["type"] == "error":
        text += f" error={stanza['error']['type']}/{stanza['error']['condition']}"
        if stanza["error"]["text"]:
            text += f" {stanza['error']['text']!r}"
    elif kind == "message" and stanza["body"]:
        text += f" body={stanza['body'][:60]!r}"
    return text


class Clock:
    """The overall deadline, and the part of it the work before the shutdown may use."""

    def __init__(self, total: float) -> None:
        self.started = time.monotonic()
        self.total = total
        # Kept for stopping Prosody: with s2s links open it takes about 1 s.
        self.reserve = min(10.0, max(5.0, total * 0.15))

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def work_left(self) -> float:
        return self.total - self.reserve - self.elapsed()

    def total_left(self) -> float:
        return self.total - self.elapsed()

    def limit(self, wanted: float) -> float:
        """`wanted` seconds, or less: what the work budget still allows, ending a little
        before the alarm so that a step times out with its own, more precise message."""
        return max(0.1, min(wanted, self.work_left() - 0.5))


async def expect(client: Client, what: str, match, timeout: float, watch=(),
                 errors=("message", "presence")) -> "slixmpp.ElementBase":
    """Waits until `client` has received a stanza for which match(stanza) is true, and
    returns (consumes) it. An error stanza of a kind in `errors` received meanwhile by
    `client` or by a client in `watch` (typically a bounce to the sender) fails at once."""
    deadline = time.monotonic() + timeout
    while True:
        for c in (client, *watch):
            for stanza in c.inbox:
                if stanza["type"] == "error" and stanza.name in errors:
                    c.inbox.remove(stanza)
                    raise Failure(f"{c.boundjid.bare} received an error while "
                                  f"{client.boundjid.bare} waited for {what}: {summary(stanza)}")
        for stanza in client.inbox:
            if match(stanza):
                client.inbox.remove(stanza)
                return stanza
        if time.monotonic() >= deadline:
            seen = "; ".join(summary(s) for s in client.inbox[-6:]) or "nothing"
            raise Failure(f"{client.boundjid.bare}: no {what} within {timeout:.1f} s "
                          f"(received meanwhile: {seen})")
        await asyncio.sleep(0.05)


def drop_errors(*clients) -> None:
    """Error stanzas left from an earlier step must not fail the next one."""
    for c in clients:
        c.inbox = [s for s in c.inbox if s["type"] != "error"]


# ---- the steps ---------------------------------------------------------------------------

class Context:
    def __init__(self, args: argparse.Namespace, clock: Clock) -> None:
        self.args = args
        self.clock = clock
        self.ca = Path(args.ca_file).resolve()
        self.bob_password = secrets.token_urlsafe(12)
        self.peer = None
        self.alice = None
        self.bob = None
        self.token = secrets.token_hex(4)  # ties bodies to this run

    def wait_for_prosody_log(self, pattern: str, timeout: float = 3.0) -> str:
        try:
            return self.peer.wait_for_log(pattern, timeout).string.strip()
        except ProsodyError:
            raise Failure(f"no line matching {pattern!r} in Prosody's log {self.peer.log_path}") from None


async def step_parley_to_prosody(ctx: Context) -> str:
    alice, bob = ctx.alice, ctx.bob
    body = f"hello bob, from parley.test: h\u00e9llo <&> \u2713 {ctx.token}-1"
    alice.send_message(mto=f"bob@{PROSODY[0]}", mbody=body, mtype="chat")
    msg = await expect(bob, f"chat message from {alice.boundjid.full}",
                       lambda s: s.name == "message" and s["from"].bare == alice.boundjid.bare,
                       ctx.clock.limit(STEP_LIMIT["parley-to-prosody"]), watch=(alice,),
                       errors=("message",))
    if msg["from"].full != alice.boundjid.full:
        raise Failure(f"bob got the message from {msg['from']}, not from {alice.boundjid.full}")
    if msg["type"] != "chat":
        raise Failure(f"bob got a message of type {msg['type']!r}, not 'chat'")
    if msg["body"] != body:
        raise Failure(f"bob got the body {msg['body']!r}, expected {body!r}")
    line = ctx.wait_for_prosody_log(r"Accepting SASL EXTERNAL identity from parley\.test")
    return f"from {msg['from']} to {msg['to']}, body {msg['body']!r}; Prosody: {line.split(chr(9))[-1]!r}"


async def step_prosody_to_parley(ctx: Context) -> str:
    alice, bob = ctx.alice, ctx.bob
    body = f"hello alice, from prosody.test: gr\u00fc\u00dfe <&> \u2713 {ctx.token}-2"
    bob.send_message(mto=f"alice@{PARLEY[0]}", mbody=body, mtype="chat")
    msg = await expect(alice, f"chat message from {bob.boundjid.full}",
                       lambda s: s.name == "message" and s["from"].bare == bob.boundjid.bare,
                       ctx.clock.limit(STEP_LIMIT["prosody-to-parley"]), watch=(bob,),
                       errors=("message",))
    if msg["from"].full != bob.boundjid.full:
        raise Failure(f"alice got the message from {msg['from']}, not from {bob.boundjid.full}")
    if msg["type"] != "chat":
        raise Failure(f"alice got a message of type {msg['type']!r}, not 'chat'")
    if msg["body"] != body:
        raise Failure(f"alice got the body {msg['body']!r}, expected {body!r}")
    line = ctx.wait_for_prosody_log(r"Outgoing s2s connection prosody\.test->parley\.test complete")
    return f"from {msg['from']} to {msg['to']}, body {msg['body']!r}; Prosody: {line.split(chr(9))[-1]!r}"


def presence_from(jid, kinds, full: bool = False):
    """A matcher: a presence whose type is in `kinds` from `jid` (bare, or exactly full)."""
    def match(stanza) -> bool:
        if stanza.name != "presence" or stanza["type"] not in kinds:
            return False
        return stanza["from"].full == jid.full if full else stanza["from"].bare == jid.bare
    return match


async def subscribe(ctx: Context, user: Client, contact: Client, limit: float) -> str:
    """`user` subscribes to `contact`'s presence; the contact approves explicitly; the user
    then receives the approval and the contact's available presence from its full JID."""
    deadline = time.monotonic() + limit

    def left() -> float:
        return max(0.1, deadline - time.monotonic())

    u, c = user.boundjid, contact.boundjid
    user.send_presence(pto=c.bare, ptype="subscribe")
    request = await expect(contact, f"presence subscribe from {u.bare}",
                           presence_from(u, ("subscribe",)), left(), watch=(user,),
                           errors=("presence",))
    contact.send_presence(pto=request["from"].bare, ptype="subscribed")
    approval = await expect(user, f"presence subscribed from {c.bare}",
                            presence_from(c, ("subscribed",)), left(), watch=(contact,),
                            errors=("presence",))
    available = await expect(user, f"available presence from {c.full}",
                             presence_from(c, AVAILABLE, full=True), left(), watch=(contact,),
                             errors=("presence",))
    return (f"{u.bare} -> {c.bare}: subscribe from {request['from']}, subscribed from "
            f"{approval['from']}, available from {available['from']}")


async def step_subscription(ctx: Context) -> str:
    limit = ctx.clock.limit(STEP_LIMIT["subscription"])
    started = time.monotonic()
    first = await subscribe(ctx, ctx.alice, ctx.bob, limit)
    drop_errors(ctx.alice, ctx.bob)
    second = await subscribe(ctx, ctx.bob, ctx.alice,
                             ctx.clock.limit(limit - (time.monotonic() - started)))
    await asyncio.sleep(0.3)  # roster pushes, for the detail line only
    rosters = []
    for owner, contact in ((ctx.alice, ctx.bob), (ctx.bob, ctx.alice)):
        item = owner.client_roster[contact.boundjid.bare]
        rosters.append(f"{owner.boundjid.bare}'s roster has {contact.boundjid.bare} "
                       f"subscription={item['subscription']}")
    return f"{first}; {second}; {', '.join(rosters)}"


def step_shutdown(ctx: Context) -> str:
    peer = ctx.peer
    if peer is None or peer.process is None:
        raise Failure("Prosody was never started")
    pid = peer.pid
    budget = max(2.0, ctx.clock.total_left() - 1.0)
    was_running = peer.running()
    peer.stop(timeout=min(10.0, budget))
    code = peer.process.returncode
    if not was_running:
        raise Failure(f"Prosody (pid {pid}) had already exited with status {code} before the shutdown")
    if code != 0:
        raise Failure(f"Prosody (pid {pid}) exited with status {code} after SIGTERM "
                      f"({'killed: it did not stop in time' if code == -signal.SIGKILL else 'not 0'})")
    if Path(f"/proc/{pid}").exists():
        raise Failure(f"process {pid} still exists")
    open_ports = [p for p in (peer.c2s_port, peer.s2s_port) if accepts_tcp(peer.address, p, 0.3)]
    if open_ports:
        raise Failure(f"something still accepts connections on {peer.address} port(s) {open_ports}")
    return f"pid {pid} exited 0 on SIGTERM and is gone; {peer.address}:{peer.c2s_port}/{peer.s2s_port} closed"


# ---- running it all ----------------------------------------------------------------------

async def forget_earlier_runs(ctx: Context, verbose: bool) -> None:
    """bob's Prosody account is new every run, but alice's account on parley may be reused
    (a parley kept running between runs): a roster item for bob@prosody.test left from an
    earlier run would make parley ignore bob's 'subscribed' (RFC 6121 §3.1.6: no pending
    request). Such an item is removed first; a new parley has none, so nothing is sent."""
    bob = f"bob@{PROSODY[0]}"
    if not ctx.alice.client_roster.has_jid(bob):
        return
    state = ctx.alice.client_roster[bob]["subscription"]
    try:
        await ctx.alice.del_roster_item(bob)
    except Exception as error:
        raise Failure(f"alice@{PARLEY[0]}: removing {bob} (subscription={state}) from an "
                      f"earlier run failed: {describe_exception(error)}") from None
    await asyncio.sleep(0.3)  # the unsubscribe/unsubscribed it causes, before the steps
    ctx.alice.inbox.clear()
    ctx.bob.inbox.clear()
    if verbose:
        print(f"alice's roster held {bob} (subscription={state}) from an earlier run: removed",
              flush=True)


class Results:
    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.outcomes = {}  # name -> bool, in order of reporting
        self.interrupted = None  # why the run was cut short (signal, overall timeout)

    def passed(self, name: str, started: float, detail: str = "") -> None:
        self.outcomes[name] = True
        if self.verbose:  # `PASS name` exactly otherwise
            print(f"PASS {name} ({time.monotonic() - started:.1f} s): {detail}", flush=True)
        else:
            print(f"PASS {name}", flush=True)

    def failed(self, name: str, reason: str) -> None:
        self.outcomes[name] = False
        print(f"FAIL {name}: {reason}", flush=True)

    def all_passed(self) -> bool:
        return bool(self.outcomes) and all(self.outcomes.values())

    def final_line(self) -> None:
        passed = sum(self.outcomes.values())
        print(f"{passed} passed, {len(self.outcomes) - passed} failed", flush=True)


async def exercise(ctx: Context, results: Results, handlers: dict):
    """Logs alice and bob in and runs the three exchange steps, each bounded by the clock.
    SIGTERM/SIGINT/SIGALRM cancel this task (the loop's own handlers), which fails the step
    under way; the process-wide handlers are put back before returning. Returns why it was
    interrupted, or None."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    interrupted = []

    def interrupt(reason: str) -> None:
        interrupted.append(reason)
        task.cancel()

    reasons = {signal.SIGTERM: "received SIGTERM", signal.SIGINT: "received SIGINT",
               signal.SIGALRM: f"gave up: the overall --timeout of {ctx.clock.total:g} s was reached"}
    for signum, reason in reasons.items():
        loop.add_signal_handler(signum, interrupt, reason)
    args = ctx.args
    name = "setup"
    started = time.monotonic()
    try:
        try:
            ctx.bob = await login(f"bob@{PROSODY[0]}/federation", ctx.bob_password, ctx.peer.address,
                                  ctx.peer.c2s_port, ctx.ca, ctx.clock.limit(LOGIN_LIMIT))
            ctx.alice = await login(f"alice@{PARLEY[0]}/federation", args.alice_password,
                                    PARLEY_C2S_HOST, args.parley_c2s_port, ctx.ca,
                                    ctx.clock.limit(LOGIN_LIMIT))
            if results.verbose:
                print(f"logged in: {ctx.alice.describe()}; {ctx.bob.describe()}", flush=True)
            await forget_earlier_runs(ctx, results.verbose)
            for name, fn in (("parley-to-prosody", step_parley_to_prosody),
                             ("prosody-to-parley", step_prosody_to_parley),
                             ("subscription", step_subscription)):
                started = time.monotonic()
                drop_errors(ctx.alice, ctx.bob)
                try:
                    detail = await fn(ctx)
                except Failure as e:
                    results.failed(name, str(e))
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # a bug or an unexpected error: a failed step, not a crash
                    results.failed(name, f"{type(e).__name__}: {e}")
                else:
                    results.passed(name, started, detail)
        except Failure as e:  # a login, or the roster clean-up
            results.failed(name, str(e))
        except Exception as e:  # unexpected: still a failure, reported as such
            results.failed(name, f"{type(e).__name__}: {e}")
        except asyncio.CancelledError:
            if not interrupted:
                raise
            results.failed(name, f"{interrupted[0]} after {time.monotonic() - started:.1f} s in this step")
        finally:
            await logout(ctx.bob, ctx.alice)
    except asyncio.CancelledError:  # a second signal while logging out: done anyway
        pass
    finally:
        for signum, handler in handlers.items():
            loop.remove_signal_handler(signum)
            signal.signal(signum, handler)
    return interrupted[0] if interrupted else None


def prepare_workdir(workdir: Path) -> None:
    """The Prosody work directory: created if missing; Prosody's data from an earlier run of
    this script is removed (fresh accounts and rosters); anything else is refused."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prosody.cfg.lua"
    data = workdir / "data"
    if data.exists():
        ours = config.is_file() and config.read_text(errors="replace").startswith(PROSODY_CONFIG_MARK)
        if not ours:
            raise Failure(f"{workdir} holds a data/ directory that is not from this script; "
                          "give an empty or new --workdir")
        shutil.rmtree(data)
    if os.geteuid() == 0:  # Prosody runs as the prosody user: it must reach the directory
        mode = workdir.stat().st_mode
        if not mode & 0o001:
            os.chmod(workdir, mode | 0o001)


def diagnostics(peer) -> str:
    if peer is None:
        return ""
    lines = peer.log_lines()
    warnings = [l for l in lines if "\twarn\t" in l or "\terror\t" in l][-30:]
    s2s = [l for l in lines if re.search(r"^\S+ \S+ (s2s|mod_s2s)", l)
           or "parley.test" in l][-80:]
    text = f"=== Prosody diagnostics (log: {peer.log_path}) ===\n"
    text += "--- warnings and errors ---\n" + ("".join(warnings) or "(none)\n")
    text += "--- s2s and parley.test lines (last 80) ---\n" + ("".join(s2s) or "(none)\n")
    text += peer.diagnostics(40)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True, help="Prosody's work directory (created)")
    parser.add_argument("--ca-file", required=True, help="the test CA (PEM): the only trust anchor")
    parser.add_argument("--prosody-cert", required=True, help="certificate for prosody.test (PEM)")
    parser.add_argument("--prosody-key", required=True, help="its private key (PEM)")
    parser.add_argument("--prosody-s2s-port", type=int, required=True,
                        help="Prosody's s2s port on 127.0.0.2 (parley's static route)")
    parser.add_argument("--parley-c2s-port", type=int, required=True,
                        help="parley's c2s (STARTTLS) port on 127.0.0.1")
    parser.add_argument("--alice-password", required=True, help="password of alice@parley.test")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for everything (60)")
    parser.add_argument("--verbose", action="store_true", help="details of each step")
    args = parser.parse_args()
    for option in ("ca_file", "prosody_cert", "prosody_key"):
        if not Path(getattr(args, option)).is_file():
            parser.error(f"--{option.replace('_', '-')} {getattr(args, option)}: no such file")
    if args.timeout < 10:
        parser.error("--timeout must be at least 10 seconds")
    for tool in ("prosody", "prosodyctl"):
        if not shutil.which(tool):
            sys.stderr.write(f"prosody_federation: {tool} not found (apt-get install prosody lua-unbound)\n")
            return 2

    clock = Clock(args.timeout)
    ctx = Context(args, clock)
    results = Results(args.verbose)

    def give_up(_signum, _frame):
        raise GiveUp(f"gave up: the overall --timeout of {args.timeout:g} s was reached")

    def terminated(signum, _frame):
        raise GiveUp(f"received {signal.Signals(signum).name}")

    handlers = {signal.SIGALRM: give_up, signal.SIGTERM: terminated, signal.SIGINT: terminated}
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
    signal.setitimer(signal.ITIMER_REAL, max(0.1, clock.work_left()))

    try:
        try:
            workdir = Path(args.workdir).resolve()
            prepare_workdir(workdir)
            ctx.peer = ProsodyPeer(workdir, PROSODY[0], PROSODY[1], free_port(PROSODY[1]),
                                   args.prosody_s2s_port, args.prosody_cert, args.prosody_key,
                                   ctx.ca, extra_hosts={PARLEY[0]: PARLEY[1]})
            ctx.peer.add_user("bob", ctx.bob_password)
            ctx.peer.start(timeout=clock.limit(15.0))
            if args.verbose:
                print(f"started Prosody for {PROSODY[0]}: pid {ctx.peer.pid}, c2s "
                      f"{PROSODY[1]}:{ctx.peer.c2s_port}, s2s {PROSODY[1]}:{ctx.peer.s2s_port}, "
                      f"log {ctx.peer.log_path}", flush=True)
        except (Failure, ProsodyError, OSError) as e:
            results.failed("setup", str(e).split("\n")[0])
        else:
            interrupted = asyncio.run(exercise(ctx, results, handlers))
            if interrupted:
                raise GiveUp(interrupted)
    except GiveUp as e:
        results.interrupted = str(e)
        if not results.outcomes:  # while starting Prosody
            results.failed("setup", str(e))
        elif all(results.outcomes.values()):  # between steps, say: still a failure
            results.failed("interrupted", str(e))
    except Exception as e:  # a bug here: still stop Prosody and say so
        results.failed("setup" if not results.outcomes else "internal", f"{type(e).__name__}: {e}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        # From here on a signal is noted, not obeyed: Prosody must be stopped first.
        late = []
        for signum in handlers:
            signal.signal(signum, lambda s, _f: late.append(s))
        first_failure = next((n for n, ok in results.outcomes.items() if not ok), None)
        why = (f"interrupted: {results.interrupted}" if results.interrupted
               else f"{first_failure} failed" if first_failure else "?")
        for name in STEPS[:-1]:
            if name not in results.outcomes:
                results.failed(name, f"not run ({why})")
        started = time.monotonic()
        try:
            detail = step_shutdown(ctx)
        except (Failure, ProsodyError) as e:
            results.failed("shutdown", str(e))
        except Exception as e:
            results.failed("shutdown", f"{type(e).__name__}: {e}")
        else:
            results.passed("shutdown", started, detail)
        finally:
            if ctx.peer is not None:
                ctx.peer.stop(timeout=1.0)  # no-op when stopped; SIGKILL if it still runs
        if not results.all_passed():
            sys.stderr.write(diagnostics(ctx.peer))
            sys.stderr.flush()
        results.final_line()
        if late:
            sys.stderr.write(f"prosody_federation: received signal(s) {late} while stopping Prosody\n")
    return 0 if results.all_passed() else 1


if __name__ == "__main__":
    sys.exit(main())
