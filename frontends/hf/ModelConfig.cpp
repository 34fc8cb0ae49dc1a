#include "frontends/hf/ModelConfig.h"
