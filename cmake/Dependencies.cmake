# The fixed stack, all from Debian packages (BUILD-NOTES.md):
#   libopenmpi-dev openmpi-bin libhdf5-openmpi-dev libopenblas-dev zlib1g-dev
# and, optional, libdnnl-dev (oneDNN: the fastest engine for the large products, PERFORMANCE.md).
find_package(MPI REQUIRED COMPONENTS C)
find_package(OpenMP REQUIRED COMPONENTS C)
set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "paraprop needs the parallel (MPI) build of HDF5: apt-get install libhdf5-openmpi-dev")
endif()
# The BLAS vendor is the user's choice (-DBLA_VENDOR=Intel10_64lp, AOCL, FLAME (BLIS), …): a plain
# set() would override the cache entry a -D makes, so OpenBLAS is only the default.
if(NOT DEFINED BLA_VENDOR AND NOT DEFINED ENV{BLA_VENDOR})
  set(BLA_VENDOR OpenBLAS)
endif()
find_package(BLAS REQUIRED)
# cblas.h of the vendor that was found: look beside its library first (Debian keeps each
# vendor's under /usr/include/<triplet>/<vendor>/), then the usual places.
list(GET BLAS_LIBRARIES 0 PARAPROP_BLAS_LIB0)
get_filename_component(PARAPROP_BLAS_LIBDIR "${PARAPROP_BLAS_LIB0}" DIRECTORY)
get_filename_component(PARAPROP_BLAS_LIBDIR_NAME "${PARAPROP_BLAS_LIBDIR}" NAME)
get_filename_component(PARAPROP_BLAS_REALDIR "${PARAPROP_BLAS_LIB0}" REALPATH)
get_filename_component(PARAPROP_BLAS_REALDIR "${PARAPROP_BLAS_REALDIR}" DIRECTORY)
get_filename_component(PARAPROP_BLAS_REALDIR_NAME "${PARAPROP_BLAS_REALDIR}" NAME)
if(CMAKE_LIBRARY_ARCHITECTURE)
  set(PARAPROP_BLAS_HINTS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/${PARAPROP_BLAS_REALDIR_NAME}
    /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/${PARAPROP_BLAS_LIBDIR_NAME})
endif()
find_path(PARAPROP_CBLAS_INCLUDE_DIR cblas.h HINTS ${PARAPROP_BLAS_HINTS}
  PATH_SUFFIXES openblas openblas-pthread blis mkl REQUIRED)
message(STATUS "BLAS: ${BLAS_LIBRARIES} (vendor ${BLA_VENDOR}), cblas.h in ${PARAPROP_CBLAS_INCLUDE_DIR}")
# oneDNN: AUTO uses it when found, ON requires it, OFF never.
set(PARAPROP_ONEDNN AUTO CACHE STRING "use oneDNN's sgemm for the large products (AUTO, ON, OFF)")
set(PARAPROP_HAVE_ONEDNN OFF)
if(NOT PARAPROP_ONEDNN STREQUAL "OFF")
  find_path(PARAPROP_ONEDNN_INCLUDE_DIR dnnl.h PATH_SUFFIXES oneapi/dnnl)
  find_library(PARAPROP_ONEDNN_LIBRARY dnnl)
  if(PARAPROP_ONEDNN_INCLUDE_DIR AND PARAPROP_ONEDNN_LIBRARY)
    set(PARAPROP_HAVE_ONEDNN ON)
    message(STATUS "oneDNN: ${PARAPROP_ONEDNN_LIBRARY}")
  elseif(PARAPROP_ONEDNN STREQUAL "ON")
    message(FATAL_ERROR "PARAPROP_ONEDNN=ON but oneDNN was not found: apt-get install libdnnl-dev")
  else()
    message(STATUS "oneDNN: not found (optional; apt-get install libdnnl-dev)")
  endif()
endif()
find_package(ZLIB REQUIRED)
find_library(PARAPROP_LIBM m)
