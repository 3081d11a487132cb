# The fixed stack, all from Debian packages (BUILD-NOTES.md):
#   libopenmpi-dev openmpi-bin libhdf5-openmpi-dev libopenblas-dev zlib1g-dev
find_package(MPI REQUIRED COMPONENTS C)
find_package(OpenMP REQUIRED COMPONENTS C)
set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "paraprop needs the parallel (MPI) build of HDF5: apt-get install libhdf5-openmpi-dev")
endif()
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_path(PARAPROP_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas openblas-pthread REQUIRED)
find_package(ZLIB REQUIRED)
find_library(PARAPROP_LIBM m)
