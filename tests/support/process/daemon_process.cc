#include "tests/support/process/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "gtest/gtest.h"

namespace channel::testing {

std::unique_ptr<DaemonProcess> DaemonProcess::Start(
    const std::string& path, const std::vector<std::string>& args,
    const std::map<std::string, std::string>& env) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> argv_storage{path};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Die with the test: a test process killed mid-run must not leave
    // daemons behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], STDERR_FILENO);
    for (const auto& [key, value] : env) setenv(key.c_str(), value.c_str(), 1);
    execv(path.c_str(), argv.data());
    std::fprintf(stderr, "exec %s: %s\n", path.c_str(), std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  std::unique_ptr<DaemonProcess> process(new DaemonProcess());
  process->pid_ = pid;
  process->reader_ =
      std::thread([p = process.get(), fd = fds[0]] { p->ReadLoop(fd); });
  return process;
}

DaemonProcess::~DaemonProcess() {
  if (running()) {
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
  if (reader_.joinable()) reader_.join();
  // A sanitizer report from the daemon fails the test that ran it, even if
  // the test got everything else it waited for.
  for (const std::string& line : lines_) {
    if (line.find("ERROR: AddressSanitizer") != std::string::npos ||
        line.find("ERROR: LeakSanitizer") != std::string::npos ||
        line.find("WARNING: ThreadSanitizer") != std::string::npos ||
        line.find("runtime error:") != std::string::npos) {
      ADD_FAILURE() << "sanitizer report from the daemon:\n" << Output();
      break;
    }
  }
}

void DaemonProcess::ReadLoop(int fd) {
  std::string partial;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(buffer, static_cast<size_t>(n));
    size_t nl;
    std::lock_guard<std::mutex> lock(mu_);
    while ((nl = partial.find('\n')) != std::string::npos) {
      lines_.push_back(partial.substr(0, nl));
      partial.erase(0, nl + 1);
    }
    cv_.notify_all();
  }
  close(fd);
  std::lock_guard<std::mutex> lock(mu_);
  if (!partial.empty()) lines_.push_back(partial);
  eof_ = true;
  cv_.notify_all();
}

std::optional<std::string> DaemonProcess::WaitForLine(
    const std::string& regex, std::chrono::milliseconds timeout, size_t* from) {
  const std::regex re(regex);
  size_t start = from != nullptr ? *from : 0;
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (size_t i = start; i < lines_.size(); ++i) {
      std::smatch match;
      if (std::regex_search(lines_[i], match, re)) {
        if (from != nullptr) *from = i + 1;
        return match.size() > 1 ? match[1].str() : match[0].str();
      }
    }
    start = lines_.size();
    if (eof_) return std::nullopt;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      // One last scan of lines that arrived with the timeout.
      for (size_t i = start; i < lines_.size(); ++i) {
        std::smatch match;
        if (std::regex_search(lines_[i], match, re)) {
          if (from != nullptr) *from = i + 1;
          return match.size() > 1 ? match[1].str() : match[0].str();
        }
      }
      return std::nullopt;
    }
  }
}

int DaemonProcess::WaitForPort(const std::string& what,
                               std::chrono::milliseconds timeout) {
  auto port = WaitForLine(what + R"( [0-9.:\[\]a-f]*:([0-9]+))", timeout);
  if (!port) {
    throw std::runtime_error("daemon never logged '" + what + "'; output:\n" +
                             Output());
  }
  return std::atoi(port->c_str());
}

void DaemonProcess::Signal(int signo) {
  if (running()) kill(pid_, signo);
}

bool DaemonProcess::running() {
  if (exit_status_) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ =
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

std::optional<int> DaemonProcess::Wait(std::chrono::milliseconds timeout) {
  if (exit_status_) return exit_status_;
  // Waiting for a child has no timed wait in POSIX; the reader thread's EOF
  // (the child's stderr closing) tells us it is exiting.
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [this] { return eof_; })) {
      return std::nullopt;
    }
  }
  int status = 0;
  if (waitpid(pid_, &status, 0) == pid_) {
    exit_status_ =
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return exit_status_;
}

std::string DaemonProcess::Output() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& line : lines_) out += line + "\n";
  return out;
}

long ProcessRssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)),
                   std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces), from ") ".
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace channel::testing
