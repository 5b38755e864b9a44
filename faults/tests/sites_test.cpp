// Call sites (faults/README.md, "Call sites"), on both backends: a C writer
// and a Python writer get their own source file and line on the calls the
// tests mark in their sources ("site: <name>" comments — never line
// numbers), a writer without debug information gets none and runs as
// before, collecting sites adds no counted call, and a run that does not
// ask for sites has none.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "crashcheck/faults/backend.hpp"
#include "sites/sites.hpp"
#include "subject.hpp"

namespace crashcheck::faults {
namespace {
namespace fs = std::filesystem;

// The line of `source` whose text holds "site: <name>"; 0 when none does.
int marked_line(const fs::path& source, const std::string& name) {
  std::ifstream in(source);
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    const auto at = line.find("site: " + name);
    if (at != std::string::npos && line.substr(at + 6 + name.size()).find_first_not_of(" */") == std::string::npos)
      return number;
  }
  return 0;
}

// "<file name>:<line>" of a marked call: a site is checked by its file's
// name and line, not its directory (a cached object keeps the directory it
// was first compiled in).
std::string marked(const fs::path& source, const std::string& name) {
  const int line = marked_line(source, name);
  EXPECT_GT(line, 0) << "no 'site: " << name << "' marker in " << source;
  return source.filename().string() + ":" + std::to_string(line);
}

std::string site_name(const std::string& site) { return fs::path(site).filename().string(); }

class Sites : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    if (auto why = backend_unavailable(GetParam())) GTEST_SKIP() << "backend unavailable: " << *why;
    std::string pattern = (fs::temp_directory_path() / "cc-sites-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  // The sites of site_writer.c's calls are the lines its markers name.
  static void expect_c_writer_lines(const testing::ObservedRun& r);

  // One run of argv (TARGET appended) with a fresh scope holding an old target.
  testing::ObservedRun run(std::vector<std::string> argv, bool sites = true) {
    const fs::path scope = root_ / ("scope" + std::to_string(runs_)), work = root_ / ("work" + std::to_string(runs_));
    ++runs_;
    fs::create_directories(scope);
    fs::create_directories(work);
    std::ofstream(scope / "target") << "old content\n";
    auto observer = make_observer(GetParam(), RunSetup{scope, work, FaultPlan{}, {}, sites});
    argv.push_back((scope / "target").string());
    Launch launch{std::move(argv), {}};
    for (char** e = environ; *e; ++e) {
      const std::string entry = *e;
      const auto eq = entry.find('=');
      if (eq != std::string::npos) launch.environment[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    launch.environment["TMPDIR"] = scope.string();
    auto r = testing::run_observed(*observer, std::move(launch));
    EXPECT_TRUE(r.exited(0)) << r.out;
    EXPECT_EQ(r.out, "done\n");
    EXPECT_TRUE(r.obs.trace) << r.obs.trace_error;
    if (!r.obs.trace) r.obs.trace = Trace{};
    return r;
  }

  static std::vector<const TraceRecord*> calls(const testing::ObservedRun& r, OpClass op) {
    std::vector<const TraceRecord*> out;
    for (const auto& rec : r.obs.trace->records)
      if (rec.op == op) out.push_back(&rec);
    return out;
  }
  static std::string listing(const testing::ObservedRun& r) {
    std::string out;
    for (const auto& rec : r.obs.trace->records) out += describe_call(rec) + " @ " + rec.site + "\n";
    return out;
  }
  // What the runner plans from: the calls and what they act on, in order.
  static std::vector<std::string> shape(const testing::ObservedRun& r) {
    std::vector<std::string> out;
    for (const auto& rec : r.obs.trace->records)
      out.push_back(rec.call + " " + std::string(op_name(rec.op)) + (rec.is_directory ? " dir" : ""));
    return out;
  }

  fs::path root_;
  int runs_ = 0;
};

TEST_P(Sites, CWriterCallsCarryTheirSourceLines) { expect_c_writer_lines(run({CRASHCHECK_SITE_WRITER})); }

#ifdef CRASHCHECK_SITE_WRITER_STATIC_DEBUG
// libc is inside the executable: its wrapper's frame is stepped over too
// (adv8: the directory open got the fsync helper's line).
TEST_P(Sites, StaticCWriterCallsCarryTheirSourceLines) {
  if (GetParam() != BackendKind::seccomp) GTEST_SKIP() << "LD_PRELOAD cannot reach a static binary";
  expect_c_writer_lines(run({CRASHCHECK_SITE_WRITER_STATIC_DEBUG}));
}
#endif

void Sites::expect_c_writer_lines(const testing::ObservedRun& r) {
  const fs::path source = CRASHCHECK_SITE_WRITER_SOURCE;
  const auto renames = calls(r, OpClass::rename);
  const auto syncs = calls(r, OpClass::sync);
  const auto writes = calls(r, OpClass::write);
  const auto opens = calls(r, OpClass::open);
  ASSERT_EQ(renames.size(), 1u) << listing(r);
  ASSERT_EQ(opens.size(), 2u) << listing(r);
  ASSERT_EQ(syncs.size(), 2u) << listing(r);
  ASSERT_EQ(writes.size(), 1u) << listing(r);
  EXPECT_EQ(site_name(renames[0]->site), marked(source, "rename")) << renames[0]->site;
  EXPECT_EQ(site_name(syncs[0]->site), marked(source, "fsync file")) << listing(r);
  EXPECT_EQ(site_name(syncs[1]->site), marked(source, "fsync dir")) << listing(r);
  EXPECT_EQ(site_name(writes[0]->site), marked(source, "write")) << listing(r);
  EXPECT_EQ(site_name(opens[0]->site), marked(source, "open")) << listing(r);
  EXPECT_EQ(site_name(opens[1]->site), marked(source, "open dir")) << listing(r);
  EXPECT_TRUE(fs::path(renames[0]->site).is_absolute()) << renames[0]->site;
}

TEST_P(Sites, PythonWriterCallsCarryTheirSourceLines) {
  const fs::path source = CRASHCHECK_SITE_WRITER_PY;
  const auto r = run({CRASHCHECK_PYTHON, source.string()});
  const auto renames = calls(r, OpClass::rename);
  const auto syncs = calls(r, OpClass::sync);
  ASSERT_EQ(renames.size(), 1u) << listing(r);
  ASSERT_EQ(syncs.size(), 2u) << listing(r);
  // the innermost frame outside the standard library: the writer's own line, the full path as Python has it
  EXPECT_EQ(renames[0]->site, source.string() + ":" + std::to_string(marked_line(source, "rename")));
  EXPECT_EQ(site_name(syncs[0]->site), marked(source, "fsync file")) << listing(r);
  EXPECT_EQ(site_name(syncs[1]->site), marked(source, "fsync dir")) << listing(r);
  const auto opens = calls(r, OpClass::open);
  ASSERT_FALSE(opens.empty()) << listing(r);
  EXPECT_EQ(site_name(opens[0]->site), marked(source, "open")) << listing(r);  // tempfile.mkstemp's caller
}

// Node: the synchronous fs calls carry the script's lines; the rename made
// through the callback API runs on a worker thread and gets no site.
TEST_P(Sites, NodeWriterSyncCallsCarryTheirSourceLines) {
  const std::string node = CRASHCHECK_NODE;
  if (node.empty()) GTEST_SKIP() << "node not found (install nodejs)";
  const fs::path source = CRASHCHECK_SITE_WRITER_JS;
  const auto r = run({node, source.string()});
  const auto opens = calls(r, OpClass::open), writes = calls(r, OpClass::write), syncs = calls(r, OpClass::sync);
  const auto renames = calls(r, OpClass::rename);
  ASSERT_EQ(writes.size(), 1u) << listing(r);
  ASSERT_EQ(syncs.size(), 2u) << listing(r);
  ASSERT_EQ(renames.size(), 1u) << listing(r);
  EXPECT_EQ(writes[0]->site, source.string() + ":" + std::to_string(marked_line(source, "write"))) << listing(r);
  EXPECT_EQ(site_name(syncs[0]->site), marked(source, "fsync file")) << listing(r);
  EXPECT_EQ(site_name(syncs[1]->site), marked(source, "fsync dir")) << listing(r);
  EXPECT_TRUE(std::any_of(opens.begin(), opens.end(), [&](const TraceRecord* o) {
    return site_name(o->site) == marked(source, "open");
  })) << listing(r);
  EXPECT_EQ(renames[0]->site, "") << listing(r);
}

// The hook's markers are never counted and change nothing the writer does.
TEST_P(Sites, CollectingSitesAddsNoCall) {
  const auto with = run({CRASHCHECK_PYTHON, CRASHCHECK_SITE_WRITER_PY});
  const auto without = run({CRASHCHECK_PYTHON, CRASHCHECK_SITE_WRITER_PY}, false);
  EXPECT_EQ(shape(with), shape(without)) << listing(with) << "---\n" << listing(without);
  for (const auto& rec : without.obs.trace->records) EXPECT_EQ(rec.site, "") << describe_call(rec);
  const auto native = run({CRASHCHECK_SITE_WRITER}, false);
  for (const auto& rec : native.obs.trace->records) EXPECT_EQ(rec.site, "") << describe_call(rec);
}

// No debug information: no site, and the same run as with it.
TEST_P(Sites, WriterWithoutDebugInfoHasNone) {
  const auto stripped = run({CRASHCHECK_SITE_WRITER_STRIPPED});
  const auto with_info = run({CRASHCHECK_SITE_WRITER});
  EXPECT_EQ(shape(stripped), shape(with_info));
  for (const auto& rec : stripped.obs.trace->records) EXPECT_EQ(rec.site, "") << describe_call(rec);
}

#ifdef CRASHCHECK_SITE_WRITER_STATIC
// A static binary without debug information (seccomp only: LD_PRELOAD cannot reach it).
TEST_P(Sites, StaticWriterWithoutDebugInfoHasNone) {
  if (GetParam() != BackendKind::seccomp) GTEST_SKIP() << "LD_PRELOAD cannot reach a static binary";
  const auto r = run({CRASHCHECK_SITE_WRITER_STATIC});
  ASSERT_EQ(calls(r, OpClass::rename).size(), 1u) << listing(r);
  for (const auto& rec : r.obs.trace->records) EXPECT_EQ(rec.site, "") << describe_call(rec);
}
#endif

// An interpreter built from source with debug information (pyenv, conda)
// would otherwise name its own C files (fileutils.c, posixmodule.c) as the
// site of a Python writer's buffered write or os.sendfile.
TEST(SystemObject, AnInterpretersOwnCodeIsNeverTheWritersWhereverItIsInstalled) {
  for (const char* path :
       {"/root/.pyenv/versions/3.11.7/bin/python3.11", "/opt/conda/bin/python3",
        "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0",
        "/opt/py/lib/python3.11/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so",
        "/home/u/.nvm/versions/node/v20.1.0/bin/node", "/usr/lib/x86_64-linux-gnu/libc.so.6", "[vdso]"})
    EXPECT_TRUE(sites::system_object(path)) << path;
  for (const char* path : {"/work/build/cc_site_writer", "/opt/app/pythonic_writer", "/home/u/nodes/save"})
    EXPECT_FALSE(sites::system_object(path)) << path;
}

INSTANTIATE_TEST_SUITE_P(Backends, Sites, ::testing::Values(BackendKind::seccomp, BackendKind::preload),
                         [](const auto& info) { return std::string(backend_name(info.param)); });

}  // namespace
}  // namespace crashcheck::faults
