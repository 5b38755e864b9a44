// The Node side of call sites: an ES module the run that collects sites
// imports first (NODE_OPTIONS=--import of a data: URL), which wraps the
// synchronous file functions of `fs` so each announces the innermost stack
// frame with an absolute path by opening CC_SITE_MARKER + "file:line", as
// the Python hook does. A data: URL, not a file with --require: preloading a
// file makes Node look for package.json from the working directory up, an
// open in the scratch directory the writer never makes, which would shift
// every counted call. Node before 18.19/20.6 has no --import and gets no
// hook (no sites). Only the synchronous functions: they make their system
// calls on the calling thread, whose next intercepted call takes the site;
// fs's callback and promise functions run theirs on libuv's worker
// threads, where an announcement from the main thread would name another
// call, so they get none (a site is empty, never guessed).
#include <cstdio>

#include "sites.hpp"

namespace crashcheck::faults::sites {
namespace {

constexpr std::string_view kHook =
    R"JS(// crashcheck call sites (faults/README.md, "Call sites"); generated, do not edit
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";

const marker = MARKER;
const realOpenSync = fs.openSync;

// "    at save (/home/me/w.js:12:5)" or "    at /home/me/w.js:12:5" or a file: URL (ES modules)
const frame = /^at (?:.*\()?(?:file:\/\/)?(\/[^()]*):(\d+):\d+\)?$/;

function site() {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 64;
  const stack = new Error().stack.split("\n").slice(1);
  Error.stackTraceLimit = limit;
  for (const line of stack) {
    const found = frame.exec(line.trim());  // node:internal and this module's data: frames have no absolute path
    if (found) return decodeURI(found[1]) + ":" + found[2];
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
syncBuiltinESMExports();
)JS";

// Node 18.19 and 20.6 on take --import; an older one would refuse to start.
bool takes_import(const std::string& node) {
  const std::string command = "'" + node + "' --version 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return false;
  int major = 0, minor = 0;
  const bool read = std::fscanf(pipe, "v%d.%d", &major, &minor) == 2;
  ::pclose(pipe);
  return read && (major > 20 || (major == 20 && minor >= 6) || (major == 18 && minor >= 19) || major == 19);
}

std::string base64(std::string_view bytes) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : bytes) {
    bits = (bits << 8) | c, count += 8;
    while (count >= 6) out += kDigits[(bits >> (count -= 6)) & 63];
  }
  if (count > 0) out += kDigits[(bits << (6 - count)) & 63];
  while (out.size() % 4 != 0) out += '=';
  return out;
}

}  // namespace

void add_node_hook(Launch& launch, const std::filesystem::path& work_dir) {
  (void)work_dir;  // the module travels in NODE_OPTIONS itself
  if (launch.argv.empty()) return;
  const std::string name = std::filesystem::path(launch.argv.front()).filename().string();
  if ((name != "node" && name != "nodejs") || !takes_import(launch.argv.front())) return;
  std::string source(kHook);
  source.replace(source.find("MARKER"), 6, site_marker_literal());
  std::string& options = launch.environment["NODE_OPTIONS"];  // the launch's environment is the whole of it
  options = "--import data:text/javascript;base64," + base64(source) + (options.empty() ? "" : " " + options);
}

}  // namespace crashcheck::faults::sites
