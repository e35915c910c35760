// Prompts of test/engine/generate.test.ts as SmolLM2-135M-Instruct tokens (chat template applied
// to all but the last, BOS included), produced by the engine's tokenizer: the GPU machine has no Node.
#pragma once

#include <cstdint>
#include <vector>

struct PromptTokens {
    const char* text;
    std::vector<int32_t> tokens;
};

static const PromptTokens kSmolLM2Prompts[] = {
    {"What is the capital of France? Explain its history briefly.", {1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2, 198, 1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 16374, 624, 1463, 13099, 30, 2, 198, 1, 520, 9531, 198}},
    {"Write a short poem about the sea.", {1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2, 198, 1, 4093, 198, 19161, 253, 1890, 8216, 563, 260, 3426, 30, 2, 198, 1, 520, 9531, 198}},
    {"List three uses of a paperclip.", {1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2, 198, 1, 4093, 198, 6106, 1296, 2925, 282, 253, 1941, 14194, 30, 2, 198, 1, 520, 9531, 198}},
    {"Translate \"good morning, how are you?\" into Spanish and German.", {1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2, 198, 1, 4093, 198, 8241, 12837, 476, 12018, 5738, 28, 638, 359, 346, 4817, 618, 5071, 284, 3697, 30, 2, 198, 1, 520, 9531, 198}},
    {"Explain in simple words how a refrigerator keeps food cold.", {1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2, 198, 1, 4093, 198, 36971, 281, 2232, 1924, 638, 253, 21448, 8211, 1114, 4011, 30, 2, 198, 1, 520, 9531, 198}},
    {"def fibonacci(n):", {1604, 3987, 46477, 24, 94, 727}},
};
