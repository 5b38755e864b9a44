# The test suite leaves nothing behind: the CTest fixture tmp_clean records
# the crashcheck-* entries of the temporary directory (and /dev/shm, where
# agent files live) before the first test that requires it, and fails after
# the last one if any new entry remains. Run as a script:
#   cmake -DMODE=record|check -DSTATE=<file> -P tmp_clean.cmake
set(patterns crashcheck-*)

function(tmp_entries out)
  set(roots /tmp /dev/shm)
  if(DEFINED ENV{TMPDIR} AND NOT "$ENV{TMPDIR}" STREQUAL "")
    list(PREPEND roots "$ENV{TMPDIR}")
  endif()
  list(REMOVE_DUPLICATES roots)
  set(found "")
  foreach(root IN LISTS roots)
    foreach(pattern IN LISTS patterns)
      file(GLOB entries LIST_DIRECTORIES true "${root}/${pattern}")
      list(APPEND found ${entries})
    endforeach()
  endforeach()
  list(SORT found)
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

if(CMAKE_SCRIPT_MODE_FILE)
  tmp_entries(now)
  if(MODE STREQUAL "record")
    file(WRITE "${STATE}" "${now}")
  elseif(MODE STREQUAL "check")
    file(READ "${STATE}" before)
    set(left ${now})
    if(before)
      list(REMOVE_ITEM left ${before})
    endif()
    if(left)
      list(JOIN left "\n  " text)
      message(FATAL_ERROR "the test suite left these behind:\n  ${text}")
    endif()
    message(STATUS "no crashcheck-* entry left in the temporary directories")
  endif()
  return()
endif()

# Configure time: the two tests of the fixture. Every test that makes
# temporary files requires it (gtest_discover_tests ... PROPERTIES
# ${CRASHCHECK_TMP_CLEAN}); crashcheck_require_tmp_clean() adds it to the
# tests a directory adds with add_test.
set(CRASHCHECK_TMP_CLEAN FIXTURES_REQUIRED tmp_clean)
set(state ${CMAKE_BINARY_DIR}/tmp_clean.state)
add_test(NAME tmp_clean.record COMMAND ${CMAKE_COMMAND} -DMODE=record -DSTATE=${state} -P ${CMAKE_CURRENT_LIST_FILE})
add_test(NAME tmp_clean.check COMMAND ${CMAKE_COMMAND} -DMODE=check -DSTATE=${state} -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(tmp_clean.record PROPERTIES FIXTURES_SETUP tmp_clean)
set_tests_properties(tmp_clean.check PROPERTIES FIXTURES_CLEANUP tmp_clean)

# Call at the end of a CMakeLists.txt that adds tests with add_test (CMake
# before 3.28 sets test properties only from the test's own directory).
function(crashcheck_require_tmp_clean)
  get_property(tests DIRECTORY PROPERTY TESTS)
  foreach(test IN LISTS tests)
    if(NOT test MATCHES "^tmp_clean\\.")
      set_property(TEST ${test} APPEND PROPERTY FIXTURES_REQUIRED tmp_clean)
    endif()
  endforeach()
endfunction()
