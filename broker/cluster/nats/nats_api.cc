#include "broker/cluster/nats/nats_api.h"

#include <cassert>

#include "common/ops/dynamic_library.h"

namespace channel {
namespace {

NatsApi* const api = new NatsApi;

absl::Status Load() {
  void* lib = nullptr;
  if (absl::Status s = OpenLibrary(CHANNEL_LIBNATS_SONAME,
                                   "--nats (Debian package libnats3.4)", &lib);
      !s.ok()) {
    return s;
  }
#define CHANNEL_NATS_RESOLVE(name) \
  CHANNEL_RESOLVE_OR_RETURN(lib, CHANNEL_LIBNATS_SONAME, api, name)
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
