// A Node app saving its settings the way many do: serialise, then
// fs.writeFileSync over the existing file (open with O_TRUNC, write, close).
//
// Usage: node node_writefilesync.js TARGET PAYLOAD
const fs = require('fs');

const [target, payload] = process.argv.slice(2);
const settings = JSON.parse(fs.readFileSync(payload, 'utf8'));
fs.writeFileSync(target, JSON.stringify(settings, null, 2) + '\n');
