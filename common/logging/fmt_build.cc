// fmt's compiled part, built here from Debian's libfmt-dev headers
// (format-inl.h) into the same static archive as spdlog's
// (logging/spdlog_build.cc) instead of loading libfmt.so.9: the shared
// library was the last C++ library the daemons loaded, and it alone kept
// libstdc++.so mapped in daemons that link libstdc++ statically
// (docs/BENCHMARKS.md, "libstdc++ and fmt in the binaries").
// This is upstream's src/format.cc (fmt 9.1.0): the functions format-inl.h
// defines, and the explicit instantiations format.h declares extern.
#ifdef FMT_SHARED
#error fmt must not be used as a shared library here (common/CMakeLists.txt)
#endif

#include "fmt/format-inl.h"

FMT_BEGIN_NAMESPACE
namespace detail {

template FMT_API auto dragonbox::to_decimal(float x) noexcept
    -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept
    -> dragonbox::decimal_fp<double>;

#ifndef FMT_STATIC_THOUSANDS_SEPARATOR
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
#endif

template FMT_API auto thousands_sep_impl(locale_ref)
    -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view,
                                 basic_format_args<FMT_BUFFER_CONTEXT(char)>,
                                 locale_ref);

template FMT_API auto thousands_sep_impl(locale_ref)
    -> thousands_sep_result<wchar_t>;
template FMT_API auto decimal_point_impl(locale_ref) -> wchar_t;
template FMT_API void buffer<wchar_t>::append(const wchar_t*, const wchar_t*);

}  // namespace detail
FMT_END_NAMESPACE
