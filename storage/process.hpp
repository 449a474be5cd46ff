#pragma once
// Runs a helper program (initdb, pg_ctl) to completion and captures what it printed.
// Thread-safe. The child inherits no file descriptor but stdin (/dev/null), stdout and
// stderr (a pipe), so a PostgreSQL server started through pg_ctl never holds our locks
// or sockets.

#include <string>
#include <vector>

namespace parley::storage {

struct ProcessResult {
  int exit_code = -1;   ///< -1 if it could not be started or was killed by a signal
  std::string output;   ///< stdout and stderr, interleaved
};

/// Runs argv[0] (looked up in PATH if it has no '/') with the given arguments in the
/// directory `cwd` (empty: ours) and waits for it to exit.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& cwd = {});

}  // namespace parley::storage
