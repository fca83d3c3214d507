// Whole files in and out, for the binary loaders and savers.
//
// read_file reads a regular file and refuses anything else by name ("is a directory"): the size
// that seeking reports for a directory is 2^63 - 1 on ext4, which is not a size to allocate. It
// reads the file it opened to its end, so a model saved over the path meanwhile is never read as
// the size of one file and the bytes of another.
//
// write_file replaces a file the way SQLite and LevelDB do: the bytes go to a temporary file of a
// unique name in the destination's folder (so two writers never share one), which is flushed to
// the disk and then renamed over the destination, and the folder is flushed too. Whoever reads
// the destination sees the complete old file or the complete new one, never a torn one, even
// after a crash; a failed write removes its temporary file.
#pragma once

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#if defined(_WIN32)
#include <cstdio>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "../config.hpp"

namespace backprop {

namespace detail {

/// "net.bpm: " + what + ": " + the system's reason for errno `code`.
inline FileError system_error(const std::filesystem::path& path, const std::string& what,
                              int code) {
  return FileError(path.string() + ": " + what + ": " + std::generic_category().message(code));
}

/// Throws FileError unless `path` names a regular file (or, for `may_be_missing`, nothing).
inline void check_file(const std::filesystem::path& path, bool may_be_missing, const char* action) {
  if (path.empty()) throw FileError(std::string("cannot ") + action + " a file without a name");
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::not_found) {
    if (may_be_missing) return;
    throw FileError(path.string() + ": cannot open for reading: no such file");
  }
  if (error) throw FileError(path.string() + ": cannot " + action + ": " + error.message());
  if (std::filesystem::is_directory(status))
    throw FileError(path.string() + ": is a directory, not a file");
  if (!std::filesystem::is_regular_file(status))
    throw FileError(path.string() + ": is not a regular file");
}

/// A name for a temporary file beside `path` that no other writer uses:
/// ".net.bpm.<random>.partial".
inline std::filesystem::path temporary_beside(const std::filesystem::path& path) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string tag;
  for (int i = 0; i < 12; ++i)
    tag += digits[random() % 36];
  return path.parent_path() / ("." + path.filename().string() + "." + tag + ".partial");
}

}  // namespace detail

namespace io {

/// A file open for reading: whatever renames a new file over its path afterwards, it reads the
/// file it opened, to its end.
class OpenFile {
 public:
  /// Opens the regular file at `path`, or throws FileError naming it and the reason.
  explicit OpenFile(const std::filesystem::path& path) : path_(path) {
    detail::check_file(path, false, "read");
#if defined(_WIN32)
    in_.open(path, std::ios::binary | std::ios::ate);
    if (!in_) throw detail::system_error(path, "cannot open for reading", errno);
    size_ = static_cast<std::size_t>(in_.tellg());
    in_.seekg(0);
#else
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw detail::system_error(path, "cannot open for reading", errno);
    // What was opened must be a regular file too: the path may have changed since it was checked.
    struct stat status {};
    if (::fstat(fd_, &status) != 0 || !S_ISREG(status.st_mode)) {
      ::close(fd_);
      throw FileError(path.string() + ": is not a regular file");
    }
    size_ = static_cast<std::size_t>(status.st_size);
#endif
  }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile() {
#if !defined(_WIN32)
    ::close(fd_);
#endif
  }

  /// Every byte to the end of the file. Memory grows with the bytes read, from the size of the
  /// file that was opened, never from a size asked by name, which may by then be another file's.
  std::vector<std::uint8_t> read_all() {
    std::vector<std::uint8_t> bytes(size_ +
                                    1);  // one more, so that the end is seen without growing
    std::size_t used = 0;
    for (;;) {
      if (used == bytes.size()) bytes.resize(2 * bytes.size());
#if defined(_WIN32)
      in_.read(reinterpret_cast<char*>(bytes.data() + used),
               static_cast<std::streamsize>(bytes.size() - used));
      const auto n = static_cast<std::size_t>(in_.gcount());
      if (in_.bad()) throw FileError(path_.string() + ": read error");
#else
      const ::ssize_t n = ::read(fd_, bytes.data() + used, bytes.size() - used);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw detail::system_error(path_, "read error", errno);
#endif
      if (n == 0) break;
      used += static_cast<std::size_t>(n);
    }
    bytes.resize(used);
    return bytes;
  }

 private:
  std::filesystem::path path_;
  std::size_t size_ = 0;  // of the file opened, when it was opened
#if defined(_WIN32)
  std::ifstream in_;
#else
  int fd_ = -1;
#endif
};

/// All bytes of the regular file at `path`, or a FileError naming it and the reason. A file that
/// another process renames over `path` meanwhile is read as the one or the other, whole.
inline std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
  return OpenFile(path).read_all();
}

/// Writes `bytes` to `path` atomically: a unique temporary file beside it, flushed to the disk and
/// renamed over it, the folder flushed too. On any failure the temporary file is removed and a
/// FileError says why; `path` is then as it was.
inline void write_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  detail::check_file(path, true, "write");
#if defined(_WIN32)
  const auto temporary = detail::temporary_beside(path);
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError(path.string() + ": cannot open for writing");
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw FileError(path.string() + ": write error (disk full?)");
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw FileError(path.string() + ": cannot replace the file: " + error.message());
  }
#else
  std::filesystem::path temporary;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    temporary = detail::temporary_beside(path);
    fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST)
      throw detail::system_error(path, "cannot open for writing", errno);
  }
  if (fd < 0) throw FileError(path.string() + ": cannot open for writing: no free temporary name");
  auto fail = [&](const char* what) {
    const int code = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(temporary.c_str());
    throw detail::system_error(path, what, code);
  };
  for (std::size_t done = 0; done < bytes.size();) {
    const ::ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write error");
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("cannot flush to the disk");
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) fail("write error");
  if (::rename(temporary.c_str(), path.c_str()) != 0) fail("cannot replace the file");
  // The rename itself is durable once the folder is on the disk. A folder that cannot be flushed
  // (some file systems refuse) leaves the file complete, only perhaps not yet renamed after a
  // crash: not an error.
  const auto folder = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
#endif
}

}  // namespace io
}  // namespace backprop
