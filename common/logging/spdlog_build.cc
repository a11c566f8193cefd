// spdlog's compiled part, built here from Debian's libspdlog-dev headers
// (the -inl.h files) into a static archive instead of loading
// libspdlog.so.1.10: the shared library kept ~0.5 MB resident in each
// daemon for the few functions they call (docs/BENCHMARKS.md, item 7).
// This is upstream's src/spdlog.cpp, src/stdout_sinks.cpp and
// src/color_sinks.cpp (spdlog's default logger is a color sink), limited
// to the synchronous sinks the daemons and tests use.
#ifndef SPDLOG_COMPILED_LIB
#error SPDLOG_COMPILED_LIB must be defined (common/CMakeLists.txt)
#endif

#include <mutex>

#include "spdlog/common-inl.h"
#include "spdlog/details/backtracer-inl.h"
#include "spdlog/details/log_msg-inl.h"
#include "spdlog/details/log_msg_buffer-inl.h"
#include "spdlog/details/null_mutex.h"
#include "spdlog/details/os-inl.h"
#include "spdlog/details/periodic_worker-inl.h"
#include "spdlog/details/registry-inl.h"
#include "spdlog/logger-inl.h"
#include "spdlog/pattern_formatter-inl.h"
#include "spdlog/sinks/ansicolor_sink-inl.h"
#include "spdlog/sinks/base_sink-inl.h"
#include "spdlog/sinks/sink-inl.h"
#include "spdlog/sinks/stdout_color_sinks-inl.h"
#include "spdlog/sinks/stdout_sinks-inl.h"
#include "spdlog/spdlog-inl.h"

template spdlog::logger::logger(std::string name,
                                sinks_init_list::iterator begin,
                                sinks_init_list::iterator end);
template class spdlog::sinks::base_sink<std::mutex>;
template class spdlog::sinks::base_sink<spdlog::details::null_mutex>;

template class spdlog::sinks::stdout_sink_base<spdlog::details::console_mutex>;
template class spdlog::sinks::stdout_sink_base<
    spdlog::details::console_nullmutex>;
template class spdlog::sinks::stdout_sink<spdlog::details::console_mutex>;
template class spdlog::sinks::stdout_sink<spdlog::details::console_nullmutex>;
template class spdlog::sinks::stderr_sink<spdlog::details::console_mutex>;
template class spdlog::sinks::stderr_sink<spdlog::details::console_nullmutex>;
template std::shared_ptr<spdlog::logger> spdlog::stdout_logger_mt<
    spdlog::synchronous_factory>(const std::string& logger_name);
template std::shared_ptr<spdlog::logger> spdlog::stdout_logger_st<
    spdlog::synchronous_factory>(const std::string& logger_name);
template std::shared_ptr<spdlog::logger> spdlog::stderr_logger_mt<
    spdlog::synchronous_factory>(const std::string& logger_name);
template std::shared_ptr<spdlog::logger> spdlog::stderr_logger_st<
    spdlog::synchronous_factory>(const std::string& logger_name);

template class spdlog::sinks::ansicolor_sink<spdlog::details::console_mutex>;
template class spdlog::sinks::ansicolor_sink<
    spdlog::details::console_nullmutex>;
template class spdlog::sinks::ansicolor_stdout_sink<
    spdlog::details::console_mutex>;
template class spdlog::sinks::ansicolor_stdout_sink<
    spdlog::details::console_nullmutex>;
template class spdlog::sinks::ansicolor_stderr_sink<
    spdlog::details::console_mutex>;
template class spdlog::sinks::ansicolor_stderr_sink<
    spdlog::details::console_nullmutex>;
template std::shared_ptr<spdlog::logger>
spdlog::stdout_color_mt<spdlog::synchronous_factory>(
    const std::string& logger_name, color_mode mode);
template std::shared_ptr<spdlog::logger>
spdlog::stderr_color_mt<spdlog::synchronous_factory>(
    const std::string& logger_name, color_mode mode);
