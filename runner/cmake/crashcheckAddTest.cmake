# crashcheck_add_test(): a CTest test that runs crashcheck on a writer and
# fails exactly when a property that decides fails (or a required one was not
# run, or the writer cannot be checked) — the crashcheck gate in a project's
# own test suite.
#
#   crashcheck_add_test(NAME <name>
#     SCENARIO <file.json>                     # crashcheck run <file>
#     | COMMAND <argv…> PAYLOAD <file>         # crashcheck check … -- <argv…>
#       [OLD <file>] [VALIDATE json|<shell command>] [TARGET <file name>]
#     [MODELS <model…>] [REQUIRE <property…>] [ALLOW <property…>]
#     [BASELINE <report.json or dir>] [TIMEOUT <seconds per case>] [JOBS <n>]
#     [OUTPUT <dir>])                          # default: <build dir>/crashcheck/<name>
#
# Files are relative to the current source directory; COMMAND arguments may
# use generator expressions ($<TARGET_FILE:my_writer>) and crashcheck's
# placeholders ({target} {payload} {dir} {scenario_dir} {crashcheck_write}).
# Policy and exit statuses: README "Use it as a CI gate" and runner/README.md.
function(crashcheck_add_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg ""
    "NAME;SCENARIO;OLD;PAYLOAD;VALIDATE;TARGET;BASELINE;TIMEOUT;JOBS;OUTPUT"
    "COMMAND;MODELS;REQUIRE;ALLOW")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "crashcheck_add_test: unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_NAME)
    message(FATAL_ERROR "crashcheck_add_test: NAME is required")
  endif()
  if((arg_SCENARIO AND arg_COMMAND) OR (NOT arg_SCENARIO AND NOT arg_COMMAND))
    message(FATAL_ERROR "crashcheck_add_test(${arg_NAME}): give exactly one of SCENARIO or COMMAND")
  endif()
  if(NOT arg_OUTPUT)
    set(arg_OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/crashcheck/${arg_NAME})
  endif()

  set(flags -o ${arg_OUTPUT})
  foreach(list_flag MODELS REQUIRE ALLOW)
    if(arg_${list_flag})
      string(TOLOWER ${list_flag} flag)
      list(JOIN arg_${list_flag} "," csv)
      list(APPEND flags --${flag} ${csv})
    endif()
  endforeach()
  foreach(value_flag TIMEOUT JOBS)
    if(arg_${value_flag})
      string(TOLOWER ${value_flag} flag)
      list(APPEND flags --${flag} ${arg_${value_flag}})
    endif()
  endforeach()
  if(arg_BASELINE)
    get_filename_component(baseline ${arg_BASELINE} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND flags --baseline ${baseline})
  endif()

  if(arg_SCENARIO)
    get_filename_component(scenario ${arg_SCENARIO} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    set(verb run ${scenario})
  else()
    if(NOT arg_PAYLOAD)
      message(FATAL_ERROR "crashcheck_add_test(${arg_NAME}): COMMAND needs PAYLOAD (the new content)")
    endif()
    get_filename_component(payload ${arg_PAYLOAD} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    set(verb check --payload ${payload})
    if(arg_OLD)
      get_filename_component(old ${arg_OLD} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
      list(APPEND verb --old ${old})
    endif()
    if(arg_VALIDATE)
      list(APPEND verb --validate ${arg_VALIDATE})
    endif()
    if(arg_TARGET)
      list(APPEND verb --target ${arg_TARGET})
    endif()
    list(APPEND flags -- ${arg_COMMAND})
  endif()

  add_test(NAME ${arg_NAME}
    COMMAND $<TARGET_FILE:crashcheck::crashcheck> ${verb} ${flags}
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_property(TEST ${arg_NAME} APPEND PROPERTY LABELS crashcheck)
endfunction()
