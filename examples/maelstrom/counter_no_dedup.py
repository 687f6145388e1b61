#!/usr/bin/env python3
"""A WRONG g-counter, to show what duplicate delivery does: each add is
applied locally and sent once to every other node as an increment, which
the receiver applies without remembering which increments it has seen.
A network that delivers a message twice makes it count twice (and one
that drops a message loses its increment)."""

from maelstrom_node import Node

node = Node()
total = 0


def add(msg):
    global total
    delta = msg["body"]["delta"]
    with node.lock:
        total += delta
    for peer in node.others():
        node.send(peer, {"type": "increment", "delta": delta})
    node.reply(msg, {"type": "add_ok"})


def increment(msg):
    global total
    with node.lock:
        total += msg["body"]["delta"]


def read(msg):
    with node.lock:
        value = total
    node.reply(msg, {"type": "read_ok", "value": value})


node.on("add", add)
node.on("read", read)
node.on("increment", increment)
node.run()
