# The Debian packages, made by CPack from this build's install rules (scripts/package.sh):
#   spindle_VERSION_ARCH.deb          the binary, the spindle user, /etc/spindle/spindle.toml,
#                                     /var/lib/spindle and spindle.service
#   libspindle-dev_VERSION_ARCH.deb   libspindle, its headers, CMake package and pkg-config file
# CPack rather than debhelper: the packages come from the build and install rules that already
# exist, with the version of project(), without building everything a second time.
# The service's files (component `service`) are only for the package: `cmake --install` leaves
# them out.
set(SPINDLE_PACKAGING ${PROJECT_SOURCE_DIR}/packaging)
set(SPINDLE_DOC_GEN ${PROJECT_BINARY_DIR}/generated/doc)

configure_file(${SPINDLE_PACKAGING}/deb/changelog.in ${SPINDLE_DOC_GEN}/changelog @ONLY)
execute_process(COMMAND gzip -9nf ${SPINDLE_DOC_GEN}/changelog COMMAND_ERROR_IS_FATAL ANY)

# spindle(1), made from `spindle --help` by help2man (scripts/package.sh builds spindle_man).
find_program(HELP2MAN help2man)
if(HELP2MAN)
  add_custom_command(OUTPUT ${SPINDLE_DOC_GEN}/spindle.1.gz
    COMMAND ${HELP2MAN} --no-info --no-discard-stderr --name "durable, distributed job engine"
            --output ${SPINDLE_DOC_GEN}/spindle.1 $<TARGET_FILE:spindle_cli>
    COMMAND gzip -9nf ${SPINDLE_DOC_GEN}/spindle.1
    DEPENDS spindle_cli
    VERBATIM)
  add_custom_target(spindle_man DEPENDS ${SPINDLE_DOC_GEN}/spindle.1.gz)
endif()
install(FILES ${SPINDLE_DOC_GEN}/spindle.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
  COMPONENT service EXCLUDE_FROM_ALL OPTIONAL)

install(FILES ${SPINDLE_PACKAGING}/spindle.service
  DESTINATION /lib/systemd/system COMPONENT service EXCLUDE_FROM_ALL)
install(FILES ${SPINDLE_PACKAGING}/spindle.toml
  DESTINATION /etc/spindle COMPONENT service EXCLUDE_FROM_ALL)
foreach(pkg spindle libspindle-dev)
  if(pkg STREQUAL spindle)
    set(component service)
  else()
    set(component dev_doc)
  endif()
  install(FILES ${SPINDLE_PACKAGING}/deb/copyright ${SPINDLE_DOC_GEN}/changelog.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg} COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()
# The README's references (docs/api.md, ...) resolve beside it.
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/spindle
  COMPONENT service EXCLUDE_FROM_ALL)
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/spindle/docs
  COMPONENT service EXCLUDE_FROM_ALL)
install(FILES examples/spindle.toml DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/spindle/examples
  COMPONENT service EXCLUDE_FROM_ALL)
install(DIRECTORY examples/embed DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/libspindle-dev/examples
  COMPONENT dev_doc EXCLUDE_FROM_ALL)

# cpack builds the `preinstall` target first, which is everything (the tests too) unless this is
# set; scripts/package.sh builds what the packages hold before it runs cpack.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME spindle)
set(CPACK_PACKAGE_VENDOR "The Spindle authors")
set(CPACK_PACKAGE_CONTACT "Spindle maintainers <maintainers@example.org>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server service dev dev_doc)
set(CPACK_COMPONENT_SERVER_GROUP spindle)
set(CPACK_COMPONENT_SERVICE_GROUP spindle)
set(CPACK_COMPONENT_DEV_GROUP dev)
set(CPACK_COMPONENT_DEV_DOC_GROUP dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

set(CPACK_DEBIAN_SPINDLE_PACKAGE_NAME spindle)
set(CPACK_DEBIAN_SPINDLE_DESCRIPTION "durable, distributed job engine
Spindle stores jobs in SQLite (one host) or PostgreSQL (many hosts), runs
them on worker processes as C++ handlers or commands in any language,
survives crashes without losing or double-running anything, and is steered
from the command line, an HTTP API and a web dashboard.
.
This package holds the spindle command and the spindle.service unit, which
runs a worker as the spindle user with /etc/spindle/spindle.toml.")
set(CPACK_DEBIAN_SPINDLE_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_SPINDLE_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_SPINDLE_PACKAGE_CONTROL_EXTRA
  ${SPINDLE_PACKAGING}/deb/conffiles ${SPINDLE_PACKAGING}/deb/postinst
  ${SPINDLE_PACKAGING}/deb/prerm ${SPINDLE_PACKAGING}/deb/postrm)
set(CPACK_DEBIAN_SPINDLE_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libspindle-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION "durable, distributed job engine - C++ library
libspindle embeds Spindle's client and workers in a C++20 program: enqueue
jobs (also inside the application's own transaction) and run them with C++
handlers, on SQLite or PostgreSQL.
.
This package holds the static library, its headers, the CMake package
(find_package(Spindle)) and a pkg-config file.")
# What the CMake package and the pkg-config file find.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "nlohmann-json3-dev, libpq-dev, libsqlite3-dev, libspdlog-dev, libfmt-dev, libhowardhinnant-date-dev")

include(CPack)
