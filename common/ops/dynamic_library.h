#ifndef CHANNEL_COMMON_OPS_DYNAMIC_LIBRARY_H_
#define CHANNEL_COMMON_OPS_DYNAMIC_LIBRARY_H_

// Libraries a daemon loads only when a flag asks for what they do (libnats
// with --nats, OpenSSL with --tls_cert, libjwt with token keys), so that a
// process that does not use them never maps them. A user declares the
// functions it calls in a table (decltype pointers, same names as the
// library's header) and fills it with these two calls, once.
#include "absl/status/status.h"

namespace channel {

// dlopen(soname) for the process's life (never closed: the library's
// threads and callbacks may outlive any caller). `needed_for` says what
// the library is for in the error ("--nats").
absl::Status OpenLibrary(const char* soname, const char* needed_for,
                         void** handle);

// dlsym(handle, name) into *slot (a function pointer's storage); an error
// names the library and the missing symbol.
absl::Status ResolveSymbol(void* handle, const char* soname, const char* name,
                           void** slot);

}  // namespace channel

// In a function returning absl::Status: resolves `name` from `lib` into
// `table->name` (a decltype(&::name) member), or returns the error.
#define CHANNEL_RESOLVE_OR_RETURN(lib, soname, table, name)              \
  if (absl::Status channel_resolved = ::channel::ResolveSymbol(          \
          lib, soname, #name, reinterpret_cast<void**>(&(table)->name)); \
      !channel_resolved.ok()) {                                          \
    return channel_resolved;                                             \
  }

#endif  // CHANNEL_COMMON_OPS_DYNAMIC_LIBRARY_H_
