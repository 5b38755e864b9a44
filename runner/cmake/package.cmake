# The CMake package `find_package(crashcheck CONFIG)` reads: the exported
# targets (crashcheck::reference, crashcheck::crashcheck,
# crashcheck::crashcheck-write), the dependencies found again, and
# crashcheck_add_test(). Installed to lib/cmake/crashcheck/.
include(CMakePackageConfigHelpers)
set(crashcheck_package_dir lib/cmake/crashcheck)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/crashcheckConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/crashcheckConfig.cmake
  INSTALL_DESTINATION ${crashcheck_package_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/crashcheckConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(EXPORT crashcheckTargets NAMESPACE crashcheck:: DESTINATION ${crashcheck_package_dir})
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/crashcheckConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/crashcheckConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/crashcheckAddTest.cmake
  DESTINATION ${crashcheck_package_dir})
