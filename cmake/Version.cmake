# The git revision baked into the program (paraprop --version), "unknown" outside a checkout.
execute_process(COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY "${CMAKE_SOURCE_DIR}" OUTPUT_VARIABLE PARAPROP_GIT_REVISION
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _pp_git_rc)
if(NOT _pp_git_rc EQUAL 0 OR PARAPROP_GIT_REVISION STREQUAL "")
  set(PARAPROP_GIT_REVISION "unknown")
endif()
