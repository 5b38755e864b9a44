# `cpack -G DEB` (run in the build directory): one crashcheck_<version>_<arch>.deb
# installing under /usr what `cmake --install` installs — bin/crashcheck,
# bin/crashcheck-write, lib/crashcheck/libcrashcheck_agent.so, the reference
# library and header, and the CMake package. Depends names the Debian
# packages of the shared libraries those programs load (ldd: libc, libstdc++,
# libgcc, libfiu); the test package.deb (label package) checks that every
# library ldd finds is covered.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME crashcheck)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "crash-consistency checker for programs that replace files")
set(CPACK_PACKAGE_DESCRIPTION
    "crashcheck runs a file writer under injected faults (SIGKILL at every file-system call, errno, disk full, "
    "power loss, a concurrent reader) and reports what a crash can leave behind. Also ships crashcheck-write, "
    "the reference atomic writer.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # crashcheck_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "crashcheck maintainers <crashcheck@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)  # fast enough for the test on a busy machine
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6 (>= 2.34), libstdc++6 (>= 12), libgcc-s1 (>= 3.0), libfiu0 (>= 1.1), libseccomp2 (>= 2.5), libdw1 (>= 0.176), libelf1 (>= 0.176), zlib1g, liblzma5, libbz2-1.0")
# Only for find_package(crashcheck) in a project of one's own (README, "Use it as a CI gate").
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "cmake, pkg-config, libfiu-dev, nlohmann-json3-dev")
include(CPack)

# A sanitizer build links libasan/libubsan, which no package may depend on:
# it is for finding bugs, not for shipping, so it has no package test.
if(CRASHCHECK_BUILD_TESTS AND NOT CRASHCHECK_SANITIZE)
  add_test(NAME package.deb
    COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${CMAKE_BINARY_DIR} -DVERSION=${PROJECT_VERSION}
            -DPROGRAMS=$<TARGET_FILE:crashcheck>;$<TARGET_FILE:crashcheck-write>;$<TARGET_FILE:crashcheck_agent>
            -P ${CMAKE_CURRENT_LIST_DIR}/deb_test.cmake)
  set_tests_properties(package.deb PROPERTIES LABELS package TIMEOUT 900)
endif()
