//===- SessionTest.cpp - Sessions, slots, state and the C API -------------===//
//
// Drives the fake model (a toy test double, see fake_model.c) through the C
// API: ragged batches, prefill/decode equivalence, save/restore/reset,
// input validation and the example program.
//
//===----------------------------------------------------------------------===//

#include "FakeArtifact.h"

#include "ssmc/ssmc.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

using namespace ssmc::test;

namespace {

#define EXPECT_CONTAINS(haystack, needle)                                      \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)            \
      << "expected '" << (needle) << "' in: " << (haystack)

class RuntimeSession : public ::testing::Test {
protected:
  void SetUp() override {
    path = tmp.file("model.ssmx");
    writeFakeArtifact(path);
    char err[512];
    model = ssmc_model_load(path.c_str(), err, sizeof err);
    ASSERT_TRUE(model) << err;
  }
  void TearDown() override { ssmc_model_free(model); }

  ssmc_session *makeSession(int32_t capacity, int64_t maxContext,
                            int32_t threads = 1) {
    char err[512];
    ssmc_session *s =
        ssmc_session_create(model, capacity, maxContext, threads, err,
                            sizeof err);
    EXPECT_TRUE(s) << err;
    return s;
  }

  /// Prefills each prompt into slots[i] in one call; returns the logits.
  std::vector<float> prefill(ssmc_session *s, const std::vector<int32_t> &slots,
                             const std::vector<std::vector<int32_t>> &prompts,
                             ssmc_status expect = SSMC_OK) {
    std::vector<const int32_t *> ptrs;
    std::vector<int32_t> lengths;
    for (const auto &p : prompts) {
      ptrs.push_back(p.data());
      lengths.push_back(static_cast<int32_t>(p.size()));
    }
    std::vector<float> logits(prompts.size() * kFakeVocab, -1.0f);
    EXPECT_EQ(ssmc_prefill(s, static_cast<int32_t>(slots.size()), slots.data(),
                           ptrs.data(), lengths.data(), logits.data()),
              expect)
        << ssmc_last_error(s);
    return logits;
  }

  std::vector<float> decode(ssmc_session *s, const std::vector<int32_t> &slots,
                            const std::vector<int32_t> &tokens,
                            ssmc_status expect = SSMC_OK) {
    std::vector<float> logits(tokens.size() * kFakeVocab, -1.0f);
    EXPECT_EQ(ssmc_decode(s, static_cast<int32_t>(slots.size()), slots.data(),
                          tokens.data(), logits.data()),
              expect)
        << ssmc_last_error(s);
    return logits;
  }

  static std::vector<float> row(const std::vector<float> &logits, size_t i) {
    return std::vector<float>(logits.begin() + i * kFakeVocab,
                              logits.begin() + (i + 1) * kFakeVocab);
  }

  TempDir tmp;
  std::string path;
  ssmc_model *model = nullptr;
};

TEST_F(RuntimeSession, ModelInfo) {
  ssmc_info info;
  ASSERT_EQ(ssmc_model_info(model, &info), SSMC_OK);
  EXPECT_EQ(info.vocab_size, kFakeVocab);
  EXPECT_EQ(info.num_states, 2);
  EXPECT_STREQ(info.family, "toy");
  EXPECT_EQ(std::string(info.target), hostTarget());
  EXPECT_STREQ(info.dtype, "f32");
  EXPECT_STREQ(info.ssmc_version, "0.1.0-test");
  EXPECT_CONTAINS(info.manifest_json, "\"entry_points\"");
  EXPECT_EQ(ssmc_model_info(nullptr, &info), SSMC_ERR_INVALID_ARGUMENT);
}

TEST_F(RuntimeSession, PrefillMatchesToy) {
  ssmc_session *s = makeSession(2, 64);
  std::vector<int32_t> prompt = {5, 9, 1, 63, 0};
  EXPECT_EQ(prefill(s, {1}, {prompt}), toyLogits(prompt));
  EXPECT_EQ(ssmc_state_position(s, 1), 5);
  EXPECT_EQ(ssmc_state_position(s, 0), 0);
  EXPECT_EQ(ssmc_state_position(s, 2), -1);
  ssmc_session_free(s);
}

TEST_F(RuntimeSession, SetPositionMovesOnlyThePosition) {
  ssmc_session *s = makeSession(2, 64);
  EXPECT_EQ(ssmc_state_set_position(s, 1, 40), SSMC_OK);
  EXPECT_EQ(ssmc_state_position(s, 1), 40);
  EXPECT_EQ(ssmc_state_position(s, 0), 0);
  EXPECT_EQ(ssmc_state_set_position(s, 1, 64), SSMC_OK);
  EXPECT_EQ(ssmc_state_set_position(s, 1, 65), SSMC_ERR_INVALID_ARGUMENT);
  EXPECT_CONTAINS(ssmc_last_error(s), "position 65 is outside [0, 64]");
  EXPECT_EQ(ssmc_state_set_position(s, 2, 0), SSMC_ERR_OUT_OF_RANGE);
  EXPECT_EQ(ssmc_state_set_position(s, 0, -1), SSMC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ssmc_state_set_position(nullptr, 0, 0), SSMC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ssmc_state_position(s, 1), 64);
  ssmc_session_free(s);
}

TEST_F(RuntimeSession, RaggedBatchMatchesSeparateRuns) {
  const std::vector<std::vector<int32_t>> prompts = {
      {1, 2, 3, 4, 5, 6, 7}, {42}, {9, 8, 7}, {0, 63}};
  for (int threads : {1, 3, 8}) {
    ssmc_session *s = makeSession(6, 32, threads);
    std::vector<float> batched = prefill(s, {4, 0, 5, 2}, prompts);
    for (size_t i = 0; i < prompts.size(); ++i)
      EXPECT_EQ(row(batched, i), toyLogits(prompts[i]))
          << "sequence " << i << ", " << threads << " threads";
    // Continue all four with one decode step, and only two with another.
    std::vector<float> step = decode(s, {0, 2, 4, 5}, {10, 11, 12, 13});
    EXPECT_EQ(row(step, 0), toyLogits({42, 10}));
    EXPECT_EQ(row(step, 1), toyLogits({0, 63, 11}));
    step = decode(s, {5, 4}, {1, 2});
    EXPECT_EQ(row(step, 0), toyLogits({9, 8, 7, 13, 1}));
    EXPECT_EQ(row(step, 1), toyLogits({1, 2, 3, 4, 5, 6, 7, 12, 2}));
    ssmc_session_free(s);
  }
}

TEST_F(RuntimeSession, PrefillThenDecodeEqualsDecodeOnly) {
  std::vector<int32_t> tokens = {3, 14, 15, 9, 26, 5, 35, 8};
  ssmc_session *a = makeSession(1, 16);
  ssmc_session *b = makeSession(1, 16);
  std::vector<float> viaPrefill = prefill(a, {0}, {{3, 14, 15, 9}});
  std::vector<float> viaDecode;
  for (int i = 0; i < 4; ++i)
    viaDecode = decode(b, {0}, {tokens[i]});
  EXPECT_EQ(viaPrefill, viaDecode);
  for (int i = 4; i < 8; ++i)
    EXPECT_EQ(decode(a, {0}, {tokens[i]}), decode(b, {0}, {tokens[i]}));
  // Chunked prefill continues from the slot's position.
  ssmc_session *c = makeSession(1, 16);
  prefill(c, {0}, {{3, 14, 15}});
  EXPECT_EQ(prefill(c, {0}, {{9, 26, 5, 35, 8}}), toyLogits(tokens));
  ssmc_session_free(a);
  ssmc_session_free(b);
  ssmc_session_free(c);
}

TEST_F(RuntimeSession, SaveRestoreResetRollback) {
  ssmc_session *s = makeSession(3, 32, 2);
  uint64_t size = ssmc_state_size(s);
  // Header + acc row (2 x i64) + kv row (32 x i32).
  EXPECT_EQ(size, 32u + 16u + 128u);
  prefill(s, {1}, {{7, 7, 7}});
  std::vector<uint8_t> saved(size);
  ASSERT_EQ(ssmc_state_save(s, 1, saved.data()), SSMC_OK);

  // Speculate three tokens, then roll back and take a different path.
  decode(s, {1}, {1});
  decode(s, {1}, {2});
  decode(s, {1}, {3});
  EXPECT_EQ(ssmc_state_position(s, 1), 6);
  ASSERT_EQ(ssmc_state_restore(s, 1, saved.data()), SSMC_OK);
  EXPECT_EQ(ssmc_state_position(s, 1), 3);
  EXPECT_EQ(decode(s, {1}, {50}), toyLogits({7, 7, 7, 50}));

  // The saved state moves into another slot (prompt caching).
  ASSERT_EQ(ssmc_state_restore(s, 2, saved.data()), SSMC_OK);
  EXPECT_EQ(decode(s, {2}, {51}), toyLogits({7, 7, 7, 51}));

  // Reset starts the slot over.
  ASSERT_EQ(ssmc_state_reset(s, 1), SSMC_OK);
  EXPECT_EQ(ssmc_state_position(s, 1), 0);
  EXPECT_EQ(prefill(s, {1}, {{4}}), toyLogits({4}));

  // Buffers that do not fit are refused.
  std::vector<uint8_t> garbage(size, 0x5A);
  EXPECT_EQ(ssmc_state_restore(s, 0, garbage.data()),
            SSMC_ERR_INVALID_ARGUMENT);
  EXPECT_CONTAINS(ssmc_last_error(s), "does not hold a state saved");
  ssmc_session *other = makeSession(3, 16);
  EXPECT_EQ(ssmc_state_restore(other, 0, saved.data()),
            SSMC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ssmc_state_save(s, 3, saved.data()), SSMC_ERR_OUT_OF_RANGE);
  EXPECT_EQ(ssmc_state_reset(s, -1), SSMC_ERR_OUT_OF_RANGE);
  EXPECT_EQ(ssmc_state_save(s, 0, nullptr), SSMC_ERR_INVALID_ARGUMENT);
  ssmc_session_free(other);
  ssmc_session_free(s);
}

TEST_F(RuntimeSession, BadInputsFailCleanly) {
  ssmc_session *s = makeSession(2, 8);
  prefill(s, {0}, {{1, 2}});

  prefill(s, {0}, {{1, kFakeVocab}}, SSMC_ERR_OUT_OF_RANGE);
  EXPECT_CONTAINS(ssmc_last_error(s),
                  "token 64 (sequence 0, index 1) is outside the vocabulary "
                  "[0, 64)");
  decode(s, {0}, {-1}, SSMC_ERR_OUT_OF_RANGE);
  EXPECT_CONTAINS(ssmc_last_error(s), "token -1");
  EXPECT_EQ(ssmc_state_position(s, 0), 2) << "failed calls change nothing";

  prefill(s, {0, 1, 2}, {{1}, {1}, {1}}, SSMC_ERR_CAPACITY);
  EXPECT_CONTAINS(ssmc_last_error(s),
                  "batch of 3 sequences exceeds the session's capacity of 2");
  prefill(s, {0}, {{1, 2, 3, 4, 5, 6, 7}}, SSMC_ERR_CAPACITY);
  EXPECT_CONTAINS(ssmc_last_error(s), "exceed the max context of 8");
  prefill(s, {0}, {{1, 2, 3, 4, 5, 6}}); // exactly full
  decode(s, {0}, {1}, SSMC_ERR_CAPACITY);
  EXPECT_CONTAINS(ssmc_last_error(s), "slot 0 is full");

  decode(s, {1, 1}, {1, 2}, SSMC_ERR_INVALID_ARGUMENT);
  EXPECT_CONTAINS(ssmc_last_error(s), "slot 1 appears twice");
  decode(s, {2}, {1}, SSMC_ERR_OUT_OF_RANGE);
  decode(s, {}, {}, SSMC_ERR_INVALID_ARGUMENT);
  prefill(s, {1}, {{}}, SSMC_ERR_INVALID_ARGUMENT);
  EXPECT_CONTAINS(ssmc_last_error(s), "has length 0");

  float logits[kFakeVocab];
  int32_t slot = 1, token = 1;
  EXPECT_EQ(ssmc_decode(s, 1, nullptr, &token, logits),
            SSMC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ssmc_decode(s, 1, &slot, nullptr, logits),
            SSMC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ssmc_decode(s, 1, &slot, &token, nullptr),
            SSMC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ssmc_prefill(s, 1, &slot, nullptr, &token, logits),
            SSMC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ssmc_decode(nullptr, 1, &slot, &token, logits),
            SSMC_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ssmc_state_position(s, 1), 0);
  ssmc_session_free(s);
}

TEST_F(RuntimeSession, SessionCreationErrors) {
  char err[256];
  EXPECT_EQ(ssmc_session_create(model, 0, 16, 1, err, sizeof err), nullptr);
  EXPECT_CONTAINS(err, "batch capacity 0 is outside");
  EXPECT_EQ(ssmc_session_create(model, 1, 0, 1, err, sizeof err), nullptr);
  EXPECT_CONTAINS(err, "max context 0 is outside");
  EXPECT_EQ(ssmc_session_create(nullptr, 1, 1, 1, err, sizeof err), nullptr);
  EXPECT_CONTAINS(err, "model is null");
  // A KV cache beyond any machine's memory is refused up front.
  EXPECT_EQ(ssmc_session_create(model, 1 << 20, INT32_MAX, 1, err, sizeof err),
            nullptr);
  EXPECT_CONTAINS(err, "state 'kv' would be too large");
  // Short error buffers are truncated, not overrun.
  char tiny[8];
  std::memset(tiny, 'x', sizeof tiny);
  EXPECT_EQ(ssmc_session_create(model, 0, 16, 1, tiny, 4), nullptr);
  EXPECT_EQ(std::strlen(tiny), 3u);
  EXPECT_EQ(tiny[5], 'x');
}

TEST_F(RuntimeSession, LoadErrorThroughCApi) {
  char err[512];
  EXPECT_EQ(ssmc_model_load(tmp.file("nope.ssmx").c_str(), err, sizeof err),
            nullptr);
  EXPECT_CONTAINS(err, "nope.ssmx: cannot open");
  EXPECT_EQ(ssmc_model_load(nullptr, err, sizeof err), nullptr);
}

TEST_F(RuntimeSession, KernelFailureIsReported) {
  std::string p = tmp.file("failing.ssmx");
  writeFakeArtifact(p, [](ssmc::rt::ArtifactWriter &w) {
    w.manifest().decodeEntry = "fake_fail";
  });
  char err[512];
  ssmc_model *failing = ssmc_model_load(p.c_str(), err, sizeof err);
  ASSERT_TRUE(failing) << err;
  ssmc_session *s =
      ssmc_session_create(failing, 1, 8, 1, err, sizeof err);
  ASSERT_TRUE(s) << err;
  ssmc_model_free(failing); // the session keeps the model alive
  prefill(s, {0}, {{1, 2}});
  decode(s, {0}, {3}, SSMC_ERR_KERNEL);
  EXPECT_CONTAINS(ssmc_last_error(s), "decode entry point failed with code 42");
  // Two models loaded at once keep their own code.
  ssmc_session *healthy = makeSession(1, 8);
  EXPECT_EQ(decode(healthy, {0}, {3}), toyLogits({3}));
  ssmc_session_free(healthy);
  ssmc_session_free(s);
}

TEST_F(RuntimeSession, ManySequencesAcrossThreads) {
  ssmc_session *one = makeSession(64, 40, 1);
  ssmc_session *many = makeSession(64, 40, 4);
  std::vector<int32_t> slots;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 64; ++i) {
    slots.push_back(63 - i);
    std::vector<int32_t> p;
    for (int t = 0; t <= i % 13; ++t)
      p.push_back((i * 7 + t * 3) % kFakeVocab);
    prompts.push_back(p);
  }
  EXPECT_EQ(prefill(one, slots, prompts), prefill(many, slots, prompts));
  for (int step = 0; step < 5; ++step) {
    std::vector<int32_t> tokens(64, step * 5 % kFakeVocab);
    EXPECT_EQ(decode(one, slots, tokens), decode(many, slots, tokens));
  }
  ssmc_session_free(one);
  ssmc_session_free(many);
}

TEST_F(RuntimeSession, ExampleProgramGeneratesGreedily) {
  // Expected: greedy decoding through the API.
  std::vector<int32_t> prompt = {11, 22, 33};
  ssmc_session *s = makeSession(1, 16);
  std::vector<float> logits = prefill(s, {0}, {prompt});
  std::string expected;
  for (int i = 0; i < 6; ++i) {
    int32_t next = ssmc_sample(logits.data(), kFakeVocab, 0.0f, 1.0f, nullptr);
    expected += (i ? " " : "") + std::to_string(next);
    if (i < 5)
      logits = decode(s, {0}, {next});
  }
  ssmc_session_free(s);

  std::string command =
      std::string(SSMC_GENERATE_EXAMPLE) + " " + path + " 6 11 22 33 2>&1";
  FILE *pipe = popen(command.c_str(), "r");
  ASSERT_TRUE(pipe);
  std::string output;
  char buf[256];
  while (std::fgets(buf, sizeof buf, pipe))
    output += buf;
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_EQ(output, expected + "\n");

  command = std::string(SSMC_GENERATE_EXAMPLE) + " " + tmp.file("x.ssmx") +
            " 2 1 2>&1";
  pipe = popen(command.c_str(), "r");
  ASSERT_TRUE(pipe);
  output.clear();
  while (std::fgets(buf, sizeof buf, pipe))
    output += buf;
  EXPECT_NE(pclose(pipe), 0);
  EXPECT_CONTAINS(output, "x.ssmx: cannot open");
}

} // namespace
