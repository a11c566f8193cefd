#include <dlfcn.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/app/webhook_poster.h"
#include "broker/app/webhook_url.h"

namespace channel {
namespace {

// The directory of the running executable ("" if unknown).
std::string ExeDir() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return "";
  std::string exe(path, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

}  // namespace

absl::StatusOr<std::unique_ptr<WebhookPoster>> LoadWebhookPoster(
    const std::string& url, const std::string& secret,
    std::chrono::milliseconds timeout) {
  absl::StatusOr<WebhookUrl> parsed = ParseWebhookUrl(url);
  if (!parsed.ok()) return parsed.status();
  const std::string dir = ExeDir();
  const std::vector<std::string> candidates = {
      absl::StrCat(dir, "/", kWebhookModuleName),
      absl::StrCat(dir, "/../lib/channel/", kWebhookModuleName)};
  std::vector<std::string> errors;
  for (const std::string& path : candidates) {
    // Never closed: the poster's code lives there for the process's life.
    void* module = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (module == nullptr) {
      errors.push_back(dlerror());
      continue;
    }
    auto create = reinterpret_cast<CreateWebhookPosterFn>(
        dlsym(module, kCreateWebhookPosterSymbol));
    if (create == nullptr) {
      errors.push_back(absl::StrCat(path, ": no ", kCreateWebhookPosterSymbol));
      continue;
    }
    WebhookPoster* poster =
        create(parsed->https ? 1 : 0, parsed->host.c_str(), parsed->port,
               parsed->path.c_str(), secret.c_str(),
               static_cast<int>(timeout.count()));
    if (poster == nullptr) {
      return absl::InternalError(
          absl::StrCat(path, " could not make a webhook poster for ", url));
    }
    return std::unique_ptr<WebhookPoster>(poster);
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "--webhook_url needs the webhook module ", kWebhookModuleName,
      " (installed with channel-broker): ", absl::StrJoin(errors, "; ")));
}

}  // namespace channel
