#!/usr/bin/env python3
"""Writes docs/benchmarks.md from the JSON summaries parley-bench left (run.sh calls it).

usage: report.py META.json RESULTS_DIR COMMANDS.txt "SERVERS" "SCENARIOS" > benchmarks.md
"""
import json
import os
import sys

NAMES = {"parley": "parley", "prosody": "Prosody", "ejabberd": "ejabberd"}


def get(d, path):
    for key in path.split("."):
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not v.is_integer():
            return f"{v:,.{digits}f}"
        return f"{int(v):,}"
    return str(v)


# Per scenario: what it measures, then rows (label, path or function, which way is better).
def kib(path):
    return lambda r: None if get(r, path) is None else round(get(r, path) / 1024, 1)


def cpu_per(count_path, unit):
    """The server's CPU (run.sh: its process tree, database included) per `unit` counted items."""
    def f(r):
        cpu, n = r.get("server_cpu_seconds"), get(r, count_path)
        return None if cpu is None or not n else round(cpu * 1000 * unit / n, 2)
    return f


def ratio_of(a, b):
    return lambda r: None if not get(r, a) or not get(r, b) else f"{get(r, a):,}/{get(r, b):,}"


SCENARIOS = {
    "login": ("Logins: connect, STARTTLS, SASL, bind, then a clean close; latency from the "
              "TCP connect to the bind result.", [
                  ("logins/s", "results.logins_per_s", "higher"),
                  ("server CPU per login (ms)", cpu_per("results.ok", 1), "lower"),
                  ("latency p50 (ms)", "results.latency_ms.p50", "lower"),
                  ("latency p99 (ms)", "results.latency_ms.p99", "lower"),
                  ("latency max (ms)", "results.latency_ms.max", "lower"),
                  ("failures", "results.failures", None),
                  ("TLS version", "results.tls_version", None),
              ]),
    "idle": ("Authenticated connections held open; the server's resident memory (VmRSS) before and "
             "one second after they were all established.", [
                 ("connections established", "results.established", None),
                 ("alive after the hold", "results.alive_after_hold", None),
                 ("RSS growth per connection (KiB)", kib("results.server_memory.rss_per_connection_bytes"), "lower"),
                 ("RSS before (MiB)", lambda r: None if get(r, "results.server_memory.rss_before_bytes") is None
                  else round(get(r, "results.server_memory.rss_before_bytes") / 1048576, 1), None),
                 ("login p50 (ms)", "results.login.latency_ms.p50", "lower"),
             ]),
    "chat": ("Pairs exchange messages (half to the bare JID after initial presence, half to the full JID), "
             "at most 16 unanswered per sender; latency from send to receipt (one clock); lost = sent but "
             "not received within the grace period. XEP-0198 enabled when offered; every server archives "
             "the messages (XEP-0313) as configured above.", [
                 ("delivered/s", "results.delivered_per_s", "higher"),
                 ("server CPU per 1000 messages (ms)", cpu_per("results.delivered", 1000), "lower"),
                 ("latency p50 (ms)", "results.latency_ms.p50", "lower"),
                 ("latency p99 (ms)", "results.latency_ms.p99", "lower"),
                 ("delivered/sent", ratio_of("results.delivered", "results.sent"), None),
                 ("lost", "results.lost", None),
                 ("XEP-0198", "results.sm.status", None),
             ]),
    "presence": ("Accounts on a ring with K contacts each, subscribed both ways (roster + subscribe/subscribed); "
                 "then half stay online while the other half log in, send initial presence, wait, send "
                 "unavailable and log out, several rounds.", [
                     ("contacts' presence after login, p50 (ms)", "results.initial_presence_ms.p50", "lower"),
                     ("available broadcast p50 (ms)", "results.available_broadcast_ms.p50", "lower"),
                     ("available broadcast p99 (ms)", "results.available_broadcast_ms.p99", "lower"),
                     ("unavailable broadcast p50 (ms)", "results.unavailable_broadcast_ms.p50", "lower"),
                     ("missing presences", lambda r: None if get(r, "results.missing_available") is None else
                      get(r, "results.missing_available") + get(r, "results.missing_unavailable") +
                      get(r, "results.missing_probe_replies"), None),
                     ("subscription set-up (s)", "results.setup.seconds", "lower"),
                 ]),
    "mam": ("An archive-heavy chat, then every account pages through its archive with its peer "
            "(XEP-0313, RSM pages of 50, filtered by peer and start time).", [
                ("page latency p50 (ms)", "results.page_latency_ms.p50", "lower"),
                ("page latency p99 (ms)", "results.page_latency_ms.p99", "lower"),
                ("whole-archive query p50 (ms)", "results.query_latency_ms.p50", "lower"),
                ("messages retrieved/s", "results.messages_retrieved_per_s", "higher"),
                ("found/expected", ratio_of("results.found", "results.expected"), None),
                ("chat delivered/s while archiving", "results.chat.delivered_per_s", "higher"),
            ]),
    "reconnect": ("Each cycle: a full login; then, when offered, a XEP-0198 resumption after the TCP "
                  "connection was cut; then, when offered, a login resuming the first TLS session.", [
                      ("full login p50 (ms)", "results.full_login.latency_ms.p50", "lower"),
                      ("XEP-0198 resumption", "results.sm_resumption.status", None),
                      ("XEP-0198 resume p50 (ms)", "results.sm_resumption.resume.latency_ms.p50", "lower"),
                      ("TLS resumption", "results.tls_resumption.status", None),
                      ("TLS-resumed login p50 (ms)", "results.tls_resumption.login.latency_ms.p50", "lower"),
                  ]),
}


def main():
    meta = json.load(open(sys.argv[1]))
    results_dir = sys.argv[2]
    commands = open(sys.argv[3]).read().strip()
    servers = sys.argv[4].split()
    scenarios = sys.argv[5].split()
    server_info = {s["name"]: s for s in meta["servers"]}

    def load(server, scenario):
        path = os.path.join(results_dir, f"{server}-{scenario}.json")
        if server_info.get(server, {}).get("status") != "ok":
            return {"status": server_info.get(server, {}).get("status", "not run")}
        if not os.path.exists(path):
            return {"status": "not run"}
        r = json.load(open(path))
        cpu = os.path.join(results_dir, f"{server}-{scenario}-cpu.json")
        if os.path.exists(cpu):
            r["server_cpu_seconds"] = json.load(open(cpu)).get("server_cpu_seconds")
        return r

    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    w(f"Generated by `contrib/bench/run.sh{' --quick' if meta['mode'] == 'quick' else ''}` on "
      f"{meta['started_at']}; do not edit by hand, run the script again. One run on one machine, "
      "client and servers on loopback and on the same cores, one server at a time, no tuning: the "
      "figures compare servers under the same load, they do not state any server's capacity. "
      "Ratios are parley / the best of the others (for latencies below 1 is better for parley, for "
      "rates above 1). How each figure is measured: [contrib/bench/README.md](../contrib/bench/README.md).")
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("| --- | --- |")
    w(f"| CPU | {meta['cpu']} × {meta['nproc']} |")
    mem = meta["memory"].split()
    if len(mem) == 2 and mem[1] == "kB" and mem[0].isdigit():
        mem = f"{int(mem[0]) / 1048576:.1f} GiB"
    else:
        mem = meta["memory"]
    w(f"| memory | {mem} |")
    w(f"| load average at start | {meta.get('loadavg_at_start', '?')} (other work on the machine competes with the run) |")
    w(f"| SASL mechanism | {meta.get('mechanism', '?')} |")
    w(f"| system | {meta['os']}, Linux {meta['kernel']} |")
    w(f"| run | {meta['started_at']} – {meta['finished_at']} ({meta['mode']} sizes) |")
    w("")
    w("## Servers")
    w("")
    w("| server | version | status | configuration |")
    w("| --- | --- | --- | --- |")
    for s in servers:
        i = server_info.get(s, {})
        w(f"| {NAMES.get(s, s)} | {i.get('version', '–')} | {i.get('status', '–')} | {i.get('setup', '')} |")
    w("")
    w(f"Sizes: {meta['sizes']}.")
    w("")

    for sc in scenarios:
        if sc not in SCENARIOS:
            continue
        text, rows = SCENARIOS[sc]
        data = {s: load(s, sc) for s in servers}
        w(f"## {sc}")
        w("")
        w(text)
        w("")
        header = "| | " + " | ".join(NAMES.get(s, s) for s in servers) + " | parley / best other |"
        w(header)
        w("|" + " --- |" * (len(servers) + 2))
        statuses = {s: data[s].get("status", "?") for s in servers}
        w("| status | " + " | ".join(statuses[s] for s in servers) + " | |")
        notes = []
        for s in servers:
            if statuses[s] not in ("ok",) and data[s].get("message"):
                notes.append(f"{NAMES.get(s, s)}: {data[s]['message']}")
        for label, path, better in rows:
            values = {}
            for s in servers:
                if statuses[s] in ("ok", "failed"):
                    values[s] = path(data[s]) if callable(path) else get(data[s], path)
                else:
                    values[s] = None
            cells = [fmt(values[s]) for s in servers]
            ratio = ""
            others = [values[s] for s in servers if s != "parley" and isinstance(values[s], (int, float))]
            mine = values.get("parley")
            if better and isinstance(mine, (int, float)) and others:
                best = max(others) if better == "higher" else min(others)
                if best:
                    ratio = f"{mine / best:.2f}×"
            w(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")
        w("")
        for n in notes:
            w(f"- {n}")
        if notes:
            w("")

    w("## Exact commands")
    w("")
    w("`$BUILD` is the build tree, `$TMP` the script's temporary directory (certificates from "
      "`parley cert dev`, the generated server configurations, the password file). Every server "
      "was started by the script under `$TMP` and stopped by PID at the end.")
    w("")
    w("```")
    w(f"contrib/bench/run.sh{' --quick' if meta['mode'] == 'quick' else ''}")
    w(commands)
    w("```")
    profiling_section(w)
    print("\n".join(out))


def profiling_section(w):
    """docs/profiling.md (written by hand: what was profiled, how, what changed) as the
    report's last section, so that regenerating this file keeps it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "profiling.md")
    if not os.path.exists(path):
        return
    lines = open(path).read().rstrip("\n").split("\n")
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    w("")
    w("## Profiling")
    w("")
    w("Kept in [docs/profiling.md](profiling.md) and copied here by `contrib/bench/report.py`.")
    fenced = False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        # One level down: the document's sections become subsections of this one.
        w("#" + line if line.startswith("#") and not fenced else line)


if __name__ == "__main__":
    main()
