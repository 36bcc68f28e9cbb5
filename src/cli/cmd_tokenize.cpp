// cli/cmd_tokenize.cpp — `fitserve tokenize` and `fitserve detokenize`.
//   fitserve tokenize -m FILE (--text S | --file F | --cases F) [--add-special] [--parse-special]
//                     [--pieces]
//     prints the ids on one line; --pieces prints one "id<TAB>piece" line per token instead;
//     --cases reads reference test cases (.inp: cases separated by the line
//     "__ggml_vocab_test__") and prints one line of ids per case (the .out format).
//   fitserve detokenize -m FILE --ids "1 2 3" [--special]
//     prints the text (--special renders control tokens such as <bos>); "--ids -" reads stdin.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/command.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/cases.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace fitserve::cli {
namespace {

std::string read_file(const std::string& path) {
  FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (!f) throw core::Error("io", path + ": cannot open");
  std::string s;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  if (f != stdin) std::fclose(f);
  return s;
}

tokenizer::Tokenizer load_tokenizer(const Args& a, const char* cmd) {
  if (!a.has("-m"))
    throw core::Error("usage", std::string(cmd) + ": missing -m FILE (a GGUF model or vocab file)",
                      "see `fitserve " + std::string(cmd) + " --help`");
  const gguf::File f = gguf::File::open(a.get("-m"));
  return tokenizer::Tokenizer::from_gguf(f);
}

std::string ids_line(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s.push_back(' ');
    s += std::to_string(ids[i]);
  }
  return s;
}

// Printable rendering of a piece: control characters escaped, bytes outside valid UTF-8 as \xNN.
std::string escape_piece(const std::string& p) {
  std::string out;
  size_t i = 0;
  while (i < p.size()) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c == 0x7F) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02X", c);
      out += b;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      uint32_t cp;
      size_t len;
      if (tokenizer::utf8_decode(p, i, cp, len)) {
        out.append(p, i, len);
        i += len;
        continue;
      }
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02X", c);
      out += b;
    }
    ++i;
  }
  return out;
}

int cmd_tokenize(int argc, char** argv) {
  Args a(argc, argv,
         {{{"-m", "--model"}, true, "GGUF file with tokenizer.* metadata (required)"},
          {{"--text"}, true, "text to tokenize"},
          {{"--file"}, true, "file whose whole content is tokenized ('-' = stdin)"},
          {{"--cases"}, true, "reference cases file (.inp); prints one line of ids per case"},
          {{"--add-special"}, false, "add BOS/EOS as the vocab asks"},
          {{"--parse-special"}, false, "turn special-token strings in the text into their ids"},
          {{"--pieces"}, false, "print one 'id<TAB>piece' line per token"}},
         "tokenize");
  if (a.help()) {
    std::fprintf(stderr,
                 "usage: fitserve tokenize -m FILE (--text S | --file F | --cases F) [--add-special] "
                 "[--parse-special] [--pieces]\n%s",
                 a.usage().c_str());
    return 0;
  }
  const int sources = int(a.has("--text")) + int(a.has("--file")) + int(a.has("--cases"));
  if (sources != 1)
    throw core::Error("usage", "tokenize: give exactly one of --text S, --file F, --cases F",
                      "see `fitserve tokenize --help`");
  if (!a.positional().empty())
    throw core::Error("usage", "tokenize: unexpected argument '" + a.positional()[0] + "'",
                      "quote the text: --text \"...\"");
  const tokenizer::Tokenizer tok = load_tokenizer(a, "tokenize");
  const bool add_special = a.has("--add-special"), parse_special = a.has("--parse-special");

  if (a.has("--cases")) {
    std::string out;
    for (const auto& c : tokenizer::split_cases(read_file(a.get("--cases")))) {
      out += ids_line(tok.tokenize(c, add_special, parse_special));
      out.push_back('\n');
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  const std::string text = a.has("--text") ? a.get("--text") : read_file(a.get("--file"));
  const auto ids = tok.tokenize(text, add_special, parse_special);
  if (a.has("--pieces")) {
    for (int32_t id : ids)
      std::printf("%d\t%s\n", id, escape_piece(tok.token_to_piece(id, true)).c_str());
  } else {
    std::printf("%s\n", ids_line(ids).c_str());
  }
  return 0;
}

int cmd_detokenize(int argc, char** argv) {
  Args a(argc, argv,
         {{{"-m", "--model"}, true, "GGUF file with tokenizer.* metadata (required)"},
          {{"--ids"}, true, "space-separated token ids (required; '-' = read them from stdin)"},
          {{"--special"}, false, "render control tokens (e.g. <bos>) as their text"}},
         "detokenize");
  if (a.help()) {
    std::fprintf(stderr, "usage: fitserve detokenize -m FILE --ids \"1 2 3\" [--special]\n%s", a.usage().c_str());
    return 0;
  }
  if (!a.has("--ids")) throw core::Error("usage", "detokenize: missing --ids \"1 2 3\"");
  const tokenizer::Tokenizer tok = load_tokenizer(a, "detokenize");
  const std::string src = a.get("--ids") == "-" ? read_file("-") : a.get("--ids");
  const auto ids = tokenizer::parse_ids(src);
  for (int32_t id : ids)
    if (id < 0 || id >= tok.n_vocab())
      throw core::Error("usage", "detokenize: token id " + std::to_string(id) + " is out of range [0, " +
                                     std::to_string(tok.n_vocab()) + ")");
  const std::string text = tok.detokenize(ids, a.has("--special"));
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace

FITSERVE_COMMAND("tokenize", "text -> token ids with a GGUF's tokenizer", cmd_tokenize);
FITSERVE_COMMAND("detokenize", "token ids -> text with a GGUF's tokenizer", cmd_detokenize);

}  // namespace fitserve::cli
