#!/usr/bin/env python3
"""A correct txn-list-append node: one node (the first of node_ids) is the
authority and runs every transaction, one at a time, on its lists; every
other node forwards the transactions it receives to it and passes the
answer back. Transactions run one after another in one place, so the
history is serializable. A forward that goes unanswered (a partition) is
reported with code 0 (timeout): indefinite, since the authority may have
run it."""

import threading

from maelstrom_node import Node

node = Node()
lists = {}


def authority():
    return node.node_ids[0]


def run(txn):
    """Runs `txn` on the lists; its micro-ops with the reads filled in."""
    done = []
    with node.lock:
        for f, key, value in txn:
            if f == "r":
                done.append([f, key, list(lists.get(key, []))])
            else:
                lists.setdefault(key, []).append(value)
                done.append([f, key, value])
    return done


def forward(msg):
    reply = node.sync_rpc(authority(), {"type": "txn", "txn": msg["body"]["txn"]})
    if reply is None:
        reply = {"type": "error", "code": 0, "text": f"{authority()} did not answer"}
    reply = {k: v for k, v in reply.items() if k not in ("msg_id", "in_reply_to")}
    node.reply(msg, reply)


def txn(msg):
    if node.node_id == authority():
        node.reply(msg, {"type": "txn_ok", "txn": run(msg["body"]["txn"])})
    else:
        # The forward waits for a reply the reader thread delivers.
        threading.Thread(target=forward, args=(msg,), daemon=True).start()


node.on("txn", txn)
node.run()
