#!/usr/bin/env python3
"""A correct grow-only set for Maelstrom's g-set workload: each node keeps
the set in memory and sends the whole set to every other node twice a
second; a node merges what it receives by union. Gossip repeats forever,
so a partition only delays convergence."""

from maelstrom_node import Node

node = Node()
elements = set()


def add(msg):
    with node.lock:
        elements.add(msg["body"]["element"])
    node.reply(msg, {"type": "add_ok"})


def read(msg):
    with node.lock:
        value = sorted(elements)
    node.reply(msg, {"type": "read_ok", "value": value})


def merge(msg):
    with node.lock:
        elements.update(msg["body"]["value"])


def gossip():
    with node.lock:
        value = sorted(elements)
    for peer in node.others():
        node.send(peer, {"type": "replicate", "value": value})


node.on("add", add)
node.on("read", read)
node.on("replicate", merge)
node.every(0.5, gossip)
node.run()
