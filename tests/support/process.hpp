#pragma once
// Runs the parley binary (or another program) from a test: to completion with given standard
// input, or in the background until the test stops it.

#include <sys/types.h>

#include <string>
#include <vector>

namespace parley::test {

struct Ran {
  int exit_code = -1;
  std::string out;  ///< standard output
  std::string err;  ///< standard error
};

/// Runs argv to completion, feeding `input` on standard input. Environment: ours plus `env`
/// ("NAME=value" entries).
Ran run(const std::vector<std::string>& argv, const std::string& input = {},
        const std::vector<std::string>& env = {}, const std::string& cwd = {});

/// Runs `parley ARGS...` (the binary this build made).
Ran parley(const std::vector<std::string>& args, const std::string& input = {});

/// A process running in the background; killed (SIGKILL) if still running at destruction,
/// and by the kernel if the test process dies first. argv[0] must be a full path.
class Background {
 public:
  Background(const std::vector<std::string>& argv, const std::string& cwd = {});
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  /// Waits until its standard error contains `text` or `seconds` pass; true if it appeared.
  bool wait_for_stderr(const std::string& text, int seconds);
  /// Sends a signal and waits for the exit; returns the exit status (-1 if killed by signal).
  int stop(int signal);
  /// What it wrote to standard error so far (reads whatever is pending first).
  const std::string& stderr_text() {
    drain(0);
    return err_;
  }
  pid_t pid() const { return pid_; }

 private:
  void drain(int timeout_ms);
  pid_t pid_ = -1;
  int err_fd_ = -1;
  std::string err_;
};

/// A fresh temporary directory (mode 0755, under $TMPDIR or /tmp), removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& text);
std::string read_file(const std::string& path);

}  // namespace parley::test
