// core/text.h — small text utilities shared by the CLI and the server.
// Offers: edit_distance(a, b) (Levenshtein, for "did you mean" hints) and read_file(path)
// (whole file as bytes; core::Error("io") naming the path when it cannot be read).
#pragma once
#include <cstddef>
#include <string>

namespace fitserve::core {

size_t edit_distance(const std::string& a, const std::string& b);
std::string read_file(const std::string& path);

}  // namespace fitserve::core
