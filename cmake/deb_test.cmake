# The test package.deb: builds the .deb with cpack into BUILD_DIR/package-test
# and checks its file list and that Depends covers every shared library the
# packaged programs load (ldd, each library's Debian package found by dpkg -S).
#   cmake -DBUILD_DIR=… -DVERSION=… -DPROGRAMS=a;b;c -P deb_test.cmake
cmake_minimum_required(VERSION 3.25)  # policies for this script (IN_LIST)
set(out ${BUILD_DIR}/package-test)
file(REMOVE_RECURSE ${out})
execute_process(COMMAND cpack -G DEB --config ${BUILD_DIR}/CPackConfig.cmake -B ${out}
                RESULT_VARIABLE status OUTPUT_VARIABLE log ERROR_VARIABLE log)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "cpack -G DEB failed:\n${log}")
endif()
file(GLOB debs ${out}/crashcheck_${VERSION}_*.deb)
list(LENGTH debs count)
if(NOT count EQUAL 1)
  message(FATAL_ERROR "expected one crashcheck_${VERSION}_*.deb in ${out}, found: ${debs}")
endif()

execute_process(COMMAND dpkg-deb -c ${debs} OUTPUT_VARIABLE listing COMMAND_ERROR_IS_FATAL ANY)
foreach(file ./usr/bin/crashcheck ./usr/bin/crashcheck-write ./usr/lib/crashcheck/libcrashcheck_agent.so
             ./usr/lib/libcrashcheck_reference.a ./usr/include/crashcheck/reference.hpp
             ./usr/lib/cmake/crashcheck/crashcheckConfig.cmake ./usr/lib/cmake/crashcheck/crashcheckAddTest.cmake)
  string(FIND "${listing}" " ${file}\n" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${debs} lacks ${file}; it holds:\n${listing}")
  endif()
endforeach()

execute_process(COMMAND dpkg-deb -f ${debs} Depends OUTPUT_VARIABLE depends COMMAND_ERROR_IS_FATAL ANY)
string(STRIP "${depends}" depends)
string(REGEX REPLACE " *\\([^)]*\\)" "" depended "${depends}")  # names only: "libc6, libfiu0"
string(REPLACE ", " ";" depended "${depended}")
foreach(program IN LISTS PROGRAMS)
  execute_process(COMMAND ldd ${program} OUTPUT_VARIABLE libraries COMMAND_ERROR_IS_FATAL ANY)
  string(REGEX MATCHALL "=> (/[^ ]+)" paths "${libraries}")
  foreach(entry IN LISTS paths)
    string(REGEX REPLACE "^=> " "" path "${entry}")
    # Merged /usr: the loader may report /lib/x, dpkg knows /usr/lib/x.
    execute_process(COMMAND dpkg -S ${path} RESULT_VARIABLE found OUTPUT_VARIABLE owner ERROR_QUIET)
    if(NOT found EQUAL 0)
      execute_process(COMMAND dpkg -S /usr${path} RESULT_VARIABLE found OUTPUT_VARIABLE owner ERROR_QUIET)
    endif()
    if(NOT found EQUAL 0)
      continue()  # not from a Debian package (e.g. a library of this build)
    endif()
    string(REGEX REPLACE ":.*" "" package "${owner}")
    string(STRIP "${package}" package)
    if(NOT package IN_LIST depended)
      message(FATAL_ERROR "${program} loads ${path} from package ${package}, which Depends lacks: ${depends}")
    endif()
  endforeach()
endforeach()
message(STATUS "${debs}: files and Depends (${depends}) as expected")
