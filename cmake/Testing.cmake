# Test registration helpers: one place that knows how to launch MPI tests as root and with more
# ranks than cores.
set(PP_MPIEXEC_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
if(PARAPROP_SANITIZE)
  # Open MPI and HDF5 keep allocations alive until exit by design; leaks are checked in the unit
  # tests that do not initialise MPI (see tests/CMakeLists.txt).
  list(APPEND PP_MPIEXEC_ENV "ASAN_OPTIONS=detect_leaks=0")
endif()

# pp_add_test(NAME name COMMAND cmd... [LABELS l...] [TIMEOUT s])
function(pp_add_test)
  cmake_parse_arguments(A "" "NAME;TIMEOUT" "COMMAND;LABELS" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  add_test(NAME ${A_NAME} COMMAND ${A_COMMAND})
  set_tests_properties(${A_NAME} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "${PP_MPIEXEC_ENV}")
endfunction()

# pp_add_mpi_test(NAME name RANKS 1 2 3 COMMAND prog args... [LABELS ...] [TIMEOUT s])
# registers name_r<R> for each R, launched as mpiexec -n R --oversubscribe --bind-to none.
function(pp_add_mpi_test)
  cmake_parse_arguments(A "" "NAME;TIMEOUT" "RANKS;COMMAND;LABELS" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 180)
  endif()
  foreach(r IN LISTS A_RANKS)
    set(procs ${r})
    if(procs GREATER 2)
      set(procs 2)
    endif()
    add_test(NAME ${A_NAME}_r${r}
      COMMAND ${MPIEXEC_EXECUTABLE} -n ${r} --oversubscribe --bind-to none ${A_COMMAND})
    set_tests_properties(${A_NAME}_r${r} PROPERTIES LABELS "mpi;${A_LABELS}" TIMEOUT ${A_TIMEOUT}
      PROCESSORS ${procs} ENVIRONMENT "${PP_MPIEXEC_ENV}")
  endforeach()
endfunction()
