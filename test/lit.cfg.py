# -*- Python -*-
import os
import shutil

import lit.formats
from lit.llvm import llvm_config

config.name = "ssmc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.ssmc_obj_root, "test")
# unit/ has its own config (GoogleTest format); reference/ and tools/ hold sources only.
config.excludes = ["CMakeLists.txt", "README.md", "unit", "reference", "tools", "Inputs", "check_dialect_doc.py"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%ssmc_src", config.ssmc_src_root))
config.substitutions.append(("%ssmc_obj", config.ssmc_obj_root))

# FileCheck, not, count, split-file live only in /usr/lib/llvm-22/bin on Debian.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.ssmc_tools_dir, append_path=True)
llvm_config.with_system_environment(["HOME", "TMPDIR"])
llvm_config.use_default_substitutions()

tool_dirs = [config.ssmc_tools_dir, config.llvm_tools_dir]
# ssmc-run-lite: `ssmc run` on libssmc_runtime.so alone (tools/run-lite).
llvm_config.add_tool_substitutions(["ssmc-opt", "ssmc-run-lite", "ssmc"], tool_dirs)

if shutil.which("qemu-aarch64"):
    config.available_features.add("qemu-aarch64")
if os.path.exists(os.path.join(config.ssmc_tools_dir, "ssmc-generate-aarch64")):
    config.available_features.add("aarch64-runtime")
if getattr(config, "ssmc_have_openblas", False):
    config.available_features.add("openblas")
if os.path.exists("/usr/local/cuda/bin/ptxas"):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", "/usr/local/cuda/bin/ptxas"))
# The toolkit's stub libcuda (every call fails with CUDA_ERROR_STUB_LIBRARY).
if os.path.exists("/usr/local/cuda/lib64/stubs/libcuda.so"):
    config.available_features.add("cuda-stub")
    config.substitutions.append(("%cuda_stub", "/usr/local/cuda/lib64/stubs/libcuda.so"))
# PyTorch importable by lit's Python: bench/torch/baseline.py's parity check
# runs on the CPU (test/E2E/torch-baseline-parity.test).
import importlib.util
if importlib.util.find_spec("torch") is not None:
    config.available_features.add("torch")
# A real NVIDIA driver (libcuda.so.1 loadable): the "no CUDA device" tests
# do not apply there; test/E2E/gpu/run-on-device.sh runs the models instead.
try:
    import ctypes
    ctypes.CDLL("libcuda.so.1")
    config.available_features.add("libcuda")
except OSError:
    pass
