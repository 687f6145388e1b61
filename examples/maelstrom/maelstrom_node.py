"""A minimal Maelstrom node library (standard library only), in the
style of Maelstrom's own demo `node.py`: read one JSON message per line
from stdin, dispatch it by body type, write messages as JSON lines to
stdout, log to stderr. Handlers run on the reader thread; timers on their
own threads; one lock guards stdout and the node's state."""

import json
import sys
import threading


class Node:
    def __init__(self):
        self.node_id = None
        self.node_ids = []
        self.handlers = {}
        self.lock = threading.RLock()
        self.next_msg_id = 1  # 0 reads as "no reply" to some libraries
        self.callbacks = {}
        self.on("init", self._init)

    def log(self, text):
        print(text, file=sys.stderr, flush=True)

    def on(self, kind, handler):
        self.handlers[kind] = handler

    def others(self):
        return [n for n in self.node_ids if n != self.node_id]

    def send(self, dest, body):
        with self.lock:
            line = json.dumps({"src": self.node_id, "dest": dest, "body": body})
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def reply(self, request, body):
        body = dict(body, in_reply_to=request["body"]["msg_id"])
        self.send(request["src"], body)

    def rpc(self, dest, body, callback):
        """Send `body` and call `callback(reply_body)` when it comes."""
        with self.lock:
            msg_id = self.next_msg_id
            self.next_msg_id += 1
            self.callbacks[msg_id] = callback
        self.send(dest, dict(body, msg_id=msg_id))

    def sync_rpc(self, dest, body, timeout=1.0):
        """Send `body` and wait for its reply body (None on timeout).
        Only from a thread other than the reader's."""
        done = threading.Event()
        got = {}

        def callback(reply):
            got["reply"] = reply
            done.set()

        self.rpc(dest, body, callback)
        done.wait(timeout)
        return got.get("reply")

    def every(self, seconds, task):
        def loop():
            stop = threading.Event()
            while not stop.wait(seconds):
                task()

        threading.Thread(target=loop, daemon=True).start()

    def _init(self, msg):
        self.node_id = msg["body"]["node_id"]
        self.node_ids = msg["body"]["node_ids"]
        self.reply(msg, {"type": "init_ok"})

    def run(self):
        for line in sys.stdin:
            msg = json.loads(line)
            body = msg["body"]
            callback = None
            if "in_reply_to" in body:
                with self.lock:
                    callback = self.callbacks.pop(body["in_reply_to"], None)
            if callback is not None:
                callback(body)
            elif body["type"] in self.handlers:
                self.handlers[body["type"]](msg)
            else:
                self.log(f"no handler for {body['type']}")
