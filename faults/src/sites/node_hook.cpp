// The Node side of call sites: a module the run that collects sites loads
// first (NODE_OPTIONS=--require), which wraps the synchronous file functions
// of `fs` so each announces the innermost stack frame outside Node's own
// code by opening CC_SITE_MARKER + "file:line", as the Python hook does.
// Only the synchronous functions: they make their system calls on the
// calling thread, which is the thread whose next intercepted call takes the
// site; fs's callback and promise functions run theirs on libuv's worker
// threads, where an announcement from the main thread would name another
// call, so they get none (a site is empty, never guessed).
#include "sites.hpp"

namespace crashcheck::faults::sites {
namespace {

constexpr std::string_view kHook =
    R"JS(// crashcheck call sites (faults/README.md, "Call sites"); generated, do not edit
"use strict";
(() => {
  const fs = require("fs");
  const marker = MARKER;
  const realOpenSync = fs.openSync;
  const here = __filename;

  // "    at save (/home/me/w.js:12:5)" or "    at /home/me/w.js:12:5" or a file: URL (ES modules)
  const frame = /\(?(?:file:\/\/)?(\/[^()]*):(\d+):\d+\)?$/;

  function site() {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 64;
    const stack = new Error().stack.split("\n").slice(1);
    Error.stackTraceLimit = limit;
    for (const line of stack) {
      const found = frame.exec(line.trim());  // node:internal frames have no absolute path
      if (found && found[1] !== here) return decodeURI(found[1]) + ":" + found[2];
    }
    return null;
  }

  function announce() {
    const where = site();
    if (where === null) return;
    try {
      realOpenSync(marker + where, "r");
    } catch (e) {
    }
  }

  for (const name of Object.keys(fs)) {
    const real = fs[name];
    if (!name.endsWith("Sync") || typeof real !== "function") continue;
    fs[name] = function (...args) {
      announce();
      return real.apply(this, args);
    };
    Object.defineProperty(fs[name], "name", {value: real.name});
  }
})();
)JS";

}  // namespace

void add_node_hook(Launch& launch, const std::filesystem::path& work_dir) {
  const auto file = work_dir / "node-sites.js";
  write_hook(file, kHook);
  std::string& options = launch.environment["NODE_OPTIONS"];  // the launch's environment is the whole of it
  options = "--require \"" + file.string() + "\"" + (options.empty() ? "" : " " + options);
}

}  // namespace crashcheck::faults::sites
