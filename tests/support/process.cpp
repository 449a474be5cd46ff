#include "tests/support/process.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace parley::test {
namespace {

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const std::string& cwd, int in_fd, int out_fd, int err_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  auto args = c_strings(argv);
  auto envp = c_strings(env);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

Ran run(const std::vector<std::string>& argv, const std::string& input,
        const std::vector<std::string>& env, const std::string& cwd) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) {
    throw std::runtime_error("pipe failed");
  }
  pid_t pid = spawn(argv, environment(env), cwd, in[0], out[1], err[1]);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  // Small inputs fit the pipe buffer; write all, then close so the child sees end of input.
  std::size_t off = 0;
  while (off < input.size()) {
    ssize_t n = ::write(in[1], input.data() + off, input.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
  ::close(in[1]);
  Ran r;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  r.exit_code = wait_exit(pid);
  return r;
}

Ran parley(const std::vector<std::string>& args, const std::string& input) {
  std::vector<std::string> argv{PARLEY_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, input);
}

// A background server must not outlive a test that crashed: the child asks the kernel for
// SIGKILL when its parent dies (PR_SET_PDEATHSIG), which posix_spawn cannot arrange, so this
// forks. Between fork and exec only async-signal-safe calls are made.
Background::Background(const std::vector<std::string>& argv, const std::string& cwd) {
  int err[2];
  if (::pipe2(err, O_CLOEXEC)) throw std::runtime_error("pipe failed");
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  auto args = c_strings(argv);
  auto env_strings = environment({});
  auto envp = c_strings(env_strings);
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(err[1], 2);
    ::closefrom(3);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
    ::execve(args[0], args.data(), envp.data());  // argv[0] is a full path here
    ::_exit(127);
  }
  if (pid_ < 0) throw std::runtime_error("fork failed");
  ::close(devnull);
  ::close(err[1]);
  err_fd_ = err[0];
}

Background::~Background() {
  if (pid_ > 0) stop(SIGKILL);
  if (err_fd_ >= 0) ::close(err_fd_);
}

void Background::drain(int timeout_ms) {
  pollfd p{err_fd_, POLLIN, 0};
  if (err_fd_ < 0 || ::poll(&p, 1, timeout_ms) <= 0) return;
  char buf[4096];
  ssize_t n = ::read(err_fd_, buf, sizeof buf);
  if (n > 0) {
    err_.append(buf, static_cast<std::size_t>(n));
  } else {
    ::close(err_fd_);
    err_fd_ = -1;
  }
}

bool Background::wait_for_stderr(const std::string& text, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (err_.find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline || err_fd_ < 0) return false;
    drain(100);
  }
  return true;
}

int Background::stop(int signal) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  int code = wait_exit(pid_);
  pid_ = -1;
  while (err_fd_ >= 0) drain(1000);
  return code;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/parley-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  ::chmod(tmpl.c_str(), 0755);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace parley::test
