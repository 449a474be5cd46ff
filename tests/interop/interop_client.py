"""The slixmpp client shared by prosody_federation.py and prosody_selftest.py.

One class, `Client`: logs in at exactly host:port over STARTTLS, the server's certificate
verified against the test CA only and for the JID's domain, fetches the roster (an
interested resource, RFC 6121 §2.1.6), sends initial presence, and keeps every message and
presence it receives in `inbox`, in order of arrival. Subscription requests are left
pending (no automatic answers), so a test sends every approval itself.

`login()` / `logout()` bound every step; a failure is a `Failure` with what was expected and
what happened. Import it after logging is configured: slixmpp logs a warning at import.
"""

import asyncio
import ssl
import time
from pathlib import Path

import slixmpp


class Failure(Exception):
    """A step or check failed; the message says what was expected and what happened."""


class Client(slixmpp.ClientXMPP):
    """Logs in at exactly host:port over STARTTLS, the certificate verified against the test
    CA only and for the JID's domain; keeps every message and presence it receives."""

    def __init__(self, jid: str, password: str, host: str, port: int, ca_file: Path) -> None:
        super().__init__(jid, password)
        self.where = (host, port)
        self.ready = asyncio.get_running_loop().create_future()
        self.inbox = []  # messages and presences, in order of arrival, not yet consumed
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = True
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_verify_locations(cafile=str(ca_file))
        self.ssl_context = context
        # slixmpp loads this file into the context before each handshake; left unset, it
        # would add the system's default trust store.
        self.ca_certs = Path(ca_file)
        self.default_domain = self.boundjid.domain  # the name the certificate must carry
        self["feature_mechanisms"].unencrypted_scram = False
        self["feature_mechanisms"].unencrypted_plain = False
        self.whitespace_keepalive = False
        # Roster-aware, but no automatic answers: auto_authorize=None leaves a subscription
        # request pending (False would refuse it with 'unsubscribed', True would approve
        # it), auto_subscribe=False sends no subscription request back.
        self.auto_authorize = None
        self.auto_subscribe = False
        for event, handler in (("ssl_invalid_chain", self.on_invalid_chain),
                               ("connection_failed", self.on_connection_failed),
                               ("failed_all_auth", self.on_failed_all_auth),
                               ("stream_error", self.on_stream_error),
                               ("disconnected", self.on_disconnected),
                               ("session_start", self.on_session_start),
                               ("message", self.on_stanza),
                               ("message_error", self.on_message_error),
                               ("presence", self.on_stanza)):
            self.add_event_handler(event, handler)

    async def get_dns_records(self, domain, port=None):
        """Connects exactly where we were told; no DNS for the domain."""
        return [(self.default_domain, self.where[0], self.where[1])]

    def fail(self, message: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(Failure(f"{self.boundjid.bare}: {message}"))

    def on_invalid_chain(self, error) -> None:
        self.fail(f"TLS certificate verification failed: {error}")

    def on_connection_failed(self, error) -> None:
        # slixmpp would retry after a growing delay; a test wants the first error.
        self.fail(f"connection to {self.where[0]}:{self.where[1]} failed: {error}")

    def on_failed_all_auth(self, _event) -> None:
        tried = sorted(self["feature_mechanisms"].attempted_mechs)
        self.fail(f"authentication failed (tried {', '.join(tried) or 'no mechanism'})")

    def on_stream_error(self, error) -> None:
        self.fail(f"stream error: {error['condition']} {error['text']}".strip())

    def on_disconnected(self, reason) -> None:
        self.fail(f"disconnected before the session started: {reason}")

    def tls_object(self):
        return self.transport.get_extra_info("ssl_object") if self.transport else None

    async def on_session_start(self, _event) -> None:
        tls = self.tls_object()
        if tls is None or not tls.getpeercert():  # empty unless the chain was verified
            return self.fail("logged in without a verified TLS certificate")
        if "starttls" not in self.features:
            return self.fail("the stream was not secured with STARTTLS")
        try:
            await self.get_roster(timeout=10)  # an interested resource (RFC 6121 §2.1.6)
        except Exception as error:  # IqError, IqTimeout
            return self.fail(f"roster get failed: {describe_exception(error)}")
        self.send_presence()
        if not self.ready.done():
            self.ready.set_result(None)

    def on_stanza(self, stanza) -> None:
        self.inbox.append(stanza)

    def on_message_error(self, msg) -> None:
        # slixmpp fires 'message' only for messages with a <body/>; a bounce that carries
        # the body back arrived there already.
        if not msg["body"]:
            self.inbox.append(msg)

    def describe(self) -> str:
        tls = self.tls_object()
        mech = self["feature_mechanisms"].mech
        return (f"{self.boundjid.full} via {self.where[0]}:{self.where[1]} "
                f"({tls.version() if tls else 'no TLS'}, SASL {mech.name if mech else '?'})")

    async def next_message(self, sender: str, timeout: float) -> "slixmpp.Message":
        """Consumes and returns the next message from `sender` (a bare JID); a bounce
        (an error message) received meanwhile fails at once."""
        deadline = time.monotonic() + timeout
        while True:
            for stanza in self.inbox:
                if stanza.name != "message":
                    continue
                if stanza["type"] == "error":
                    self.inbox.remove(stanza)
                    raise Failure(f"{self.boundjid.bare}: message bounced by {stanza['from']}: "
                                  f"{stanza['error']['condition']} {stanza['error']['text']}".strip())
                if stanza["from"].bare == sender:
                    self.inbox.remove(stanza)
                    return stanza
            if time.monotonic() >= deadline:
                raise Failure(f"{self.boundjid.bare}: no message from {sender} within {timeout:g} s")
            await asyncio.sleep(0.05)

    async def next_error(self, timeout: float) -> "slixmpp.Message":
        """Consumes and returns the next error message (a bounce)."""
        deadline = time.monotonic() + timeout
        while True:
            for stanza in self.inbox:
                if stanza.name == "message" and stanza["type"] == "error":
                    self.inbox.remove(stanza)
                    return stanza
            if time.monotonic() >= deadline:
                raise Failure(f"{self.boundjid.bare}: no error bounce within {timeout:g} s")
            await asyncio.sleep(0.05)


def describe_exception(error: BaseException) -> str:
    iq = getattr(error, "iq", None)
    if iq is not None and iq["type"] == "error":
        return f"{iq['error']['type']}/{iq['error']['condition']} {iq['error']['text']}".strip()
    return f"{type(error).__name__}: {error}".rstrip(": ")


def abort(client: Client) -> None:
    """Drops the connection; slixmpp's abort() raises on a transport already half gone."""
    try:
        client.abort()
    except Exception:
        pass


async def login(jid: str, password: str, host: str, port: int, ca_file: Path,
                timeout: float) -> Client:
    client = Client(jid, password, host, port, ca_file)
    client.connect((host, port), use_ssl=False, force_starttls=True, disable_starttls=False)
    try:
        await asyncio.wait_for(asyncio.shield(client.ready), timeout)
    except asyncio.TimeoutError:
        abort(client)
        raise Failure(f"{jid}: not logged in at {host}:{port} within {timeout:.1f} s") from None
    except BaseException:
        abort(client)
        raise
    return client


async def logout(*clients) -> None:
    for client in clients:
        if client is None:
            continue
        try:
            await asyncio.wait_for(client.disconnect(wait=1.0), 2)
        except Exception:
            abort(client)
