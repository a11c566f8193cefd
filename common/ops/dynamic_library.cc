#include "common/ops/dynamic_library.h"

#include <dlfcn.h>

#include "absl/strings/str_cat.h"

namespace channel {

absl::Status OpenLibrary(const char* soname, const char* needed_for,
                         void** handle) {
  *handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (*handle == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(needed_for, " needs ", soname, ": ", dlerror()));
  }
  return absl::OkStatus();
}

absl::Status ResolveSymbol(void* handle, const char* soname, const char* name,
                           void** slot) {
  *slot = dlsym(handle, name);
  if (*slot == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(soname, " has no ", name));
  }
  return absl::OkStatus();
}

}  // namespace channel
