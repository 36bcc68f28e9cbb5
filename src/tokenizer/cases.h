// tokenizer/cases.h — the reference tokenizer test-vector format.
// Offers: split_cases(text of a .inp file) -> cases (separated by the line
// "__ggml_vocab_test__"; a trailing separator ends the list) and parse_ids(line of a .out
// file) -> ids. Used by `fitserve tokenize --cases` and by the tests.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fitserve::tokenizer {

std::vector<std::string> split_cases(std::string_view inp);
// Throws core::Error("tokenizer") on anything that is not a space-separated integer list.
std::vector<int32_t> parse_ids(std::string_view line);

}  // namespace fitserve::tokenizer
