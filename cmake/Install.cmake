# What `cmake --install` puts where (docs/embedding.md): the `spindle` binary (component
# `server`); libspindle, its headers, its CMake package and its pkg-config file (component `dev`).
include(CMakePackageConfigHelpers)

set(SPINDLE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Spindle)

install(TARGETS spindle_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
# An installed binary finds a shared libspindle beside it, in whatever prefix.
if(BUILD_SHARED_LIBS)
  file(RELATIVE_PATH spindle_bin_to_lib /p/${CMAKE_INSTALL_BINDIR} /p/${CMAKE_INSTALL_LIBDIR})
  set_target_properties(spindle_cli PROPERTIES INSTALL_RPATH "$ORIGIN/${spindle_bin_to_lib}")
endif()
# A shared libspindle is what the binary runs with, so it goes with it; its link goes with dev.
install(TARGETS spindle EXPORT SpindleTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT server NAMELINK_COMPONENT dev)
# `cmake --install --strip` (and the packages) strip a static libspindle's debug information
# too, which CMake leaves in archives; its symbols stay.
if(NOT BUILD_SHARED_LIBS)
  install(CODE "
    if(CMAKE_INSTALL_DO_STRIP)
      execute_process(COMMAND ${CMAKE_STRIP} --strip-debug
        \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:spindle>\"
        COMMAND_ERROR_IS_FATAL ANY)
    endif()" COMPONENT dev)
endif()
install(DIRECTORY include/spindle ${PROJECT_BINARY_DIR}/generated/include/spindle
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(EXPORT SpindleTargets NAMESPACE Spindle:: DESTINATION ${SPINDLE_CMAKE_DIR} COMPONENT dev)

configure_package_config_file(cmake/SpindleConfig.cmake.in
  ${PROJECT_BINARY_DIR}/generated/SpindleConfig.cmake
  INSTALL_DESTINATION ${SPINDLE_CMAKE_DIR})
# 0.x: a minor version may change the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/generated/SpindleConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/generated/SpindleConfig.cmake
              ${PROJECT_BINARY_DIR}/generated/SpindleConfigVersion.cmake
  DESTINATION ${SPINDLE_CMAKE_DIR} COMPONENT dev)

# pkg-config: a static libspindle needs its dependencies on every link line, so they are its
# Requires and Libs; a shared one carries them itself (Requires.private, Libs.private).
set(SPINDLE_PC_REQUIRES "nlohmann_json")
set(SPINDLE_PC_DEPS "libpq sqlite3 spdlog fmt")
set(SPINDLE_PC_LIBS "-lspindle -pthread")
if(BUILD_SHARED_LIBS)
  set(SPINDLE_PC_PRIVATE "Requires.private: ${SPINDLE_PC_DEPS}\nLibs.private: -ldate-tz")
else()
  string(APPEND SPINDLE_PC_REQUIRES " ${SPINDLE_PC_DEPS}")
  string(APPEND SPINDLE_PC_LIBS " -ldate-tz")
  set(SPINDLE_PC_PRIVATE "")
endif()
# The prefix is where the file lies, so that `cmake --install --prefix DIR` anywhere works.
file(RELATIVE_PATH SPINDLE_PC_UP /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" SPINDLE_PC_UP "${SPINDLE_PC_UP}")
configure_file(cmake/spindle.pc.in ${PROJECT_BINARY_DIR}/generated/spindle.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/generated/spindle.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
