#!/usr/bin/env python3
"""Maelstrom's lin-kv, the idiomatic way: every read, write and cas is
passed on to the `lin-kv` service and its answer (or error) passed back.
The node holds nothing, so it is linearizable because the service is, and
a crash loses nothing."""

import threading

from maelstrom_node import Node

node = Node()
FIELDS = ("key", "value", "from", "to", "create_if_not_exists")


def proxy(msg):
    body = {k: v for k, v in msg["body"].items() if k in FIELDS}
    body["type"] = msg["body"]["type"]
    reply = node.sync_rpc("lin-kv", body)
    if reply is None:
        # Code 0 (timeout) is indefinite: the service may have applied it.
        reply = {"type": "error", "code": 0, "text": "lin-kv did not answer"}
    reply = {k: v for k, v in reply.items() if k not in ("msg_id", "in_reply_to")}
    node.reply(msg, reply)


def in_thread(msg):
    # An RPC waits for its reply, which the reader thread delivers.
    threading.Thread(target=proxy, args=(msg,), daemon=True).start()


for kind in ("read", "write", "cas"):
    node.on(kind, in_thread)
node.run()
