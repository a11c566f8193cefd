#ifndef CHANNEL_TESTS_SUPPORT_PROCESS_DAEMON_PROCESS_H_
#define CHANNEL_TESTS_SUPPORT_PROCESS_DAEMON_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace channel::testing {

// A daemon under test, started as a real process. Its stderr is captured
// line by line by a reader thread so tests can wait for log lines (the
// synchronisation point: "listening on 127.0.0.1:PORT") instead of sleeping.
// The destructor SIGKILLs the process if it still runs: only processes this
// object started are ever signalled, by PID.
class DaemonProcess {
 public:
  static std::unique_ptr<DaemonProcess> Start(
      const std::string& path, const std::vector<std::string>& args,
      const std::map<std::string, std::string>& env = {});
  ~DaemonProcess();

  // Waits until a stderr line at index >= *from matches `regex`; returns its
  // first capture group (or the whole line) and advances *from past it.
  std::optional<std::string> WaitForLine(const std::string& regex,
                                         std::chrono::milliseconds timeout,
                                         size_t* from = nullptr);

  // Convenience: the port in "<what> listening on HOST:PORT".
  int WaitForPort(const std::string& what = "listening on",
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

  void Signal(int signo);
  // Waits for exit; returns the exit status (128+signal when killed), or
  // nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool running();
  pid_t pid() const { return pid_; }
  std::string Output();

 private:
  DaemonProcess() = default;
  void ReadLoop(int fd);

  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool eof_ = false;
};

// Resident memory of process `pid` in KiB (VmRSS), or -1.
long ProcessRssKiB(pid_t pid);
// CPU time (user + system) process `pid` has used, in seconds, or -1: the
// cost of some input, whatever else the machine is doing.
double ProcessCpuSeconds(pid_t pid);

}  // namespace channel::testing

#endif  // CHANNEL_TESTS_SUPPORT_PROCESS_DAEMON_PROCESS_H_
