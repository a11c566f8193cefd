# Run by `cmake --install` (deploy/CMakeLists.txt): installs one daemon's
# systemd unit and settings file for the prefix being installed to.
#   in:  _channel_daemon, _channel_unit_template, _channel_defaults
# Prefix /usr (the packages): /lib/systemd/system and /etc/default, where
# Debian 12 keeps them; any other prefix P: P/lib/systemd/system (systemd
# reads /usr/local/lib/systemd/system too) and P/etc/default.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(_unit_dir /lib/systemd/system)
  set(SYSCONFDIR /etc)
else()
  set(_unit_dir ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
  set(SYSCONFDIR ${CMAKE_INSTALL_PREFIX}/etc)
endif()
set(BINDIR ${CMAKE_INSTALL_PREFIX}/bin)
get_filename_component(_staged "${_channel_unit_template}" DIRECTORY)
configure_file("${_channel_unit_template}" "${_staged}/${_channel_daemon}.service" @ONLY)
file(INSTALL DESTINATION "${_unit_dir}" TYPE FILE
     FILES "${_staged}/${_channel_daemon}.service")
# Root only: secrets such as CHANNEL_AUTH_TOKEN belong in it (systemd reads
# it as root before the daemon drops to the channel user).
file(INSTALL DESTINATION "${SYSCONFDIR}/default" TYPE FILE
     FILES "${_channel_defaults}" RENAME "${_channel_daemon}"
     PERMISSIONS OWNER_READ OWNER_WRITE)
