#!/usr/bin/env python3
"""A unique-ids node that is correct as long as it never restarts: the id
is the node's id and an in-memory counter. A crash (`--nemesis crash`)
wipes the counter, and the restarted node hands out its first ids again:
duplicates. Maelstrom never crashes nodes, so it cannot see this."""

from maelstrom_node import Node

node = Node()
state = {"next": 0}


def generate(msg):
    with node.lock:
        state["next"] += 1
        n = state["next"]
    node.reply(msg, {"type": "generate_ok", "id": f"{node.node_id}-{n}"})


node.on("generate", generate)
node.run()
