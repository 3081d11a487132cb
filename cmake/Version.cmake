# The git revision baked into the program (paraprop --version), "unknown" outside a checkout.
execute_process(COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY "${CMAKE_SOURCE_DIR}" OUTPUT_VARIABLE PARAPROP_GIT_REVISION
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _pp_git_rc)
if(NOT _pp_git_rc EQUAL 0 OR PARAPROP_GIT_REVISION STREQUAL "")
  set(PARAPROP_GIT_REVISION "unknown")
endif()
# Re-run this when HEAD moves, so `paraprop --version` names the revision actually built.
if(EXISTS "${CMAKE_SOURCE_DIR}/.git/HEAD")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${CMAKE_SOURCE_DIR}/.git/HEAD")
  file(READ "${CMAKE_SOURCE_DIR}/.git/HEAD" _pp_head)
  if(_pp_head MATCHES "^ref: ([^\n]+)")
    set(_pp_ref "${CMAKE_SOURCE_DIR}/.git/${CMAKE_MATCH_1}")
    if(EXISTS "${_pp_ref}")
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_pp_ref}")
    endif()
  endif()
endif()
