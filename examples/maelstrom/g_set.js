#!/usr/bin/env node
// A correct grow-only set for Maelstrom's g-set workload, in Node.js with
// no packages: the same design as g_set.py (the whole set gossiped to every
// other node twice a second, merged by union), to show that nodes in any
// language run unchanged.
"use strict";
const readline = require("readline");

let nodeId = null;
let nodeIds = [];
const elements = new Set();

function send(dest, body) {
  process.stdout.write(JSON.stringify({ src: nodeId, dest, body }) + "\n");
}

function reply(msg, body) {
  send(msg.src, { ...body, in_reply_to: msg.body.msg_id });
}

const handlers = {
  init(msg) {
    nodeId = msg.body.node_id;
    nodeIds = msg.body.node_ids;
    reply(msg, { type: "init_ok" });
  },
  add(msg) {
    elements.add(msg.body.element);
    reply(msg, { type: "add_ok" });
  },
  read(msg) {
    reply(msg, { type: "read_ok", value: [...elements] });
  },
  replicate(msg) {
    for (const e of msg.body.value) elements.add(e);
  },
};

setInterval(() => {
  for (const peer of nodeIds) {
    if (peer !== nodeId) send(peer, { type: "replicate", value: [...elements] });
  }
}, 500);

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const msg = JSON.parse(line);
  const handler = handlers[msg.body.type];
  if (handler) handler(msg);
  else console.error(`no handler for ${msg.body.type}`);
});
// The controller closing our stdin is the end of the run.
process.stdin.on("end", () => process.exit(0));
