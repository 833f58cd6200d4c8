# lit configuration for mbc's tests.
import os
import shutil
import sys

import lit.formats

config.name = "mbc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "reference", "CMakeLists.txt", "lit.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.mbc_obj_root, "test")

config.environment["PATH"] = os.pathsep.join(
    [config.mbc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
# Keep tool output stable and free of colors.
config.environment["TERM"] = "dumb"
# ptxsim's switches reach the kernels the tests run when set by hand:
# PTXSIM_PROFILE=FILE (memory-access counts), PTXSIM_RACECHECK=0.
for name in ("PTXSIM_PROFILE", "PTXSIM_RACECHECK"):
    if name in os.environ:
        config.environment[name] = os.environ[name]

config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%mbc_src", config.mbc_src_root))
config.substitutions.append(("%mbc_obj", config.mbc_obj_root))
config.substitutions.append(
    ("%make_model", config.python_executable + " " +
     os.path.join(config.mbc_src_root, "test", "reference", "make_model.py")))
config.substitutions.append(
    ("%make_bad_model_dirs", config.python_executable + " " +
     os.path.join(config.mbc_src_root, "test", "Import", "Inputs", "make_bad_model_dirs.py")))

# Test-only artifacts (make_test_artifact.py around the fake CPU entries) and
# the fake CUDA driver, both built under test/runtime.
runtime_tests_obj = os.path.join(config.mbc_obj_root, "test", "runtime")
config.substitutions.append(
    ("%make_test_artifact", config.python_executable + " " +
     os.path.join(config.mbc_src_root, "test", "runtime", "make_test_artifact.py") +
     " --code " + os.path.join(runtime_tests_obj, "mbrt_fake_entries.so")))
config.substitutions.append(
    ("%fake_cuda_driver", os.path.join(runtime_tests_obj, "fake_cuda_driver.so")))

# The CUDA toolkit is optional; tests that need ptxas say REQUIRES: ptxas
# and run it as %ptxas ($MBC_PTXAS, then PATH, then /usr/local/cuda/bin).
ptxas = os.environ.get("MBC_PTXAS") or shutil.which("ptxas")
if not ptxas and os.path.exists("/usr/local/cuda/bin/ptxas"):
    ptxas = "/usr/local/cuda/bin/ptxas"
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))

# A CUDA device (driver + GPU) for the tests that run generated kernels; they
# say REQUIRES: cuda-device and are reported UNSUPPORTED elsewhere.
def cuda_compute_capability():
    import ctypes
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
        count, major, minor = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 \
                or count.value == 0:
            return None
        cuda.cuDeviceGetAttribute(ctypes.byref(major), 75, 0)
        cuda.cuDeviceGetAttribute(ctypes.byref(minor), 76, 0)
        return major.value * 10 + minor.value
    except OSError:
        return None


capability = cuda_compute_capability()
if capability:
    config.available_features.add("cuda-device")
    if capability == 90:
        config.available_features.add("cuda-sm90a")

# Tests that run generated kernels say REQUIRES: cuda-runner and put
# %cuda_env before the command: on a GPU they run there; elsewhere on the fake
# driver's simulate mode, which interprets the PTX with ptxsim (test/ptxsim)
# as an sm_90 device (and mbc writes PTX only: ptxsim does not run cubins).
fake_driver = os.path.join(runtime_tests_obj, "fake_cuda_driver.so")
if capability:
    config.available_features.add("cuda-runner")
    config.substitutions.append(("%cuda_env", "env"))
elif os.path.exists(fake_driver):
    config.available_features.add("cuda-runner")
    config.available_features.add("ptxsim")
    config.substitutions.append(
        ("%cuda_env", "env MBRT_CUDA_DRIVER=" + fake_driver +
         " MBRT_FAKE_CUDA_MODE=simulate MBRT_FAKE_CUDA_ARCH=90 MBC_PTXAS="))

# mlir-runner programs with kernels on ptxsim (test/ptxsim/mlir), with the
# substitutions MLIR's CUDA integration tests use: %mlir_cuda_runtime is
# mbc's libmbc_mlir_gpu_runtime.so, the printers come from LLVM's runner
# utilities (the paths: run_mlir_integration_tests.py).
sys.path.insert(0, os.path.join(config.mbc_src_root, "test", "ptxsim"))
from run_mlir_integration_tests import runner_libraries

mlir_runner_libraries = runner_libraries(config.mbc_obj_root,
                                         config.llvm_tools_dir)
if os.path.exists(os.path.join(config.llvm_tools_dir, "mlir-runner")) and all(
        os.path.exists(path) for path in mlir_runner_libraries.values()):
    config.available_features.add("mlir-runner")
    for name, path in mlir_runner_libraries.items():
        config.substitutions.append(("%" + name, path))
