#!/usr/bin/env python3
"""A real client library against parley: Debian 12's python3-slixmpp (1.8.x).

Connects to HOST:PORT (127.0.0.1 by default) and secures the stream with STARTTLS, or
with direct TLS (XEP-0368, ALPN "xmpp-client") when --direct-tls is given. The server's
certificate is always verified: the chain against --ca-file only (no system trust store)
and the name against the JID's domain. Then it logs in with SASL (slixmpp picks the
strongest mechanism the server offers), binds the resource of --jid and sends initial
presence. In the default mode "send" it sends a chat message with --body to --peer and
waits for a chat message from --peer; in mode "reply" it waits for a chat message from
--peer first and answers the sender's full JID with --body.

On success it prints one line of JSON to standard output and exits 0:
  {"jid": "<bound full JID>", "mechanism": "SCRAM-SHA-256-PLUS", "tls_version": "TLSv1.2",
   "direct_tls": false, "alpn": null, "sent_to": "...",
   "received": {"from": "...", "type": "chat", "body": "..."}}
On any failure (connection, TLS, certificate, authentication, stream error, a bounced
message, disconnection) it writes one line starting with "slixmpp_client: " to standard
error and exits 1; when --timeout seconds pass first, it exits 3 saying what it was waiting
for. It never waits longer than --timeout (plus a few seconds to close the stream).

Channel binding: slixmpp 1.8 knows only "tls-unique", which RFC 9266 leaves undefined
for TLS 1.3 (Python's ssl module has no "tls-exporter"). With --tls-max 1.2 it logs in with
SCRAM-*-PLUS and tls-unique. Over TLS 1.3 it still sends p=tls-unique for a -PLUS
mechanism and then the "y" flag ("I could bind but you can't") for plain SCRAM, and a
server that offers -PLUS must refuse both (RFC 5802 section 6, downgrade protection).

Run it with Debian's interpreter (/usr/bin/python3): that is where python3-slixmpp lives.
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import sys
from pathlib import Path

# Before slixmpp is imported: it logs a warning about its pure-Python stringprep at import.
logging.basicConfig(level=logging.CRITICAL, format="%(levelname)s %(name)s: %(message)s",
                    stream=sys.stderr)

try:
    import slixmpp
    from slixmpp.xmlstream import ET
    from slixmpp.xmlstream.handler import Callback
    from slixmpp.xmlstream.matcher import MatchXPath
except ImportError as e:
    sys.stderr.write(f"slixmpp_client: cannot import slixmpp ({e}); install Debian's "
                     "python3-slixmpp (contrib/dev.sh installs it) and run this with /usr/bin/python3\n")
    sys.exit(4)

EXIT_FAILURE = 1
EXIT_TIMEOUT = 3


class Failure(Exception):
    """Why the exchange failed, for one line on standard error."""


class Client(slixmpp.ClientXMPP):
    """Logs in, exchanges one message with the peer and resolves `outcome`."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args.jid, args.password)
        self.args = args
        self.peer = slixmpp.JID(args.peer)
        self.outcome = asyncio.get_running_loop().create_future()
        self.stage = f"connecting to {args.host}:{args.port}"
        self.sent_to = None
        self.received = None

        # Trust the test CA only, and verify the chain and the name always: PROTOCOL_TLS_CLIENT
        # starts with CERT_REQUIRED and check_hostname, spelled out again here, and loads no
        # system trust store.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = True
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if args.tls_max == "1.2":
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.load_verify_locations(cafile=args.ca_file)
        if args.direct_tls:
            context.set_alpn_protocols(["xmpp-client"])  # XEP-0368
        self.ssl_context = context
        # slixmpp loads this file into the context again before each handshake; left unset,
        # it would add the system's default trust store instead.
        self.ca_certs = Path(args.ca_file)
        # The name the certificate must carry (also sent as SNI). slixmpp takes it from
        # default_domain, which connect() leaves empty when given an IP address.
        self.default_domain = self.boundjid.domain

        # Never authenticate over a clear stream: slixmpp 1.8 accepts force_starttls but does
        # not enforce it. PLAIN over clear text is off by default; SCRAM is on. session_start
        # checks the TLS state again.
        self["feature_mechanisms"].unencrypted_scram = False
        self["feature_mechanisms"].unencrypted_plain = False
        self.whitespace_keepalive = False

        self.add_event_handler("connected", self.on_tls_ready)  # direct TLS: handshake done
        self.add_event_handler("tls_success", self.on_tls_ready)  # STARTTLS: handshake done
        self.add_event_handler("ssl_invalid_chain", self.on_invalid_chain)
        self.add_event_handler("connection_failed", self.on_connection_failed)
        self.add_event_handler("auth_success", self.on_auth_success)
        self.add_event_handler("failed_all_auth", self.on_failed_all_auth)
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("presence_subscribed", self.on_subscribed)
        self.add_event_handler("presence_available", self.on_available)
        self.subscribed = False
        self.peer_online = False
        self.peer_ready = asyncio.get_running_loop().create_future()
        self.archive = []
        self.mam_complete = None
        self.roster_state = None
        self.add_event_handler("message_error", self.on_message_error)
        self.add_event_handler("stream_error", self.on_stream_error)
        self.add_event_handler("disconnected", self.on_disconnected)

    async def get_dns_records(self, domain, port=None):
        """Connects exactly where we were told: no SRV or A/AAAA lookups of the domain.
        The transport goes to --host:--port; the certificate is checked for the domain."""
        return [(self.default_domain, self.address[0], self.address[1])]

    def fail(self, message: str) -> None:
        if not self.outcome.done():
            self.outcome.set_exception(Failure(message))

    def tls_object(self):
        return self.transport.get_extra_info("ssl_object") if self.transport else None

    def on_tls_ready(self, _event) -> None:
        if self.tls_object() is not None:
            self.stage = "authenticating"
        else:
            self.stage = "negotiating STARTTLS"

    def on_invalid_chain(self, error) -> None:
        self.fail(f"TLS certificate verification failed: {error}")

    def on_connection_failed(self, error) -> None:
        # slixmpp would retry after a growing delay; a test wants the first error.
        if isinstance(error, ssl.SSLCertVerificationError):
            return self.fail(f"TLS certificate verification failed: {error}")
        self.fail(f"connection to {self.args.host}:{self.args.port} failed: {error}")

    def on_auth_success(self, _event) -> None:
        self.stage = "binding a resource"

    def on_failed_all_auth(self, _event) -> None:
        tried = sorted(self["feature_mechanisms"].attempted_mechs)
        self.fail(f"authentication failed (tried {', '.join(tried) or 'no mechanism'})")

    def on_stream_error(self, error) -> None:
        self.fail(f"stream error: {error['condition']} {error['text']}".strip())

    def on_disconnected(self, reason) -> None:
        self.fail(f"disconnected while {self.stage}: {reason}")

    async def on_session_start(self, _event) -> None:
        tls = self.tls_object()
        if tls is None:
            return self.fail("logged in over a stream without TLS")
        if not tls.getpeercert():  # empty unless the chain was verified
            return self.fail("the server's certificate was not verified")
        if not self.args.direct_tls and "starttls" not in self.features:
            return self.fail("the stream was not secured with STARTTLS")
        self.send_presence()
        if self.args.mode == "im":
            return asyncio.ensure_future(self.instant_messaging())
        self.stage = f"waiting for a chat message from {self.peer}"
        if self.args.mode == "send":
            self.send_chat(self.peer)

    # Mode "im": roster and subscription (RFC 6121 §2-3), a chat, then the archive
    # (XEP-0313), all through slixmpp's own roster and presence handling.
    async def instant_messaging(self) -> None:
        try:
            self.stage = "getting the roster"
            await self.get_roster()  # makes this an interested resource (RFC 6121 §2.1.6)
            self.stage = "adding the peer to the roster"
            await self.update_roster(self.peer.bare, name="Peer", groups=["Friends"])
            self.stage = f"waiting for {self.peer.bare} to approve the subscription"
            self.send_presence_subscription(pto=self.peer.bare, ptype="subscribe")
            await self.peer_ready
            self.stage = f"waiting for a chat message from {self.peer}"
            self.send_chat(self.peer.bare)
        except Exception as error:  # report, never hang
            self.fail(f"{self.stage}: {error}")

    def on_subscribed(self, presence) -> None:
        if presence["from"].bare == self.peer.bare:
            self.subscribed = True
            self.check_peer_ready()

    def on_available(self, presence) -> None:
        if presence["from"].bare == self.peer.bare:
            self.peer_online = True
            self.check_peer_ready()

    def check_peer_ready(self) -> None:
        if self.subscribed and self.peer_online and not self.peer_ready.done():
            self.peer_ready.set_result(None)

    async def query_archive(self) -> None:
        self.stage = "querying the archive (XEP-0313)"
        results = []

        def on_result(msg) -> None:
            forwarded = msg.xml.find("{urn:xmpp:mam:2}result/{urn:xmpp:forward:0}forwarded")
            inner = forwarded.find("{jabber:client}message") if forwarded is not None else None
            body = inner.find("{jabber:client}body") if inner is not None else None
            if body is not None:
                results.append({"from": inner.get("from"), "body": body.text})

        self.register_handler(Callback("mam results", MatchXPath("{jabber:client}message/{urn:xmpp:mam:2}result"),
                                       on_result))
        iq = self.make_iq_set()
        query = ET.SubElement(iq.xml, "{urn:xmpp:mam:2}query", queryid="interop")
        form = ET.SubElement(query, "{jabber:x:data}x", type="submit")
        for var, value in (("FORM_TYPE", "urn:xmpp:mam:2"), ("with", self.peer.bare)):
            field = ET.SubElement(form, "{jabber:x:data}field", var=var)
            ET.SubElement(field, "{jabber:x:data}value").text = value
        answer = await iq.send(timeout=10)
        fin = answer.xml.find("{urn:xmpp:mam:2}fin")
        self.mam_complete = fin.get("complete") if fin is not None else None
        self.archive = results

    def send_chat(self, to) -> None:
        self.sent_to = str(to)
        self.send_message(mto=to, mbody=self.args.body, mtype="chat")

    def from_peer(self, msg) -> bool:
        sender = msg["from"]
        return sender.full == self.peer.full if self.peer.resource else sender.bare == self.peer.bare

    def on_message(self, msg) -> None:
        if not self.from_peer(msg) or msg["type"] not in ("chat", "normal"):
            return
        self.received = {"from": str(msg["from"]), "type": msg["type"], "body": msg["body"]}
        if self.args.mode == "reply":
            self.send_chat(msg["from"])
        if self.args.mode == "im":
            return asyncio.ensure_future(self.finish_im())
        if not self.outcome.done():
            self.outcome.set_result(None)

    async def finish_im(self) -> None:
        try:
            # The roster as slixmpp keeps it from the server's pushes.
            self.roster_state = self.client_roster[self.peer.bare]["subscription"]
            await self.query_archive()
        except Exception as error:
            return self.fail(f"{self.stage}: {error}")
        if not self.outcome.done():
            self.outcome.set_result(None)

    def on_message_error(self, msg) -> None:
        error = msg["error"]
        self.fail(f"message bounced by {msg['from']}: {error['condition']} {error['text']}".strip())

    def report(self) -> dict:
        mech = self["feature_mechanisms"].mech
        tls = self.tls_object()
        return {
            "jid": self.boundjid.full,
            "mechanism": mech.name if mech is not None else None,
            "tls_version": tls.version() if tls is not None else None,
            "direct_tls": self.args.direct_tls,
            "alpn": tls.selected_alpn_protocol() if tls is not None else None,
            "sent_to": self.sent_to,
            "received": self.received,
            "subscribed": self.subscribed,
            "roster_subscription": self.roster_state,
            "archive": self.archive,
            "archive_complete": self.mam_complete,
        }


async def exchange(args: argparse.Namespace) -> dict:
    client = Client(args)
    client.connect((args.host, args.port), use_ssl=args.direct_tls,
                   force_starttls=not args.direct_tls, disable_starttls=args.direct_tls)
    try:
        await asyncio.wait_for(asyncio.shield(client.outcome), timeout=args.timeout)
        result = client.report()
    except asyncio.TimeoutError:
        raise Failure(f"timed out after {args.timeout:g} s while {client.stage}") from None
    try:
        # Close the stream; in mode "reply" this also flushes the answer first.
        await asyncio.wait_for(client.disconnect(wait=2.0), timeout=3)
    except Exception:  # best effort: the exchange is done
        client.abort()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to connect to (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca-file", required=True, help="PEM trust anchors: the test CA")
    parser.add_argument("--jid", required=True, help="user@domain/resource to log in as")
    parser.add_argument("--password", required=True)
    parser.add_argument("--peer", required=True, help="JID to exchange the message with")
    parser.add_argument("--body", default="hello from slixmpp")
    parser.add_argument("--mode", choices=("send", "reply", "im"), default="send",
                        help="im: roster + subscription + chat + archive query")
    parser.add_argument("--direct-tls", action="store_true", help="XEP-0368 direct TLS")
    parser.add_argument("--tls-max", choices=("1.2", "1.3"), default="1.3",
                        help="highest TLS version to offer (see the note on channel binding)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds for everything (20)")
    parser.add_argument("--verbose", action="store_true", help="slixmpp's debug log on stderr")
    args = parser.parse_args()
    if not os.path.isfile(args.ca_file):
        parser.error(f"--ca-file {args.ca_file}: no such file")
    if args.verbose:
        logging.getLogger().setLevel(logging.DEBUG)

    # Last resort, should the event loop itself hang: the process still ends by itself.
    limit = int(args.timeout) + 10

    def alarm(_signum, _frame):
        sys.stderr.write(f"slixmpp_client: still running after {limit} s, giving up\n")
        os._exit(EXIT_TIMEOUT)

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(limit)

    try:
        result = asyncio.run(exchange(args))
    except Failure as e:
        sys.stderr.write(f"slixmpp_client: {e}\n")
        return EXIT_TIMEOUT if str(e).startswith("timed out") else EXIT_FAILURE
    # UTF-8 whatever the locale, non-ASCII text as is: the test compares bodies byte for byte.
    sys.stdout.buffer.write((json.dumps(result, ensure_ascii=False) + "\n").encode("utf-8"))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
