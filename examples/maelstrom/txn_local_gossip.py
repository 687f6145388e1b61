#!/usr/bin/env python3
"""A WRONG txn-list-append node: each node runs transactions on its own
copy of the lists and answers at once, then sends the values it appended
to every other node, once, without any order between nodes. Two nodes
append to the same list in different orders, a read on one node misses
what another has acknowledged, and a partition loses appends for good:
the checker finds incompatible orders and dependency cycles."""

from maelstrom_node import Node

node = Node()
lists = {}


def txn(msg):
    done, appended = [], []
    with node.lock:
        for f, key, value in msg["body"]["txn"]:
            if f == "r":
                done.append([f, key, list(lists.get(key, []))])
            else:
                lists.setdefault(key, []).append(value)
                done.append([f, key, value])
                appended.append([key, value])
    node.reply(msg, {"type": "txn_ok", "txn": done})
    for peer in node.others():
        node.send(peer, {"type": "appended", "appends": appended})


def appended(msg):
    with node.lock:
        for key, value in msg["body"]["appends"]:
            if value not in lists.setdefault(key, []):
                lists[key].append(value)


node.on("txn", txn)
node.on("appended", appended)
node.run()
