//===- ModelConfigJSON.h - Config files as text, for presets and overrides -===//
//
// The text-level halves of parseModelConfig / writeModelConfig. Presets are
// written as the upstream config files they stand for and go through the same
// parser as files on disk, and `ssmc make-model` applies its overrides to the
// upstream keys, so one parser derives and validates every ModelConfig.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_FRONTENDS_HF_MODELCONFIGJSON_H
#define SSMC_FRONTENDS_HF_MODELCONFIGJSON_H

#include "frontends/hf/ModelConfig.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>

namespace ssmc::hf {

/// The upstream config files of one model, as JSON text.
struct ConfigTexts {
  std::string config;      ///< config.json
  std::string mambaConfig; ///< mamba_config.json (MambaInLlama only, else empty)
};

/// Parses config texts. `configName` / `mambaName` stand for the files in
/// error messages. A non-empty `mambaText` makes a Llama config a
/// MambaInLlama hybrid, as a mamba_config.json next to config.json does.
llvm::Expected<ModelConfig> parseModelConfigText(llvm::StringRef configText,
                                                 llvm::StringRef configName,
                                                 llvm::StringRef mambaText = "",
                                                 llvm::StringRef mambaName = "mamba_config.json");

/// The upstream files of `cfg` (what writeModelConfig writes, without the
/// MambaInLlama `_name_or_path`, which depends on the directory).
ConfigTexts renderModelConfig(const ModelConfig &cfg);

/// Formats a double the way Python's json module does (shortest text that
/// reads back to the same double: 1e-05, 500000.0, 32.0).
std::string formatJSONNumber(double v);

} // namespace ssmc::hf

#endif // SSMC_FRONTENDS_HF_MODELCONFIGJSON_H
