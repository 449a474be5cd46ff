#include "server/cli/prompt.hpp"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <iostream>

namespace parley::server::cli {
namespace {

std::optional<std::string> read_line() {
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// Turns terminal echo off for its lifetime.
class NoEcho {
 public:
  NoEcho() {
    if (::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios quiet = saved_;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
  }
  ~NoEcho() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }

 private:
  termios saved_{};
  bool active_ = false;
};

std::optional<std::string> ask_hidden(const std::string& prompt) {
  std::cerr << prompt << std::flush;
  NoEcho quiet;
  auto line = read_line();
  std::cerr << '\n';
  return line;
}

}  // namespace

std::optional<std::string> read_password(const std::string& prompt, bool confirm) {
  if (!::isatty(STDIN_FILENO)) return read_line();
  auto first = ask_hidden(prompt);
  if (!first || !confirm) return first;
  auto second = ask_hidden("Again: ");
  if (!second || *second != *first) return std::nullopt;
  return first;
}

bool confirm(const std::string& question) {
  std::cerr << question << " [y/N] " << std::flush;
  auto answer = read_line();
  if (!answer) return false;
  std::string a = *answer;
  std::transform(a.begin(), a.end(), a.begin(), [](unsigned char c) { return std::tolower(c); });
  return a == "y" || a == "yes";
}

}  // namespace parley::server::cli
