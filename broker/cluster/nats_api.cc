#include "broker/cluster/nats_api.h"

#include <dlfcn.h>

#include <cassert>

#include "absl/strings/str_cat.h"

namespace channel {
namespace {

NatsApi* const api = new NatsApi;

absl::Status Load() {
  // Never closed: libnats' threads and callbacks live as long as the process.
  void* lib = dlopen(CHANNEL_LIBNATS_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("--nats needs ", CHANNEL_LIBNATS_SONAME,
                     " (Debian package libnats3.4): ", dlerror()));
  }
#define CHANNEL_NATS_RESOLVE(name)                                      \
  api->name = reinterpret_cast<decltype(api->name)>(dlsym(lib, #name)); \
  if (api->name == nullptr) {                                           \
    return absl::FailedPreconditionError(                               \
        absl::StrCat(CHANNEL_LIBNATS_SONAME, " has no " #name));        \
  }
  CHANNEL_NATS_FUNCTIONS(CHANNEL_NATS_RESOLVE)
#undef CHANNEL_NATS_RESOLVE
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadNats() {
  static const absl::Status* const loaded = new absl::Status(Load());
  return *loaded;
}

const NatsApi& Nats() {
  assert(api->natsConnection_Connect != nullptr);
  return *api;
}

}  // namespace channel
