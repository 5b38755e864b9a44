// Test helper: writes synthetic traces the way the agent records them, and
// keeps its own plain view of the directory (names, inodes, bytes) plus the
// last-synced view under the strict posix rules, as oracles independent of
// the model under test.
#pragma once

#include "crashcheck/powerloss.hpp"

#include <fcntl.h>

#include <cstdint>
#include <map>
#include <string>

namespace crashcheck::powerloss::testing {

class TraceBuilder {
 public:
  struct Open {
    std::uint64_t inode = 0;
    std::string path;
    std::uint64_t offset = 0;
    bool is_directory = false;
  };

  // A file that exists (durably) before the subject runs.
  void initial_file(const std::string& name, const std::string& content, std::uint32_t mode = 0644) {
    std::uint64_t inode = next_inode_++;
    initial_.files.push_back({name, content, mode, inode, false});
    live_[name] = synced_dir_[name] = inode;
    content_[inode] = synced_content_[inode] = content;
  }

  // `extra_flags` joins O_RDWR | O_CREAT | O_EXCL (e.g. O_DSYNC).
  int create(const std::string& name, std::uint32_t mode = 0600, const std::string& call = "mkstemp",
             int extra_flags = 0) {
    std::uint64_t inode = next_inode_++;
    auto& r = add(call, faults::OpClass::open, name);
    r.inode = inode;
    r.created = true;
    r.flags = O_RDWR | O_CREAT | O_EXCL | extra_flags;
    r.mode = mode;
    r.fd = next_fd_;
    live_[name] = inode;
    content_[inode] = "";
    open_[next_fd_] = Open{inode, name, 0, false};
    return next_fd_++;
  }

  // open(dir, O_TMPFILE): a new file with no name, traced as faults::unnamed_in(dir).
  int create_unnamed(const std::string& dir = ".", std::uint32_t mode = 0644) {
    std::uint64_t inode = next_inode_++;
    const std::string name = faults::unnamed_in(dir);
    auto& r = add("openat", faults::OpClass::open, name);
    r.inode = inode;
    r.created = true;
    r.flags = O_TMPFILE | O_WRONLY;
    r.mode = mode;
    r.fd = next_fd_;
    content_[inode] = "";
    open_[next_fd_] = Open{inode, name, 0, false};
    return next_fd_++;
  }

  // linkat(/proc/self/fd/N or AT_EMPTY_PATH) gives an unnamed file its first
  // name; its descriptor calls that name from then on.
  void link_unnamed(int fd, const std::string& name) {
    auto& f = open_.at(fd);
    auto& r = add("linkat", faults::OpClass::link, f.path);
    r.path2 = name;
    r.inode = f.inode;
    r.created = true;
    r.flags = AT_SYMLINK_FOLLOW;
    live_[name] = f.inode;
    f.path = name;
  }

  // Opens an existing file (flags may hold O_TRUNC / O_APPEND).
  int open(const std::string& name, int flags) {
    std::uint64_t inode = live_.at(name);
    auto& r = add("open", faults::OpClass::open, name);
    r.inode = inode;
    r.flags = flags;
    r.fd = next_fd_;
    if ((flags & O_TRUNC) != 0) content_[inode].clear();
    open_[next_fd_] = Open{inode, name, 0, false};
    return next_fd_++;
  }

  int open_directory(const std::string& name = ".") {
    auto& r = add("open", faults::OpClass::open, name);
    r.inode = kDirectoryInode;
    r.is_directory = true;
    r.flags = O_RDONLY | O_DIRECTORY;
    r.fd = next_fd_;
    open_[next_fd_] = Open{kDirectoryInode, name, 0, true};
    return next_fd_++;
  }

  void write(int fd, const std::string& data) {
    auto& f = open_.at(fd);
    pwrite(fd, f.offset, data);
    f.offset += data.size();
  }

  void pwrite(int fd, std::uint64_t offset, const std::string& data, const std::string& call = "write") {
    auto& f = open_.at(fd);
    auto& r = add(call, faults::OpClass::write, f.path);
    r.fd = fd;
    r.inode = f.inode;
    r.offset = static_cast<std::int64_t>(offset);
    r.length = data.size();
    r.result = static_cast<std::int64_t>(data.size());
    r.data = data;
    auto& bytes = content_[f.inode];
    if (bytes.size() < offset + data.size()) bytes.resize(offset + data.size(), '\0');
    bytes.replace(offset, data.size(), data);
  }

  // Stores through a shared mapping of [offset, offset + data.size()), as the
  // seccomp supervisor records them at msync/munmap: a write of the range,
  // result 0, msync's flags (MS_SYNC, MS_ASYNC). The oracles count it as a write.
  void mapped(int fd, const std::string& data, const std::string& call, int flags = 0, std::uint64_t offset = 0) {
    pwrite(fd, offset, data, call);
    trace_.records.back().result = 0;
    trace_.records.back().flags = flags;
  }

  // pwritev2 at the descriptor's offset with RWF_* `flags`.
  void pwritev2(int fd, const std::string& data, int flags) {
    write(fd, data);
    trace_.records.back().call = "pwritev2";
    trace_.records.back().flags = flags;
  }

  // fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE): the range reads as zeros.
  void punch_hole(int fd, std::uint64_t offset, std::uint64_t length) {
    auto& f = open_.at(fd);
    auto& r = add("fallocate", faults::OpClass::allocate, f.path);
    r.fd = fd;
    r.inode = f.inode;
    r.offset = static_cast<std::int64_t>(offset);
    r.length = length;
    r.flags = 0x02 | 0x01;
    auto& bytes = content_[f.inode];
    for (std::uint64_t i = offset; i < std::min<std::uint64_t>(offset + length, bytes.size()); ++i) bytes[i] = '\0';
  }

  void ftruncate(int fd, std::uint64_t length) {
    auto& f = open_.at(fd);
    auto& r = add("ftruncate", faults::OpClass::truncate, f.path);
    r.fd = fd;
    r.inode = f.inode;
    r.offset = static_cast<std::int64_t>(length);
    content_[f.inode].resize(length, '\0');
  }

  void fchmod(int fd, std::uint32_t mode) {
    auto& f = open_.at(fd);
    auto& r = add("fchmod", faults::OpClass::chmod, f.path);
    r.fd = fd;
    r.inode = f.inode;
    r.mode = mode;
  }

  void fsync(int fd) {
    auto& f = open_.at(fd);
    auto& r = add("fsync", faults::OpClass::sync, f.path);
    r.fd = fd;
    r.inode = f.inode;
    r.is_directory = f.is_directory;
    if (f.is_directory) {
      synced_dir_ = live_;
    } else {
      synced_content_[f.inode] = content_[f.inode];
    }
  }

  void sync() {
    add("sync", faults::OpClass::sync_all, "");
    synced_dir_ = live_;
    synced_content_ = content_;
  }

  void close(int fd) {
    auto& r = add("close", faults::OpClass::close, open_.at(fd).path);
    r.fd = fd;
    open_.erase(fd);
  }

  // open(".") + fsync + close: the step that makes a rename durable.
  void fsync_directory() {
    const int dir = open_directory();
    fsync(dir);
    close(dir);
  }

  void rename(const std::string& from, const std::string& to) {
    auto& r = add("rename", faults::OpClass::rename, from);
    r.path2 = to;
    r.inode = live_.at(from);
    live_[to] = live_.at(from);
    live_.erase(from);
  }

  void unlink(const std::string& name) {
    auto& r = add("unlink", faults::OpClass::unlink, name);
    r.inode = live_.at(name);
    live_.erase(name);
  }

  // A call that failed: recorded, changes nothing.
  void failed(const std::string& call, faults::OpClass op, const std::string& path, const std::string& path2,
              int error) {
    auto& r = add(call, op, path);
    r.path2 = path2;
    r.error = error;
    r.result = -1;
  }

  // Oracles, as of now.
  std::map<std::string, std::string> fully_persisted() const { return view(live_, content_); }
  // posix: directory as of its last fsync, each file's bytes as of its last fsync.
  std::map<std::string, std::string> last_synced() const { return view(synced_dir_, synced_content_); }
  bool has_open(const std::string& name) const {
    for (const auto& [fd, f] : open_) {
      if (f.path == name) return true;
    }
    return false;
  }
  int fd_of(const std::string& name) const {
    for (const auto& [fd, f] : open_) {
      if (f.path == name) return fd;
    }
    return -1;
  }
  bool exists(const std::string& name) const { return live_.count(name) != 0; }
  std::uint64_t inode_of(const std::string& name) const { return live_.at(name); }
  const std::map<std::uint64_t, std::string>& contents() const { return content_; }

  const faults::Trace& trace() const { return trace_; }
  const InitialState& initial() const { return initial_; }
  std::uint32_t last_seq() const { return seq_; }

  static constexpr std::uint64_t kDirectoryInode = 2;

 private:
  faults::TraceRecord& add(const std::string& call, faults::OpClass op, const std::string& path) {
    faults::TraceRecord r;
    r.seq = ++seq_;
    r.pid = 4242;
    r.call = call;
    r.op = op;
    r.path = path;
    trace_.records.push_back(r);
    return trace_.records.back();
  }

  std::map<std::string, std::string> view(const std::map<std::string, std::uint64_t>& dir,
                                          const std::map<std::uint64_t, std::string>& bytes) const {
    std::map<std::string, std::string> out;
    for (const auto& [name, inode] : dir) {
      auto found = bytes.find(inode);
      out[name] = found != bytes.end() ? found->second : std::string();
    }
    return out;
  }

  faults::Trace trace_;
  InitialState initial_{kDirectoryInode, {}};
  std::uint32_t seq_ = 0;
  std::uint64_t next_inode_ = 100;
  int next_fd_ = 3;
  std::map<std::string, std::uint64_t> live_, synced_dir_;
  std::map<std::uint64_t, std::string> content_, synced_content_;
  std::map<int, Open> open_;
};

}  // namespace crashcheck::powerloss::testing
