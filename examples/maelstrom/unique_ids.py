#!/usr/bin/env python3
"""Maelstrom's unique-ids, the Gossip Glomers way: an id is the node's id
and a counter of its own, so no two nodes hand out the same one. The
counter lives in memory and a restart starts it again (see
unique_ids_restart.py for what that costs), so the id also holds the
process's start time in nanoseconds: unique across restarts too."""

import time

from maelstrom_node import Node

node = Node()
state = {"next": 0, "epoch": time.time_ns()}


def generate(msg):
    with node.lock:
        state["next"] += 1
        n = state["next"]
    node.reply(msg, {"type": "generate_ok", "id": [node.node_id, state["epoch"], n]})


node.on("generate", generate)
node.run()
