// A careful atomic writer whose calls the call-site tests locate: each call
// whose site a test checks carries a marker comment ("site: <name>") on its
// line; the test finds the line by the marker, never by its number. The
// rename made through fs's callback API runs on a libuv worker thread and
// must get no site rather than a wrong one.
// Usage: node site_writer.js TARGET
"use strict";
const fs = require("fs");
const path = require("path");

function save(target, data) {
  const temp = target + ".tmp";
  const fd = fs.openSync(temp, "w", 0o644); // site: open
  fs.writeSync(fd, data); // site: write
  fs.fsyncSync(fd); // site: fsync file
  fs.closeSync(fd);
  fs.rename(temp, target, (err) => {
    if (err) throw err;
    const dir = fs.openSync(path.dirname(target), "r");
    fs.fsyncSync(dir); // site: fsync dir
    fs.closeSync(dir);
    console.log("done");
  });
}

save(process.argv[2], "new content\n");
