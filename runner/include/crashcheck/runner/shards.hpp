// Sharding: one run's cases split across the parallel jobs of a CI system
// (`crashcheck run --shard K/N`), and the N shard reports joined back into
// the report an unsharded run would have written (`crashcheck merge`).
//
// Every shard runs the fault-free baseline (its trace is what cases are
// planned from), so all shards plan the same cases; the cases that need a run
// of their own are dealt round-robin: planned case i belongs to shard
// (i mod N) + 1. What is computed from the baseline run itself — its own
// state, the fast-mode kill states and reader states of its pauses, and the
// power-loss model — is judged in shard 1 only, so every state is judged in
// exactly one shard and the verdicts, case counts and failures of the merged
// report equal an unsharded run's.
#pragma once

#include <crashcheck/report.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crashcheck::runner {

struct ShardSlice {
  std::uint32_t index = 1;  // K, 1-based
  std::uint32_t count = 1;  // N

  bool owns(std::size_t planned_case) const { return planned_case % count == index - 1; }
  bool first() const { return index == 1; }
};

// "2/5" -> {2, 5}; anything else (0/5, 6/5, "x") is bad input named as `where`.
ShardSlice parse_shard(std::string_view text, std::string_view where);  // throws InputError

// A short, stable digest of what a run planned (settings and case ids in
// order); shards of one run must agree on it.
std::string plan_fingerprint(const std::vector<std::string>& planned);

// Joins the reports of all N shards of one run (any order). Throws InputError
// naming the file when one is not a shard report, belongs to another subject,
// shard count or plan, or repeats a shard, and naming the missing shards.
struct ShardFile {
  std::filesystem::path file;
  reports::Report report;
};
reports::Report merge_shards(const std::vector<ShardFile>& shards);

}  // namespace crashcheck::runner
