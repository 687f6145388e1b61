#!/usr/bin/env python3
"""A lin-kv node that is not one: each node keeps its own dict and never
tells the others, so a value written at one node is never read at
another (stale reads), and the nodes' final reads disagree."""

from maelstrom_node import Node

node = Node()
data = {}


def read(msg):
    key = msg["body"]["key"]
    if key not in data:
        node.reply(msg, {"type": "error", "code": 20, "text": "no such key"})
    else:
        node.reply(msg, {"type": "read_ok", "value": data[key]})


def write(msg):
    data[msg["body"]["key"]] = msg["body"]["value"]
    node.reply(msg, {"type": "write_ok"})


def cas(msg):
    body = msg["body"]
    if body["key"] not in data:
        node.reply(msg, {"type": "error", "code": 20, "text": "no such key"})
    elif data[body["key"]] != body["from"]:
        node.reply(msg, {"type": "error", "code": 22, "text": "from does not match"})
    else:
        data[body["key"]] = body["to"]
        node.reply(msg, {"type": "cas_ok"})


node.on("read", read)
node.on("write", write)
node.on("cas", cas)
node.run()
