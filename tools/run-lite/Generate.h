//===- Generate.h - ssmc run / ssmc-run-lite, one implementation -*- C++ -*-===//
#ifndef SSMC_TOOLS_RUN_LITE_GENERATE_H
#define SSMC_TOOLS_RUN_LITE_GENERATE_H

namespace ssmc::tools {
/// Parses `argv[1..]` (the artifact, --prompt-ids, ...), generates and
/// prints like `ssmc run`; `tool` names the command in messages and usage.
/// Returns the process status (0, or 1 with a message on stderr).
int runGenerate(const char *tool, int argc, char **argv);
} // namespace ssmc::tools

#endif // SSMC_TOOLS_RUN_LITE_GENERATE_H
