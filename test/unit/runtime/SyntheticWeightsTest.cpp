//===- SyntheticWeightsTest.cpp - Weights synthesized at load -------------===//
//
// Artifacts whose manifest says "synthesize the weights" (ssmc compile
// --synthetic-weights): the runtime fills the section at load with the rule
// of runtime/WeightSynthesis.h, in parallel, identically for any number of
// threads; the manifest fields are validated; a writer refuses to mix stored
// and synthesized weights.
//
//===----------------------------------------------------------------------===//

#include "FakeArtifact.h"

#include "runtime/Runtime.h"
#include "runtime/WeightSynthesis.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

using namespace ssmc;
using namespace ssmc::test;

namespace {

struct SynthWeight {
  const char *name;
  const char *dtype;
  std::vector<int64_t> shape;
  synth::Distribution kind;
  double lo, hi;
  const char *generated;
};

// Several blocks (big: 210000 elements = 4 blocks), each distribution, each
// element type, and a generated type other than the stored one (f32 -> bf16,
// as Mamba-2's D in a bf16 model).
const std::vector<SynthWeight> &synthWeights() {
  static const std::vector<SynthWeight> weights = {
      {"bias", "f32", {kFakeVocab}, synth::Distribution::Uniform, 0.5, 1.5, "f32"},
      {"big", "bf16", {3, 70000}, synth::Distribution::Uniform, -0.2, 0.2, "f32"},
      {"alog", "f16", {1000}, synth::Distribution::LogOfUniform, 1.0, 16.0, "f16"},
      {"dt", "f32", {77}, synth::Distribution::InvSoftplusLogUniform, 0.001, 0.1, "f32"},
  };
  return weights;
}

constexpr uint64_t kSeed = 12345;

void addSynthWeights(rt::ArtifactWriter &writer) {
  for (const SynthWeight &w : synthWeights()) {
    rt::WeightInit init;
    init.distribution = synth::distributionName(w.kind);
    init.lo = w.lo;
    init.hi = w.hi;
    init.generatedDtype = w.generated;
    int64_t n = 1;
    for (int64_t d : w.shape)
      n *= d;
    writer.addSyntheticWeight(w.name, w.dtype, w.shape, n * rt::elementTypeBytes(w.dtype), init,
                              kSeed);
  }
}

/// The fake model's manifest and code with synthesized weights only.
void writeSyntheticArtifact(const std::string &path,
                            const std::function<void(rt::ArtifactWriter &)> &mutate = {}) {
  rt::ArtifactWriter writer;
  buildFakeArtifact(writer);
  rt::ArtifactWriter synthetic;
  synthetic.manifest() = writer.manifest();
  synthetic.manifest().weights.clear();
  synthetic.setCode(readFileBytes(SSMC_FAKE_MODEL_SO));
  addSynthWeights(synthetic);
  if (mutate)
    mutate(synthetic);
  std::string error;
  ASSERT_TRUE(synthetic.write(path, error)) << error;
}

/// The section the rule gives, block by block on one thread.
std::vector<uint8_t> expectedSection(const rt::Manifest &m) {
  std::vector<uint8_t> section(m.synthetic.sectionBytes, 0);
  for (size_t i = 0; i < m.weights.size(); ++i) {
    const rt::WeightSpec &spec = m.weights[i];
    const SynthWeight &w = synthWeights()[i];
    synth::Element stored, generated;
    EXPECT_TRUE(synth::parseElement(w.dtype, stored));
    EXPECT_TRUE(synth::parseElement(w.generated, generated));
    int64_t n = static_cast<int64_t>(spec.bytes / synth::elementBytes(stored));
    for (int64_t b = 0; b < synth::numBlocks(n); ++b)
      synth::fillBlock({w.kind, w.lo, w.hi}, kSeed, synth::nameHash(w.name), n, b, generated,
                       stored,
                       section.data() + spec.offset +
                           b * synth::kBlockElements * synth::elementBytes(stored));
  }
  return section;
}

class FillThreads {
public:
  explicit FillThreads(const char *n) { setenv("SSMC_FILL_THREADS", n, 1); }
  ~FillThreads() { unsetenv("SSMC_FILL_THREADS"); }
};

TEST(SyntheticWeights, ManifestRoundTripsExactly) {
  TempDir dir;
  std::string path = dir.file("s.ssmx");
  writeSyntheticArtifact(path);
  rt::ArtifactReader reader;
  std::string error;
  ASSERT_TRUE(reader.open(path, error)) << error;
  const rt::Manifest &m = reader.manifest();
  EXPECT_TRUE(m.synthetic.enabled);
  EXPECT_EQ(m.synthetic.rule, synth::kRuleName);
  EXPECT_EQ(m.synthetic.seed, kSeed);
  EXPECT_EQ(reader.weightsBytes(), 0u); // nothing stored
  ASSERT_EQ(m.weights.size(), synthWeights().size());
  for (size_t i = 0; i < m.weights.size(); ++i) {
    const SynthWeight &w = synthWeights()[i];
    EXPECT_EQ(m.weights[i].offset % rt::kWeightAlignment, 0u);
    EXPECT_EQ(m.weights[i].init.distribution, synth::distributionName(w.kind));
    EXPECT_EQ(m.weights[i].init.lo, w.lo); // bit-exact through JSON
    EXPECT_EQ(m.weights[i].init.hi, w.hi);
    EXPECT_EQ(m.weights[i].init.generatedDtype, w.generated);
  }
  const rt::WeightSpec &last = m.weights.back();
  EXPECT_EQ(m.synthetic.sectionBytes, last.offset + last.bytes);
}

TEST(SyntheticWeights, FilledAtLoadAsTheRuleSaysOnAnyNumberOfThreads) {
  TempDir dir;
  std::string path = dir.file("s.ssmx");
  writeSyntheticArtifact(path);
  std::vector<uint8_t> expected;
  for (const char *threads : {"1", "3", "8"}) {
    FillThreads env(threads);
    std::string error;
    std::shared_ptr<rt::Model> model = rt::Model::load(path, error);
    ASSERT_TRUE(model) << error;
    if (expected.empty())
      expected = expectedSection(model->manifest());
    ASSERT_TRUE(model->hostWeights());
    EXPECT_EQ(std::memcmp(model->hostWeights(), expected.data(), expected.size()), 0)
        << threads << " threads";
    EXPECT_GT(model->synthesisSeconds(), 0.0);
  }
  // The values are what their distributions promise.
  const rt::Manifest *m = nullptr;
  std::string error;
  std::shared_ptr<rt::Model> model = rt::Model::load(path, error);
  ASSERT_TRUE(model) << error;
  m = &model->manifest();
  const float *bias = reinterpret_cast<const float *>(model->hostWeights() + m->weights[0].offset);
  for (int v = 0; v < kFakeVocab; ++v) {
    EXPECT_GE(bias[v], 0.5f);
    EXPECT_LT(bias[v], 1.5f);
    EXPECT_NE(bias[v], 1.0f);
  }
  const uint16_t *big = reinterpret_cast<const uint16_t *>(model->hostWeights() +
                                                           m->weights[1].offset);
  double sumSq = 0;
  for (int64_t i = 0; i < 210000; ++i) {
    float x = synth::bf16ToFloat(big[i]);
    ASSERT_LE(std::fabs(x), 0.2f * (1 + 1.0f / 128)); // bf16 rounding
    sumSq += double(x) * x;
  }
  EXPECT_NEAR(std::sqrt(sumSq / 210000), 0.2 / std::sqrt(3.0), 1e-3);
}

TEST(SyntheticWeights, SessionsReadTheSynthesizedSection) {
  // The fake model adds weight "bias" (at offset 0) to its logits.
  TempDir dir;
  std::string path = dir.file("s.ssmx");
  writeSyntheticArtifact(path);
  std::string error;
  std::shared_ptr<rt::Model> model = rt::Model::load(path, error);
  ASSERT_TRUE(model) << error;
  std::unique_ptr<rt::Session> session = rt::Session::create(model, 1, 8, 1, error);
  ASSERT_TRUE(session) << error;
  int32_t slot = 0, length = 2, tokens[2] = {3, 4};
  const int32_t *ptr = tokens;
  std::vector<float> logits(kFakeVocab);
  ASSERT_EQ(session->prefill(1, &slot, &ptr, &length, logits.data()), rt::Status::Ok)
      << session->lastError();
  std::vector<float> toy = toyLogits({3, 4}), bias = fakeBias();
  const float *synthesized = reinterpret_cast<const float *>(model->hostWeights());
  for (int v = 0; v < kFakeVocab; ++v)
    EXPECT_EQ(logits[v], toy[v] - bias[v] + synthesized[v]) << v;
}

TEST(SyntheticWeights, WriterRefusesStoredAndSynthesizedTogether) {
  rt::ArtifactWriter writer;
  buildFakeArtifact(writer); // stored weights
  rt::WeightInit init{"uniform", 0, 1, "f32"};
  writer.addSyntheticWeight("extra", "f32", {4}, 16, init, 1);
  std::string error;
  TempDir dir;
  EXPECT_FALSE(writer.write(dir.file("mixed.ssmx"), error));
  EXPECT_NE(error.find("either stored or synthesized"), std::string::npos) << error;
}

/// Opens an artifact whose synthetic manifest `edit` changed (as text).
std::string openEdited(const std::function<void(rt::JsonValue &)> &edit,
                       uint64_t weightBytes = 0) {
  TempDir dir;
  std::string path = dir.file("s.ssmx");
  writeSyntheticArtifact(path);
  rt::ArtifactReader reader;
  std::string error;
  EXPECT_TRUE(reader.open(path, error)) << error;
  rt::JsonValue json;
  EXPECT_TRUE(rt::parseJson(reader.manifestText(), json, error)) << error;
  edit(json);
  std::vector<uint8_t> weights(weightBytes, 0);
  std::string edited = dir.file("edited.ssmx");
  EXPECT_TRUE(rt::writeArtifactFile(edited, json.serialize(1), readFileBytes(SSMC_FAKE_MODEL_SO),
                                    weights.data(), weights.size(), error))
      << error;
  rt::ArtifactReader again;
  if (again.open(edited, error))
    return "";
  return error;
}

/// Sets member `key` of object `obj` (replacing it).
void setMember(rt::JsonValue &obj, const std::string &key, rt::JsonValue value) {
  obj.set(key, std::move(value));
}

rt::JsonValue editedSynth(const rt::JsonValue &json, const std::string &key, rt::JsonValue v) {
  rt::JsonValue synth = *json.find("synthetic_weights");
  synth.set(key, std::move(v));
  return synth;
}

TEST(SyntheticWeights, ManifestIsValidated) {
  EXPECT_NE(openEdited([](rt::JsonValue &j) {
              setMember(j, "synthetic_weights",
                        editedSynth(j, "rule", rt::JsonValue::makeString("other-rule-v9")));
            }).find("synthesized by rule 'other-rule-v9', which this runtime does not know"),
            std::string::npos);
  EXPECT_NE(openEdited([](rt::JsonValue &j) {
              setMember(j, "synthetic_weights",
                        editedSynth(j, "section_bytes", rt::JsonValue::makeInt(100)));
            }).find("lies outside the weight section (100 bytes, synthesized)"),
            std::string::npos);
  EXPECT_NE(openEdited([](rt::JsonValue &) {}, /*weightBytes=*/64)
                .find("the manifest says the weights are synthesized at load, but the file "
                      "holds a weight section of 64 bytes"),
            std::string::npos);

  auto editWeight = [](const std::string &key, rt::JsonValue value) {
    return [key, value](rt::JsonValue &j) {
      rt::JsonValue weights = *j.find("weights");
      rt::JsonValue &w = weights.getArray()[2];
      if (key == "dtype") {
        w.set("dtype", value);
      } else {
        rt::JsonValue init = *w.find("init");
        if (value.isNull()) {
          rt::JsonValue pruned = rt::JsonValue::makeObject();
          for (const auto &[k, v] : init.getObject())
            if (k != key)
              pruned.set(k, v);
          init = pruned;
        } else {
          init.set(key, value);
        }
        w.set("init", init);
      }
      j.set("weights", weights);
    };
  };
  EXPECT_NE(openEdited(editWeight("distribution", rt::JsonValue::makeString("gaussian")))
                .find("weights[2].init.distribution 'gaussian' is not one this runtime knows"),
            std::string::npos);
  EXPECT_NE(openEdited(editWeight("generated_dtype", rt::JsonValue::makeString("i8")))
                .find("weights[2].init.generated_dtype 'i8' is not f32, bf16 or f16"),
            std::string::npos);
  EXPECT_NE(openEdited(editWeight("low", rt::JsonValue()))
                .find("weights[2].init.low is missing"),
            std::string::npos);
  // log(U(lo, hi)) needs positive bounds.
  EXPECT_NE(openEdited(editWeight("low", rt::JsonValue::makeDouble(-1.0)))
                .find("weights[2].init.low/high are not a valid range for 'log_of_uniform'"),
            std::string::npos);
  EXPECT_NE(openEdited(editWeight("dtype", rt::JsonValue::makeString("i16")))
                .find("weights[2].dtype 'i16' cannot be synthesized (f32, bf16 or f16)"),
            std::string::npos);
}

} // namespace
