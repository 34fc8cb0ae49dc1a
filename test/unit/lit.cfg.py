# -*- Python -*-
# Runs every GoogleTest binary (*Tests) built into <build>/test/unit; each test
# case counts as one lit test.
import os

import lit.formats

config.name = "ssmc-unit"
config.suffixes = []
config.test_source_root = os.path.join(config.ssmc_obj_root, "test", "unit")
config.test_exec_root = config.test_source_root
config.test_format = lit.formats.GoogleTest(".", "Tests")
config.environment["SSMC_SRC_ROOT"] = config.ssmc_src_root
config.environment["SSMC_BIN_DIR"] = os.path.join(config.ssmc_obj_root, "bin")
