#!/usr/bin/env python3
"""A g-counter that keeps its count in Maelstrom's seq-kv service, as the
Gossip Glomers' counter challenge asks: an add reads the count and
compare-and-sets it one higher, retrying when another node got there
first. The node holds nothing in memory, so a crash loses nothing."""

import threading

from maelstrom_node import Node

node = Node()
KEY = "counter"


def current():
    reply = node.sync_rpc("seq-kv", {"type": "read", "key": KEY})
    if reply is None:
        return None
    if reply["type"] == "error":
        return 0 if reply["code"] == 20 else None
    return reply["value"]


def add(msg):
    delta = msg["body"]["delta"]
    while True:
        value = current()
        if value is None:
            continue
        reply = node.sync_rpc(
            "seq-kv",
            {"type": "cas", "key": KEY, "from": value, "to": value + delta,
             "create_if_not_exists": True},
        )
        if reply is not None and reply["type"] == "cas_ok":
            break
    node.reply(msg, {"type": "add_ok"})


def read(msg):
    value = current()
    if value is None:
        node.reply(msg, {"type": "error", "code": 11, "text": "seq-kv did not answer"})
    else:
        node.reply(msg, {"type": "read_ok", "value": value})


def in_thread(handler):
    # RPCs wait for their replies, which the reader thread delivers.
    return lambda msg: threading.Thread(target=handler, args=(msg,), daemon=True).start()


node.on("add", in_thread(add))
node.on("read", in_thread(read))
node.run()
