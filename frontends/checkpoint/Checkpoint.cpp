#include "frontends/checkpoint/Checkpoint.h"
