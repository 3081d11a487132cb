#!/usr/bin/env python3
"""Checks packaging/spack/packages/paraprop/package.py without Spack (not a Debian package).

1. Static (ast): a class Paraprop deriving from CMakePackage, with the variants precision
   (float|double), fuzz and tests, and the dependencies the build needs.
2. Dynamic: the file runs against a small stand-in for `spack.package` (directives record their
   arguments); cmake_args() is evaluated for several specs and each -D it yields is checked
   against the project: every option must be declared (option() / set(... CACHE)) or, for
   variables of CMake's own Find modules such as BLA_VENDOR, used in the project's CMake files.
3. The package version and CITATION.cff's version equal project(VERSION) in CMakeLists.txt, and
   both name the licence of LICENSE.

usage: check_spack_package.py SOURCE_DIR
"""
import ast
import pathlib
import re
import sys
import types

FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
    return cond


def cmake_texts(src):
    files = [src / "CMakeLists.txt"]
    files += sorted((src / "cmake").glob("*.cmake"))
    for sub in ("src", "tests"):
        files += sorted((src / sub).rglob("CMakeLists.txt"))
    return {f: f.read_text() for f in files}


def declared_options(texts):
    names = set()
    for text in texts.values():
        names |= set(re.findall(r"\boption\(\s*([A-Za-z_][A-Za-z0-9_]*)", text))
        names |= set(re.findall(r"\bset\(\s*([A-Za-z_][A-Za-z0-9_]*)[^)]*\bCACHE\b", text))
        # find_path/find_library results are cache variables a user may preset with -D
        names |= set(re.findall(r"\bfind_(?:path|library)\(\s*([A-Za-z_][A-Za-z0-9_]*)", text))
    return names


def used_variables(texts):
    used = set()
    for text in texts.values():
        used |= set(re.findall(r"\b([A-Z][A-Z0-9_]+)\b", text))
    return used


def project_version(src):
    m = re.search(r"project\(\s*paraprop\s+VERSION\s+([0-9.]+)", (src / "CMakeLists.txt").read_text())
    return m.group(1) if m else None


# ---- static checks ------------------------------------------------------------------------

def static_checks(tree):
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Paraprop"]
    if not check(len(classes) == 1, "package.py defines no (or several) class Paraprop"):
        return
    cls = classes[0]
    bases = [b.id for b in cls.bases if isinstance(b, ast.Name)]
    check(bases == ["CMakePackage"], f"Paraprop's base classes are {bases}, not [CMakePackage]")
    check(ast.get_docstring(cls), "class Paraprop has no docstring (Spack shows it as the description)")
    calls = {}
    for node in cls.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name):
            calls.setdefault(node.value.func.id, []).append(node.value)
    variants = {ast.literal_eval(c.args[0]): c for c in calls.get("variant", [])}
    check(set(variants) == {"precision", "fuzz", "tests"},
          f"variants are {sorted(variants)}, expected precision, fuzz, tests")
    if "precision" in variants:
        kw = {k.arg: ast.literal_eval(k.value) for k in variants["precision"].keywords
              if k.arg in ("default", "values", "multi")}
        check(tuple(kw.get("values", ())) == ("float", "double"), f"precision values {kw.get('values')}")
        check(kw.get("default") == "float", f"precision default {kw.get('default')}, expected float")
        check(kw.get("multi") is False, "precision must be single-valued (multi=False)")
    deps = [ast.literal_eval(c.args[0]) for c in calls.get("depends_on", [])]
    for want in ("mpi", "hdf5+mpi", "blas", "zlib", "cmake@3.25:"):
        check(want in deps, f"no depends_on('{want}') (have {deps})")
    methods = [n.name for n in cls.body if isinstance(n, ast.FunctionDef)]
    check("cmake_args" in methods, "no cmake_args() method")


# ---- dynamic checks -----------------------------------------------------------------------

class Directives:
    def __init__(self):
        self.records = []

    def module(self):
        mod = types.ModuleType("spack.package")
        rec = self.records

        def directive(name):
            return lambda *a, **k: rec.append((name, a, k))

        for name in ("version", "variant", "depends_on", "conflicts", "requires", "license",
                     "maintainers", "patch", "provides", "extends", "resource"):
            setattr(mod, name, directive(name))

        class CMakePackage:
            run_tests = False

            def define(self, name, value):
                if isinstance(value, bool):
                    value = "ON" if value else "OFF"
                return f"-D{name}={value}"

            def define_from_variant(self, name, variant):
                return self.define(name, self.spec.variant_value(variant))

        mod.CMakePackage = CMakePackage
        mod.__all__ = [n for n in dir(mod) if not n.startswith("_")]
        return mod


class FakeSpec:
    """The subset of spack.spec.Spec the package uses: satisfies() of '+v', '~v', 'v=x'."""

    def __init__(self, variants, blas):
        self.variants = variants
        self.blas = types.SimpleNamespace(name=blas)

    def variant_value(self, name):
        if name not in self.variants:
            raise KeyError(f"cmake_args uses variant '{name}', which the package does not declare")
        return self.variants[name]

    def satisfies(self, text):
        m = re.fullmatch(r"([+~])(\w+)", text)
        if m:
            return self.variant_value(m.group(2)) == (m.group(1) == "+")
        m = re.fullmatch(r"(\w+)=(\w+)", text)
        if m:
            return self.variant_value(m.group(1)) == m.group(2)
        raise ValueError(f"FakeSpec cannot evaluate satisfies('{text}')")

    def __getitem__(self, name):
        if name != "blas":
            raise KeyError(name)
        return self.blas


def dynamic_checks(path, src, texts):
    d = Directives()
    spack = types.ModuleType("spack")
    spack.package = d.module()
    sys.modules["spack"], sys.modules["spack.package"] = spack, spack.package
    ns = {"__name__": "paraprop_package"}
    exec(compile(path.read_text(), str(path), "exec"), ns)
    cls = ns["Paraprop"]
    check(issubclass(cls, spack.package.CMakePackage), "Paraprop does not derive from CMakePackage")

    versions = [a[0] for n, a, _ in d.records if n == "version"]
    check(versions and versions[0] == project_version(src),
          f"package versions {versions}, CMakeLists.txt says {project_version(src)}")
    licences = [a[0] for n, a, _ in d.records if n == "license"]
    check(licences == ["BSD-3-Clause"], f"license() is {licences}")
    defaults = {}
    for n, a, k in d.records:
        if n == "variant":
            defaults[a[0]] = k.get("default")

    options = declared_options(texts)
    used = used_variables(texts)
    cases = [
        ({}, "openblas"),
        ({"precision": "double"}, "intel-oneapi-mkl"),
        ({"fuzz": True, "tests": True}, "flexiblas"),
        ({"precision": "double", "tests": True}, "some-unknown-blas"),
    ]
    for over, blas in cases:
        variants = dict(defaults, **over)
        pkg = cls()
        pkg.spec = FakeSpec(variants, blas)
        args = pkg.cmake_args()
        defs = {}
        for arg in args:
            m = re.fullmatch(r"-D([A-Za-z_][A-Za-z0-9_]*)(?::\w+)?=(.*)", arg)
            if check(m, f"cmake_args() yields '{arg}', not -DNAME=VALUE"):
                defs[m.group(1)] = m.group(2)
        label = f"{variants} ^{blas}"
        for name in defs:
            if name.startswith("PARAPROP_"):
                check(name in options, f"{label}: passes -D{name}, which no option()/CACHE in the project's CMake files declares")
            else:
                check(name in used, f"{label}: passes -D{name}, which the project's CMake files never use")
        check(defs.get("PARAPROP_DOUBLE") == ("ON" if variants["precision"] == "double" else "OFF"),
              f"{label}: PARAPROP_DOUBLE={defs.get('PARAPROP_DOUBLE')}")
        check(defs.get("PARAPROP_FUZZ") == ("ON" if variants["fuzz"] else "OFF"),
              f"{label}: PARAPROP_FUZZ={defs.get('PARAPROP_FUZZ')}")
        check(defs.get("PARAPROP_TESTS") == ("ON" if variants["tests"] else "OFF"),
              f"{label}: PARAPROP_TESTS={defs.get('PARAPROP_TESTS')}")
        want_vendor = {"openblas": "OpenBLAS", "intel-oneapi-mkl": "Intel10_64lp",
                       "flexiblas": "FlexiBLAS"}.get(blas)
        check(defs.get("BLA_VENDOR") == want_vendor, f"{label}: BLA_VENDOR={defs.get('BLA_VENDOR')}, expected {want_vendor}")


def citation_checks(src):
    cff = src / "CITATION.cff"
    if not check(cff.is_file(), "no CITATION.cff"):
        return
    try:
        import yaml
        data = yaml.safe_load(cff.read_text())
    except ImportError:  # a flat key: value reading is enough for the fields checked here
        data = dict(re.findall(r"^([a-z-]+):\s*\"?([^\"\n]*)\"?$", cff.read_text(), re.M))
    check(str(data.get("cff-version")) == "1.2.0", f"cff-version {data.get('cff-version')}")
    check(data.get("title"), "CITATION.cff has no title")
    check(str(data.get("version")) == project_version(src),
          f"CITATION.cff version {data.get('version')}, CMakeLists.txt says {project_version(src)}")
    check(data.get("license") == "BSD-3-Clause", f"CITATION.cff license {data.get('license')}")
    lic = (src / "LICENSE").read_text() if (src / "LICENSE").is_file() else ""
    check("BSD 3-Clause License" in lic and "the paraprop authors" in lic,
          "LICENSE is missing or not the BSD 3-Clause text of the paraprop authors")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    src = pathlib.Path(sys.argv[1]).resolve()
    path = src / "packaging/spack/packages/paraprop/package.py"
    tree = ast.parse(path.read_text(), str(path))
    texts = cmake_texts(src)
    static_checks(tree)
    dynamic_checks(path, src, texts)
    citation_checks(src)
    for f in FAILS:
        print("FAIL:", f)
    if FAILS:
        sys.exit(1)
    print(f"package.py, CITATION.cff and LICENSE agree with the project (version {project_version(src)})")


if __name__ == "__main__":
    main()
