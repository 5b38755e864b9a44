// Properties over random operation sequences: at every crash point the fully
// persisted state (and, under posix, the last-synced state) is among those
// enumerated, right after sync() it is the only one, and every enumerated
// state is consistent with the trace.
#include "trace_builder.hpp"

#include "model.hpp"
#include "point.hpp"
#include "space.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <functional>
#include <set>

namespace crashcheck::powerloss {
namespace {

using testing::TraceBuilder;

constexpr std::uint32_t kBlock = 4;  // small blocks so short contents span several
const std::vector<std::string> kNames = {"a", "b", "c"};

// One step of a random writer, built from small parts.
struct Step {
  enum class Kind { create, open_trunc, write, pwrite, truncate, fsync, fsync_dir, sync, close, rename, unlink };
  Kind kind = Kind::write;
  std::size_t name = 0;
  std::size_t other = 0;
  std::uint64_t offset = 0;
  std::string data;
};

rc::Gen<std::string> small_data() {
  return rc::gen::map(rc::gen::nonEmpty(rc::gen::container<std::string>(rc::gen::element('x', 'y', 'z'))),
                      [](std::string s) {
                        s.resize(std::min<std::size_t>(s.size(), 9));
                        return s;
                      });
}

rc::Gen<Step> step() {
  return rc::gen::apply(
      [](Step::Kind kind, std::size_t name, std::size_t other, std::uint64_t offset, std::string data) {
        return Step{kind, name, other, offset, std::move(data)};
      },
      rc::gen::element(Step::Kind::create, Step::Kind::create, Step::Kind::open_trunc, Step::Kind::write,
                       Step::Kind::write, Step::Kind::pwrite, Step::Kind::truncate, Step::Kind::fsync,
                       Step::Kind::fsync_dir, Step::Kind::sync, Step::Kind::close, Step::Kind::rename,
                       Step::Kind::unlink),
      rc::gen::inRange<std::size_t>(0, kNames.size()), rc::gen::inRange<std::size_t>(0, kNames.size()),
      rc::gen::inRange<std::uint64_t>(0, 9), small_data());
}

// Plays one step if it makes sense now (a real program could have made it);
// `after_call` runs after every recorded call, for the oracles.
void play(const Step& s, TraceBuilder& b, const std::function<void()>& after_call) {
  const auto& name = kNames[s.name];
  const int fd = b.fd_of(name);
  switch (s.kind) {
    case Step::Kind::create:
      if (!b.exists(name)) {
        b.create(name, 0600, "open");
      } else if (fd < 0) {
        b.open(name, O_WRONLY);
      }
      break;
    case Step::Kind::open_trunc:
      if (b.exists(name) && fd < 0) b.open(name, O_WRONLY | O_TRUNC);
      break;
    case Step::Kind::write:
      if (fd >= 0) b.write(fd, s.data);
      break;
    case Step::Kind::pwrite:
      if (fd >= 0) b.pwrite(fd, s.offset, s.data, "pwrite");
      break;
    case Step::Kind::truncate:
      if (fd >= 0) b.ftruncate(fd, s.offset);
      break;
    case Step::Kind::fsync:
      if (fd >= 0) b.fsync(fd);
      break;
    case Step::Kind::fsync_dir: {
      int dir = b.open_directory();
      after_call();
      b.fsync(dir);
      after_call();
      b.close(dir);
      break;
    }
    case Step::Kind::sync:
      b.sync();
      break;
    case Step::Kind::close:
      if (fd >= 0) b.close(fd);
      break;
    case Step::Kind::rename:
      // Open descriptors keep their open-time path; keep renames to closed files.
      if (b.exists(name) && fd < 0 && s.other != s.name && b.fd_of(kNames[s.other]) < 0)
        b.rename(name, kNames[s.other]);
      break;
    case Step::Kind::unlink:
      if (b.exists(name) && fd < 0) b.unlink(name);
      break;
  }
}

std::map<std::string, std::string> contents_of(const DirectoryState& state) {
  std::map<std::string, std::string> out;
  for (const auto& [name, file] : state.entries) out[name] = file.content;
  return out;
}

bool contains_state(const CrashPoint& point, const std::map<std::string, std::string>& expected) {
  return std::any_of(point.states.begin(), point.states.end(),
                     [&](const DirectoryState& s) { return contents_of(s) == expected; });
}

std::string block_at(const std::string& content, std::size_t b) {
  std::string out(kBlock, '\0');
  for (std::size_t i = 0; i < kBlock && b * kBlock + i < content.size(); ++i) out[i] = content[b * kBlock + i];
  return out;
}

// `content` is a block-wise mix of `versions`: its length is one of theirs and
// each block is some version's block (zeros past a version's end), or a torn
// block whose changed bytes are a prefix from one version over another.
bool is_blockwise_mix(const std::string& content, const std::vector<std::string>& versions) {
  if (std::none_of(versions.begin(), versions.end(), [&](const auto& v) { return v.size() == content.size(); })) {
    return false;
  }
  for (std::size_t b = 0; b * kBlock < content.size(); ++b) {
    const std::string got = block_at(content, b).substr(0, std::min<std::size_t>(kBlock, content.size() - b * kBlock));
    bool ok = false;
    for (const auto& newer : versions) {
      for (const auto& older : versions) {
        const std::string n = block_at(newer, b), o = block_at(older, b);
        for (std::size_t cut = 0; cut <= kBlock && !ok; ++cut) {
          ok = (n.substr(0, cut) + o.substr(cut)).substr(0, got.size()) == got;
        }
      }
    }
    if (!ok) return false;
  }
  return true;
}

struct History {
  std::map<std::uint64_t, std::vector<std::string>> versions;  // every content each inode had
  std::set<std::string> names;
};

void note(History& h, const TraceBuilder& b) {
  for (const auto& [inode, content] : b.contents()) {
    auto& list = h.versions[inode];
    if (list.empty() || list.back() != content) list.push_back(content);
  }
  for (const auto& name : kNames) {
    if (b.exists(name)) h.names.insert(name);
  }
}

void check_sequence(Profile profile, const std::vector<Step>& steps, std::size_t initial_files) {
  TraceBuilder b;
  for (std::size_t i = 0; i < initial_files && i < kNames.size(); ++i)
    b.initial_file(kNames[i], "initial-" + kNames[i]);
  History history;
  std::vector<std::map<std::string, std::string>> persisted{b.fully_persisted()}, synced{b.last_synced()};
  note(history, b);
  auto after_call = [&] {
    while (persisted.size() < b.trace().records.size() + 1) {
      persisted.push_back(b.fully_persisted());
      synced.push_back(b.last_synced());
    }
  };
  for (const auto& s : steps) {
    play(s, b, after_call);
    after_call();
    note(history, b);
  }
  Options options;
  options.profile = profile;
  options.block_size = kBlock;
  options.max_states_per_point = 64;
  auto points = enumerate(b.trace(), b.initial(), options);
  RC_CLASSIFY(b.trace().records.size() >= 8, "8+ calls");
  RC_CLASSIFY(std::any_of(points.begin(), points.end(), [](const auto& p) { return p.coverage.sampled; }), "sampled");
  RC_ASSERT(points.size() == b.trace().records.size() + 1);
  for (std::size_t i = 0; i < points.size(); ++i) {
    RC_ASSERT(points[i].coverage.explored == points[i].states.size());
    RC_ASSERT(points[i].coverage.explored <= options.max_states_per_point);
    RC_ASSERT(contains_state(points[i], persisted[i]));
    if (profile == Profile::posix) RC_ASSERT(contains_state(points[i], synced[i]));
    if (i > 0 && b.trace().records[i - 1].op == faults::OpClass::sync_all) {
      // Right after sync() nothing is pending: one state, the persisted one.
      RC_ASSERT(points[i].states.size() == 1u);
      RC_ASSERT(contents_of(points[i].states[0]) == persisted[i]);
    }
    for (const auto& state : points[i].states) {
      for (const auto& [name, file] : state.entries) {
        RC_ASSERT(history.names.count(name) == 1u);
        bool consistent = std::any_of(history.versions.begin(), history.versions.end(),
                                      [&](const auto& h) { return is_blockwise_mix(file.content, h.second); });
        RC_ASSERT(consistent);
      }
    }
  }
}

// Sampling leaves the blocks past each file's chosen length undrawn (no
// state's contents depend on them), and every dimension of a file no entry
// of the state names, and draws them only when asked for what the state
// lost: completed, a choice must be exactly the one drawn in full,
// dimension by dimension, and consume the generator the same. A file's
// choice at a version, moved there from another version, must be the one
// computed afresh.
void check_deferred_draws(const std::vector<Step>& steps, std::size_t initial_files, std::uint64_t seed) {
  TraceBuilder b;
  for (std::size_t i = 0; i < initial_files && i < kNames.size(); ++i)
    b.initial_file(kNames[i], "initial-" + kNames[i]);
  for (const auto& s : steps) play(s, b, [] {});
  detail::Replay replay(b.initial(), Profile::posix);
  for (const auto& record : b.trace().records) replay.apply(record);
  detail::FileModelCache cache;
  detail::PointModel model(replay.snapshot(), kBlock, cache);
  const auto space = detail::make_space(model, Profile::posix);
  const auto shape = detail::shape_of(*space);
  auto in_full = shape;
  in_full.tails.clear();
  RC_CLASSIFY(!shape.tails.empty(), "files with unsynced data");
  detail::Rng deferring(seed), reference(seed);
  detail::Choice choice, expected;
  std::vector<detail::Deferred> deferred, none;
  detail::Decoded entries;
  bool unnamed = false;
  const detail::Named named = [&](std::size_t file, const detail::Choice& earlier) {
    space->decode_entries(earlier, entries);
    const bool is_named = model.overlay(entries).named[file];
    unnamed = unnamed || !is_named;
    return is_named;
  };
  for (int draw = 0; draw < 8; ++draw) {
    detail::random_choice(*space, shape, deferring, choice, deferred, &named);
    detail::random_choice(*space, in_full, reference, expected, none);
    RC_ASSERT(none.empty());
    detail::Decoded partial, full;
    space->decode(choice, partial);
    space->decode(expected, full);
    RC_ASSERT(model.hash(partial, model.overlay(partial)) == model.hash(full, model.overlay(full)));
    detail::draw_deferred(shape, deferred, choice);
    RC_ASSERT(choice == expected);
  }
  RC_ASSERT(deferring() == reference());
  RC_CLASSIFY(unnamed, "a file no entry names");
  detail::Rng versions(seed);
  for (std::size_t f = 0; f < model.file_count(); ++f) {
    const auto& file = model.file(f);
    detail::FileChoice moved;
    for (int step = 0; step < 8; ++step) {
      const std::size_t version = versions() % (file.chain.size() + 1);
      model.file_at_version(file, version, moved);
      detail::FileChoice fresh;
      model.file_at_version(file, version, fresh);
      RC_ASSERT(moved.size == fresh.size);
      RC_ASSERT(moved.blocks == fresh.blocks);
    }
  }
  // ext4-ordered decodes its choices in one reused Decoded, each file moved
  // from the previous choice's version (a write cut part-way patched on top).
  detail::Replay ordered_replay(b.initial(), Profile::ext4_ordered);
  for (const auto& record : b.trace().records) ordered_replay.apply(record);
  detail::FileModelCache ordered_cache;
  detail::PointModel ordered(ordered_replay.snapshot(), kBlock, ordered_cache);
  const auto ordered_space = detail::make_space(ordered, Profile::ext4_ordered);
  std::vector<detail::Choice> choices;
  if (ordered_space->count().value <= 4096) {  // a walk of every choice stays short
    detail::for_each_choice(*ordered_space, [&](const detail::Choice& c) {
      if (choices.size() < 64) choices.push_back(c);
    });
  }
  detail::Decoded reused;
  for (int step = 0; step < 16 && !choices.empty(); ++step) {
    const auto& c = choices[versions() % choices.size()];
    ordered_space->decode(c, reused);
    detail::Decoded fresh;
    ordered_space->decode(c, fresh);
    for (std::size_t f = 0; f < fresh.files.size(); ++f) {
      RC_ASSERT(reused.files[f].size == fresh.files[f].size);
      RC_ASSERT(reused.files[f].blocks == fresh.files[f].blocks);
    }
  }
}

}  // namespace

RC_GTEST_PROP(PowerLossProperty, DeferredDrawsCompleteToTheFullDraw, ()) {
  auto steps = *rc::gen::container<std::vector<Step>>(*rc::gen::inRange<std::size_t>(0, 30), step());
  auto initial = *rc::gen::inRange<std::size_t>(0, 3);
  check_deferred_draws(steps, initial, *rc::gen::arbitrary<std::uint64_t>());
}

RC_GTEST_PROP(PowerLossProperty, PosixEnumeratesPersistedSyncedAndConsistentStates, ()) {
  auto steps = *rc::gen::container<std::vector<Step>>(*rc::gen::inRange<std::size_t>(0, 30), step());
  auto initial = *rc::gen::inRange<std::size_t>(0, 3);
  check_sequence(Profile::posix, steps, initial);
}

RC_GTEST_PROP(PowerLossProperty, Ext4OrderedEnumeratesPersistedAndConsistentStates, ()) {
  auto steps = *rc::gen::container<std::vector<Step>>(*rc::gen::inRange<std::size_t>(0, 30), step());
  auto initial = *rc::gen::inRange<std::size_t>(0, 3);
  check_sequence(Profile::ext4_ordered, steps, initial);
}

}  // namespace crashcheck::powerloss
