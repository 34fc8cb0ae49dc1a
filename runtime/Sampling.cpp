//===- Sampling.cpp - Greedy and temperature/top-p token sampling ---------===//
//
// The only arithmetic the runtime does on model outputs. Probabilities are
// computed in double and the random stream is splitmix64, so a seed gives the
// same tokens on every machine (up to last-ulp differences of libm's exp).
//
//===----------------------------------------------------------------------===//

#include "runtime/Runtime.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace ssmc {
namespace rt {

uint64_t nextRandom(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int32_t sampleToken(const float *logits, int32_t vocab, float temperature,
                    float topP, uint64_t *rngState) {
  if (!logits || vocab <= 0 || std::isnan(temperature))
    return -1;
  // Argmax, first index on ties; NaN logits never win.
  int32_t best = -1;
  for (int32_t i = 0; i < vocab; ++i) {
    if (std::isnan(logits[i]))
      continue;
    if (best < 0 || logits[i] > logits[best])
      best = i;
  }
  if (best < 0)
    return -1; // every logit is NaN
  if (temperature <= 0.0f || std::isinf(logits[best]))
    return best; // greedy, or a +inf logit that takes all the mass
  if (!rngState || std::isnan(topP) || topP <= 0.0f)
    return -1;

  const double maxLogit = logits[best];
  const double invTemperature = 1.0 / static_cast<double>(temperature);
  std::vector<double> weights(vocab);
  double total = 0;
  for (int32_t i = 0; i < vocab; ++i) {
    double w = std::isnan(logits[i])
                   ? 0.0
                   : std::exp((logits[i] - maxLogit) * invTemperature);
    weights[i] = w;
    total += w;
  }

  // Candidates in the order the draw walks them: by index without top-p, by
  // decreasing probability (ties by index) with it.
  std::vector<int32_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  double keptMass = total;
  size_t kept = order.size();
  if (topP < 1.0f) {
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      return weights[a] > weights[b];
    });
    const double threshold = static_cast<double>(topP) * total;
    double cumulative = 0;
    kept = 0;
    while (kept < order.size()) {
      cumulative += weights[order[kept]];
      ++kept;
      if (cumulative >= threshold)
        break;
    }
    keptMass = cumulative;
  }

  // 53 random bits give a uniform double in [0, 1).
  double u = static_cast<double>(nextRandom(rngState) >> 11) * 0x1.0p-53;
  double target = u * keptMass;
  double cumulative = 0;
  for (size_t k = 0; k < kept; ++k) {
    cumulative += weights[order[k]];
    if (target < cumulative)
      return order[k];
  }
  // Rounding left the target at the very end: take the last candidate with
  // any mass.
  for (size_t k = kept; k > 0; --k)
    if (weights[order[k - 1]] > 0)
      return order[k - 1];
  return best;
}

} // namespace rt
} // namespace ssmc
