# Spack package for paraprop (packaging/spack/README.md). Checked without Spack by
# tests/packaging/check_spack_package.py: every CMake option passed here must exist in the
# project's CMake files, the version must match project(VERSION) in CMakeLists.txt.

from spack.package import *


class Paraprop(CMakePackage):
    """Data-parallel training of multilayer perceptrons on clusters: MPI ranks with
    OpenMP-threaded backpropagation on a CBLAS, checkpoints in parallel HDF5 that resume to the
    same bits on any rank count."""

    # No public release archive yet: build a checkout with `spack dev-build` or `spack develop`
    # (packaging/spack/README.md).
    license("BSD-3-Clause")

    version("0.1.0")

    variant(
        "precision",
        default="float",
        values=("float", "double"),
        multi=False,
        description="Floating-point type of the parameters (double: for gradient checks)",
    )
    variant(
        "fuzz",
        default=False,
        description="Also build the libFuzzer harnesses of the file loaders (Clang, with ASan/UBSan)",
    )
    variant("tests", default=False, description="Build the test programs (ctest)")

    depends_on("c", type="build")
    depends_on("cmake@3.25:", type="build")
    depends_on("mpi")
    # paraprop reads and writes its files with parallel HDF5 (H5Pset_fapl_mpio).
    depends_on("hdf5+mpi")
    # Any CBLAS provider; its FindBLAS vendor name is passed as BLA_VENDOR below.
    depends_on("blas")
    depends_on("zlib")

    # libFuzzer exists only in Clang.
    requires("%clang", when="+fuzz", msg="the fuzz harnesses need Clang's libFuzzer")

    # Spack's provider name -> CMake FindBLAS's BLA_VENDOR.
    _bla_vendors = {
        "openblas": "OpenBLAS",
        "intel-oneapi-mkl": "Intel10_64lp",
        "intel-mkl": "Intel10_64lp",
        "flexiblas": "FlexiBLAS",
        "amdblis": "FLAME",
        "blis": "FLAME",
        "armpl-gcc": "Arm",
        "nvhpc": "NVHPC",
    }

    def cmake_args(self):
        spec = self.spec
        args = [
            self.define("PARAPROP_DOUBLE", spec.satisfies("precision=double")),
            self.define("PARAPROP_TESTS", spec.satisfies("+tests") or self.run_tests),
            self.define_from_variant("PARAPROP_FUZZ", "fuzz"),
            # the harnesses are built with ASan/UBSan (tests/fuzz/CMakeLists.txt)
            self.define_from_variant("PARAPROP_SANITIZE", "fuzz"),
        ]
        vendor = self._bla_vendors.get(spec["blas"].name)
        if vendor:
            args.append(self.define("BLA_VENDOR", vendor))
        return args
