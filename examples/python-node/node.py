#!/usr/bin/env python3
"""A multi-leader key-value node that speaks diverge's node protocol.

Standard library only. Last write wins: every write gets (timestamp, node id);
the larger pair wins everywhere, so replicas converge once every change has
been delivered. See docs/node-protocol.md for the protocol this implements.

    python3 node.py --id n1 --listen 127.0.0.1:7001 --data-dir /tmp/n1 \
        --peers n2=127.0.0.1:7102,n3=127.0.0.1:7103 [--drop-every N] [--lose-every N]

Durability: every accepted or received change is appended to
<data-dir>/changes.jsonl and fsynced before it is acknowledged; at startup
the log is replayed (a torn last line is ignored).

Replication: one thread per peer posts batches of this node's own changes to
http://<peer address>/sync (the address diverge gave, a link it controls),
retrying with backoff until the peer acknowledges them. Receivers
deduplicate by (origin, seq), so redelivery is harmless. After a restart a
node resends all its own changes (the receivers drop the ones they have).

--drop-every N makes a deliberately broken node: it silently ignores every
Nth change it receives from a peer (while acknowledging it), so replicas
diverge and acknowledged writes are lost. diverge must catch it.

--lose-every N: another broken variant: it acknowledges every Nth write a
client sends it and forgets it at once (never stored, logged or
replicated). With one writer per key (--routing home) no conflict strategy
can explain that loss: diverge must call it unexpected.
"""

import argparse
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY_RE = re.compile(r"^[A-Za-z0-9._:-]{1,256}$")
BATCH_MAX = 200


class Node:
    def __init__(self, node_id, data_dir, peers, drop_every, lose_every=0):
        self.id = node_id
        self.peers = peers  # [(id, "host:port")]
        self.drop_every = drop_every
        self.lose_every = lose_every
        self.writes = 0  # client writes accepted (for --lose-every)
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        # key -> {"value", "ts", "origin", "seq"}
        self.store = {}
        self.seen = set()  # (origin, seq) applied or logged
        self.own = []  # this node's own changes, in order
        self.seq = 0
        self.last_ts = 0
        self.received = 0
        self.dropped = 0
        self.clock_offset_ns = 0  # the clock fault (POST /admin/clock)
        os.makedirs(data_dir, exist_ok=True)
        self.log_path = os.path.join(data_dir, "changes.jsonl")
        self.recover()
        self.log = open(self.log_path, "a", encoding="utf-8")
        # Per peer: own changes not yet acknowledged, and how many are in flight.
        self.outbox = {p: list(self.own) for p, _ in peers}
        self.inflight = {p: 0 for p, _ in peers}

    def recover(self):
        if not os.path.exists(self.log_path):
            return
        good = 0
        with open(self.log_path, "rb") as f:
            data = f.read()
        for line in data.split(b"\n"):
            if not line.strip():
                good += len(line) + 1
                continue
            try:
                change = json.loads(line)
            except ValueError:
                break  # torn tail: the last write never completed
            good += len(line) + 1
            self.apply(change)
            if change["origin"] == self.id:
                self.own.append(change)
                self.seq = max(self.seq, change["seq"])
            self.last_ts = max(self.last_ts, change["ts"])
        if good < len(data):
            with open(self.log_path, "r+b") as f:
                f.truncate(min(good, len(data)))

    def apply(self, change):
        """Keep the change if its (ts, origin) beats the key's current one."""
        self.seen.add((change["origin"], change["seq"]))
        current = self.store.get(change["key"])
        if current is None or (change["ts"], change["origin"]) > (current["ts"], current["origin"]):
            self.store[change["key"]] = change

    def durable_append(self, changes):
        for change in changes:
            self.log.write(json.dumps(change, separators=(",", ":")) + "\n")
        self.log.flush()
        os.fsync(self.log.fileno())

    @staticmethod
    def context_of(entry):
        return "" if entry is None else "%d@%s" % (entry["ts"], entry["origin"])

    def read(self, key):
        with self.lock:
            entry = self.store.get(key)
            values = [] if entry is None else [entry["value"]]
            return values, self.context_of(entry)

    def write(self, key, value, context):
        """Returns (ok, context): not ok when `context` is stale."""
        with self.lock:
            current = self.store.get(key)
            if context is not None and context != self.context_of(current):
                return False, self.context_of(current)
            self.writes += 1
            if self.lose_every and self.writes % self.lose_every == 0:
                # The deliberate bug: acknowledged, never kept.
                return True, self.context_of(current)
            self.seq += 1
            self.last_ts = max(time.time_ns() + self.clock_offset_ns, self.last_ts + 1)
            change = {"origin": self.id, "seq": self.seq, "key": key, "value": value, "ts": self.last_ts}
            self.durable_append([change])
            self.apply(change)
            self.own.append(change)
            for box in self.outbox.values():
                box.append(change)
            self.wake.notify_all()
            return True, self.context_of(change)

    def set_clock_offset(self, offset_ms):
        with self.lock:
            self.clock_offset_ns = offset_ms * 1_000_000

    def receive(self, changes):
        with self.lock:
            fresh = []
            for change in changes:
                if (change["origin"], change["seq"]) in self.seen:
                    continue
                self.received += 1
                if self.drop_every and self.received % self.drop_every == 0:
                    self.dropped += 1  # the deliberate bug: acknowledged, never applied
                    self.seen.add((change["origin"], change["seq"]))
                    continue
                fresh.append(change)
            if fresh:
                self.durable_append(fresh)
                for change in fresh:
                    self.apply(change)

    def status(self):
        with self.lock:
            return {
                "node": self.id,
                "log_end": self.seq,
                "durable": self.seq,
                "keys": len(self.store),
                "received": self.received,
                "peers": [
                    {"peer": p, "backlog": len(self.outbox[p]) - self.inflight[p], "inflight": self.inflight[p]}
                    for p, _ in self.peers
                ],
            }

    def replicate_forever(self, peer, addr):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        backoff = 0.02
        while True:
            with self.lock:
                while not self.outbox[peer]:
                    self.wake.wait(timeout=1.0)
                batch = self.outbox[peer][:BATCH_MAX]
                self.inflight[peer] = len(batch)
            body = json.dumps({"from": self.id, "changes": batch}).encode()
            request = urllib.request.Request(
                "http://%s/sync" % addr, data=body, method="POST",
                headers={"Content-Type": "application/json"})
            ok = False
            try:
                with opener.open(request, timeout=2.0) as reply:
                    ok = reply.status == 200
            except (urllib.error.URLError, OSError, ValueError):
                ok = False
            with self.lock:
                self.inflight[peer] = 0
                if ok:
                    del self.outbox[peer][:len(batch)]
            if ok:
                backoff = 0.02
            else:
                time.sleep(backoff)
                backoff = min(backoff * 2, 1.0)


def make_handler(node):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Without TCP_NODELAY every reply waits ~40 ms for the client's
        # delayed ACK (Nagle's algorithm): half the rate diverge asks for.
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):
            pass

        def log_error(self, fmt, *args):
            sys.stderr.write("node %s: %s (request %r)\n" % (node.id, fmt % args, self.requestline))

        def reply(self, status, body):
            data = json.dumps(dict(body, node=node.id)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def raw_body(self):
            """Read the whole body, always: leftover bytes on a keep-alive
            connection would be parsed as the next request."""
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length)

        def key(self):
            key = self.path[len("/kv/"):]
            return key if KEY_RE.match(key) else None

        def do_GET(self):
            if self.path == "/health":
                self.reply(200, {"status": "ok"})
            elif self.path == "/admin/status":
                self.reply(200, node.status())
            elif self.path.startswith("/kv/") and self.key():
                values, context = node.read(self.key())
                self.reply(200, {"key": self.key(), "values": values, "context": context})
            else:
                self.reply(404, {"error": "no route GET %s" % self.path})

        def do_PUT(self):
            raw = self.raw_body()
            if not (self.path.startswith("/kv/") and self.key()):
                self.reply(404, {"error": "no route PUT %s" % self.path})
                return
            try:
                body = json.loads(raw)
                value = body["value"]
                context = body.get("context")
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                self.reply(400, {"error": "bad body: %s" % e})
                return
            ok, new_context = node.write(self.key(), value, context)
            if ok:
                self.reply(200, {"key": self.key(), "context": new_context})
            else:
                self.reply(409, {"error": "stale context", "context": new_context})

        def do_POST(self):
            raw = self.raw_body()
            try:
                body = json.loads(raw)
                if self.path == "/sync":
                    node.receive(body["changes"])
                    self.reply(200, {"acked": len(body["changes"])})
                elif self.path == "/admin/clock":
                    node.set_clock_offset(int(body["offset_ms"]))
                    self.reply(200, {"offset_ms": body["offset_ms"]})
                else:
                    self.reply(404, {"error": "no route POST %s" % self.path})
            except (ValueError, KeyError, TypeError) as e:
                self.reply(400, {"error": "bad body for POST %s: %s" % (self.path, e)})

    return Handler


def parse_peers(text):
    peers = []
    for item in filter(None, (text or "").split(",")):
        peer_id, _, addr = item.partition("=")
        if not peer_id or not addr:
            sys.exit("bad --peers entry %r (want ID=HOST:PORT)" % item)
        peers.append((peer_id, addr))
    return peers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--id", required=True)
    parser.add_argument("--listen", required=True, help="HOST:PORT")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--peers", default="", help="comma-separated ID=HOST:PORT")
    parser.add_argument("--drop-every", type=int, default=0,
                        help="broken variant: silently drop every Nth replicated change")
    parser.add_argument("--lose-every", type=int, default=0,
                        help="broken variant: acknowledge every Nth client write and forget it")
    args = parser.parse_args()
    node = Node(args.id, args.data_dir, parse_peers(args.peers), args.drop_every, args.lose_every)
    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), make_handler(node))
    server.daemon_threads = True
    for peer, addr in node.peers:
        threading.Thread(target=node.replicate_forever, args=(peer, addr), daemon=True).start()
    print("node %s listening on %s, peers %s" % (args.id, args.listen, args.peers), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
