// Runs of repeated calls and their seeded sample (sampling.hpp).
#include "crashcheck/runner/sampling.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cerrno>
#include <set>

namespace crashcheck::runner {
namespace {

using faults::OpClass;
using faults::Trace;
using faults::TraceRecord;

TraceRecord call(std::string name, OpClass op, std::uint64_t inode, std::uint64_t length) {
  TraceRecord r;
  r.call = std::move(name);
  r.op = op;
  r.inode = inode;
  r.path = "f" + std::to_string(inode);
  r.fd = 3;
  r.length = length;
  return r;
}

// open, `writes` × write(4096), fsync, close, rename: a Python writer's shape.
Trace chunked_writer(std::size_t writes) {
  Trace t;
  t.records.push_back(call("openat", OpClass::open, 7, 0));
  for (std::size_t i = 0; i < writes; ++i) t.records.push_back(call("write", OpClass::write, 7, 4096));
  t.records.push_back(call("fsync", OpClass::sync, 7, 0));
  t.records.push_back(call("close", OpClass::close, 7, 0));
  t.records.push_back(call("rename", OpClass::rename, 7, 0));
  for (std::size_t i = 0; i < t.records.size(); ++i) t.records[i].seq = static_cast<std::uint32_t>(i + 1);
  return t;
}

TEST(RepeatedRuns, GroupsBackToBackCallsThatDifferOnlyInPosition) {
  const auto runs = repeated_runs(chunked_writer(250));
  ASSERT_EQ(runs.size(), 5u);
  EXPECT_EQ(runs[1].first, 1u);
  EXPECT_EQ(runs[1].count, 250u);
  for (std::size_t i : {0u, 2u, 3u, 4u}) EXPECT_EQ(runs[i].count, 1u);
}

TEST(RepeatedRuns, ADifferentSizeOrFileBreaksTheRun) {
  Trace t = chunked_writer(4);
  t.records[2].length = 100;  // a short last chunk in the middle
  t.records[3].inode = 8;     // another file
  const auto runs = repeated_runs(t);
  EXPECT_EQ(runs.size(), 8u);  // open | write | write(100) | write(other file) | write | fsync | close | rename
}

TEST(SampleMembers, KeepsTheEndsAndALogarithmicSample) {
  const auto members = sample_members(250, kDefaultSampleSeed, 2);
  ASSERT_GE(members.size(), 3u);
  EXPECT_EQ(members[0], 0u);
  EXPECT_EQ(members[1], 1u);
  EXPECT_EQ(members.back(), 249u);
  EXPECT_EQ(members.size(), 3u + 8u);  // ceil(log2 250) = 8
}

TEST(ChosenCalls, ExhaustiveTakesEveryCall) {
  const Trace t = chunked_writer(250);
  const auto all = chosen_calls(t, {.exhaustive = true});
  ASSERT_EQ(all.size(), t.records.size());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].index, i);
}

TEST(ChosenCalls, FirstOfKindOnEachFileOnly) {
  const Trace t = chunked_writer(250);
  const auto chosen = chosen_calls(t, {});
  std::size_t firsts = 0;
  for (const auto& c : chosen) firsts += c.first_of_kind;
  EXPECT_EQ(firsts, 5u);  // openat, write, fsync, close, rename
  EXPECT_EQ(chosen.size(), 4u + 11u);
}

TEST(ErrnosFor, AllOnTheFirstCallRepresentativeOnTheRest) {
  const int all[] = {ENOSPC, EDQUOT, EIO, EINTR, EFBIG};
  EXPECT_EQ(errnos_for({1, true}, OpClass::write, all, {}).size(), 5u);
  EXPECT_EQ(errnos_for({2, false}, OpClass::write, all, {}), (std::vector<int>{ENOSPC, EIO, EINTR}));
  const int sync_errnos[] = {EIO, ENOSPC, EDQUOT};
  EXPECT_EQ(errnos_for({2, false}, OpClass::sync, sync_errnos, {}), (std::vector<int>{EIO}));
  EXPECT_EQ(errnos_for({2, false}, OpClass::write, all, {.exhaustive = true}).size(), 5u);
}

RC_GTEST_PROP(SampleMembers, EndsAlwaysInAscendingBoundedAndReplayable, ()) {
  const auto count = *rc::gen::inRange<std::size_t>(1, 20000);
  const auto seed = *rc::gen::arbitrary<std::uint64_t>();
  const auto salt = *rc::gen::arbitrary<std::uint64_t>();
  const auto members = sample_members(count, seed, salt);
  RC_ASSERT(std::is_sorted(members.begin(), members.end()));
  RC_ASSERT(std::adjacent_find(members.begin(), members.end()) == members.end());
  RC_ASSERT(members.front() == 0u);
  RC_ASSERT(members.back() == count - 1);
  if (count >= 2) RC_ASSERT(members[1] == 1u);
  RC_ASSERT(members.size() <= std::min<std::size_t>(count, 3 + std::bit_width(count)));
  RC_ASSERT(sample_members(count, seed, salt) == members);
}

RC_GTEST_PROP(RepeatedRuns, PartitionTheTraceIntoRepeats, ()) {
  const auto shape = *rc::gen::container<std::vector<std::pair<int, int>>>(
      rc::gen::pair(rc::gen::inRange(0, 3), rc::gen::inRange(1, 3)));
  Trace t;
  for (auto [file, size] : shape) t.records.push_back(call("write", OpClass::write, 10 + file, 4096u * size));
  const auto runs = repeated_runs(t);
  std::size_t next = 0;
  for (const auto& run : runs) {
    RC_ASSERT(run.first == next);
    RC_ASSERT(run.count >= 1u);
    for (std::size_t i = 1; i < run.count; ++i) {
      RC_ASSERT(t.records[run.first + i].inode == t.records[run.first].inode);
      RC_ASSERT(t.records[run.first + i].length == t.records[run.first].length);
    }
    next += run.count;
  }
  RC_ASSERT(next == t.records.size());
}

// A defect planted in any one middle member is reached by the seeded sample
// for some seed: over many seeds every member of a run is drawn.
TEST(SampleMembers, EveryMiddleMemberIsDrawnBySomeSeed) {
  constexpr std::size_t count = 64;
  std::set<std::size_t> drawn;
  for (std::uint64_t seed = 0; seed < 400 && drawn.size() < count; ++seed)
    for (auto m : sample_members(count, seed, 1)) drawn.insert(m);
  EXPECT_EQ(drawn.size(), count);
}

}  // namespace
}  // namespace crashcheck::runner
