# cmake -DBUILD_DIR=… -DCONSUMER_DIR=… [-DCONSUMER_FLAGS=…] -P consumer_gate_test.cmake
#
# Stages `cmake --install` of the build into a temporary prefix, then
# configures, builds and tests runner/tests/consumer/ in a temporary
# directory outside the source tree, against that prefix only. Passes when
# the installed layout is complete and the consumer's CTest run fails exactly
# gate.bad_writer (an in-place writer under REQUIRE crash_atomic) while
# gate.good_writer and gate.bad_writer_allowed pass.
foreach(var BUILD_DIR CONSUMER_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "${var} is not set")
  endif()
endforeach()
set(tmp $ENV{TMPDIR})
if(NOT tmp)
  set(tmp /tmp)
endif()
string(RANDOM LENGTH 10 suffix)
set(root ${tmp}/crashcheck-consumer-${suffix})
set(prefix ${root}/prefix)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${what} failed (${status}):\n${out}\n${err}")
  endif()
endfunction()

run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(installed bin/crashcheck bin/crashcheck-write lib/crashcheck/libcrashcheck_agent.so
                  lib/libcrashcheck_reference.a include/crashcheck/reference.hpp
                  lib/cmake/crashcheck/crashcheckConfig.cmake lib/cmake/crashcheck/crashcheckConfigVersion.cmake
                  lib/cmake/crashcheck/crashcheckTargets.cmake lib/cmake/crashcheck/crashcheckAddTest.cmake)
  if(NOT EXISTS ${prefix}/${installed})
    message(FATAL_ERROR "cmake --install did not install ${installed}")
  endif()
endforeach()

run("configuring the consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${root}/build
    -DCMAKE_PREFIX_PATH=${prefix} "-DCMAKE_CXX_FLAGS=${CONSUMER_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${CONSUMER_FLAGS}")
run("building the consumer" ${CMAKE_COMMAND} --build ${root}/build)

# The gate tests run the installed crashcheck with its installed agent.
execute_process(COMMAND ${CMAKE_CTEST_COMMAND} --test-dir ${root}/build --output-on-failure
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}")
string(REGEX MATCH "The following tests FAILED:\n([^\n]*\n)+" failed_block "${out}")
string(REGEX MATCHALL "- gate\\.[a-z_]+ \\(Failed\\)" failed "${failed_block}")
if(status EQUAL 0 OR NOT failed STREQUAL "- gate.bad_writer (Failed)")
  message(FATAL_ERROR "expected exactly gate.bad_writer to fail, ctest said (${status}): ${failed_block}\n${err}")
endif()
if(NOT out MATCHES "1 tests failed out of 3")
  message(FATAL_ERROR "expected 1 of 3 consumer tests to fail")
endif()
if(NOT out MATCHES "crash_atomic=fail")
  message(FATAL_ERROR "the bad writer's log does not show crash_atomic=fail")
endif()
file(REMOVE_RECURSE ${root})
