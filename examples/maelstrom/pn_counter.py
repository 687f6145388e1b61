#!/usr/bin/env python3
"""A correct PN-counter for Maelstrom's pn-counter (and g-counter)
workload: each node counts its own increments and decrements, and twice a
second sends both maps to every other node; a node merges by taking, per
node, the larger count. Merging is idempotent, so a duplicated or
reordered message changes nothing, and gossip repeats, so a partition only
delays convergence."""

from maelstrom_node import Node

node = Node()
incs = {}  # node id -> total of its positive deltas
decs = {}  # node id -> total of its negative deltas (as a positive number)


def add(msg):
    delta = msg["body"]["delta"]
    with node.lock:
        counts = incs if delta >= 0 else decs
        counts[node.node_id] = counts.get(node.node_id, 0) + abs(delta)
    node.reply(msg, {"type": "add_ok"})


def read(msg):
    with node.lock:
        value = sum(incs.values()) - sum(decs.values())
    node.reply(msg, {"type": "read_ok", "value": value})


def merge(msg):
    with node.lock:
        for mine, theirs in ((incs, msg["body"]["incs"]), (decs, msg["body"]["decs"])):
            for n, count in theirs.items():
                mine[n] = max(mine.get(n, 0), count)


def gossip():
    with node.lock:
        body = {"type": "replicate", "incs": dict(incs), "decs": dict(decs)}
    for peer in node.others():
        node.send(peer, body)


node.on("add", add)
node.on("read", read)
node.on("replicate", merge)
node.every(0.5, gossip)
node.run()
