# libFuzzer targets (-DCRASHCHECK_FUZZ=ON, clang only): every parser that
# takes untrusted bytes, each under a fuzz/ folder of its component with a
# small seed corpus. Everything is built with ASan and UBSan so a fuzzer
# reports memory errors and undefined behaviour as crashes, not just aborts.
#
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCRASHCHECK_FUZZ=ON -DCRASHCHECK_BUILD_TESTS=OFF
#   cmake --build build-fuzz -j2 && ctest --test-dir build-fuzz -L fuzz
#
# Without CRASHCHECK_FUZZ the same target sources are compiled against
# fuzz/replay_main.cpp and replay their corpora as ordinary tests (label
# fuzz_replay), so every input that once crashed stays a regression test.
set(CRASHCHECK_FUZZ_SECONDS 30 CACHE STRING "Seconds each fuzz target runs under ctest -L fuzz")

if(CRASHCHECK_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang" OR NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "CRASHCHECK_FUZZ needs clang (libFuzzer): configure with CC=clang CXX=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  enable_testing()
endif()

# crashcheck_add_fuzzer(NAME n SOURCE file LIBS lib… CORPUS dir [DEFINES d…])
function(crashcheck_add_fuzzer)
  cmake_parse_arguments(F "" "NAME;SOURCE;CORPUS" "LIBS;DEFINES" ${ARGN})
  add_executable(${F_NAME} ${F_SOURCE})
  target_link_libraries(${F_NAME} PRIVATE ${F_LIBS})
  target_compile_definitions(${F_NAME} PRIVATE ${F_DEFINES})
  if(CRASHCHECK_FUZZ)
    # New inputs go to a corpus in the build tree; the checked-in seeds are only read.
    set(work ${CMAKE_CURRENT_BINARY_DIR}/${F_NAME}-corpus)
    file(MAKE_DIRECTORY ${work})
    target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
    add_test(NAME fuzz.${F_NAME}
      COMMAND ${F_NAME} -max_total_time=${CRASHCHECK_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048
              -artifact_prefix=${CMAKE_CURRENT_BINARY_DIR}/${F_NAME}- ${work} ${F_CORPUS}
      WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    set_tests_properties(fuzz.${F_NAME} PROPERTIES LABELS fuzz TIMEOUT 300)
  elseif(CRASHCHECK_BUILD_TESTS)
    target_sources(${F_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/cmake/fuzz_replay_main.cpp)
    add_test(NAME fuzz_replay.${F_NAME} COMMAND ${F_NAME} ${F_CORPUS})
    set_tests_properties(fuzz_replay.${F_NAME} PROPERTIES LABELS fuzz_replay)
  endif()
endfunction()
