#!/usr/bin/env python3
"""A WRONG broadcast node, the one many first write: a message it has not
seen is stored and sent once to each neighbour of the topology, never
retried. A message sent across a partition is gone, so nodes on the other
side never learn it."""

from maelstrom_node import Node

node = Node()
messages = set()
neighbours = []


def topology(msg):
    neighbours.extend(msg["body"]["topology"].get(node.node_id, []))
    node.reply(msg, {"type": "topology_ok"})


def broadcast(msg):
    message = msg["body"]["message"]
    with node.lock:
        new = message not in messages
        messages.add(message)
    if new:
        for peer in neighbours:
            if peer != msg["src"]:
                node.send(peer, {"type": "broadcast", "message": message})
    if "msg_id" in msg["body"]:
        node.reply(msg, {"type": "broadcast_ok"})


def read(msg):
    with node.lock:
        value = sorted(messages)
    node.reply(msg, {"type": "read_ok", "messages": value})


node.on("topology", topology)
node.on("broadcast", broadcast)
node.on("read", read)
node.on("broadcast_ok", lambda msg: None)
node.run()
