# The Debian package (scripts/package.sh): the stripped binary, the systemd units, the env file as
# a conffile (every setting with its default, generated from the settings table by the target
# vidproc_package_files, which scripts/package.sh builds), the maintainer
# scripts that make the `vidproc` user and /var/lib/vidproc. Runtime dependencies are computed by
# dpkg-shlibdeps from the binary's libraries: no build or test tool is pulled in.

# The package installs under /usr (absolute destinations below); the default /usr/local would
# only leave an empty directory in it.
if(CMAKE_INSTALL_PREFIX_INITIALIZED_TO_DEFAULT)
  set(CMAKE_INSTALL_PREFIX /usr CACHE PATH "Install prefix" FORCE)
endif()

# Absolute destinations: a .deb is laid out from /, whatever CMAKE_INSTALL_PREFIX says.
set(VIDPROC_PACKAGE_ENV_FILE ${CMAKE_BINARY_DIR}/packaging/vidproc.env)
add_custom_command(
  OUTPUT ${VIDPROC_PACKAGE_ENV_FILE}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/packaging
  # env -i and a scratch directory: the template depends on the settings table only, never on
  # this machine's environment or its .env.
  COMMAND env -i $<TARGET_FILE:vidproc> config --env-file-template --data-dir /var/lib/vidproc
          --env-file /dev/null > ${VIDPROC_PACKAGE_ENV_FILE}
  DEPENDS vidproc
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
  COMMENT "Generating the package's env file from the settings table"
  VERBATIM)
add_custom_target(vidproc_package_files DEPENDS ${VIDPROC_PACKAGE_ENV_FILE})

install(TARGETS vidproc RUNTIME DESTINATION /usr/bin)
install(FILES packaging/vidproc.service packaging/vidproc-worker.service
        DESTINATION /lib/systemd/system)
install(FILES ${VIDPROC_PACKAGE_ENV_FILE} DESTINATION /etc/vidproc PERMISSIONS OWNER_READ
        OWNER_WRITE GROUP_READ)
install(FILES README.md docs/DEPLOY.md docs/CONFIGURATION.md docs/API.md docs/ERRORS.md
        DESTINATION /usr/share/doc/vidproc)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vidproc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "vidproc maintainers <vidproc@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "turns uploaded videos into web-ready 720p MP4s with thumbnails (HTTP API, durable queue)")
set(CPACK_STRIP_FILES ON)
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # vidproc_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION video)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# conffiles: the env file is the operator's; an upgrade keeps their edits.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/postinst ${PROJECT_SOURCE_DIR}/packaging/prerm
    ${PROJECT_SOURCE_DIR}/packaging/postrm ${PROJECT_SOURCE_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR})
include(CPack)
