// cli/cmd_synth.cpp — `fitserve synth`: write a random-weight Gemma 4 GGUF with real dimensions.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "model/synth.h"

namespace fitserve::cli {
namespace {

int cmd_synth(int argc, char** argv) {
  std::string preset, out, vocab = model::default_vocab_path();
  quant::Type type = quant::Type::Q4_0;
  int layers = 0;
  uint64_t seed = 1;
  auto usage = [] {
    std::string names;
    for (auto& n : model::synth_preset_names()) names += (names.empty() ? "" : ",") + n;
    std::printf("usage: fitserve synth --preset {%s} [--type {q4_0,q8_0,q4_k}] -o FILE\n"
                "                      [--vocab FILE|none] [--seed N]\n\n"
                "Writes a random-weight (untrained) Gemma 4 GGUF with the real tensor shapes and metadata\n"
                "of that size, for benchmarks and memory planning. The tokenizer is copied from --vocab\n"
                "(default %s).\n",
                names.c_str(), model::default_vocab_path().c_str());
  };
  for (int i = 1; i < argc; ++i) {
    std::string o = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw core::Error("usage", o + " needs a value");
      return argv[++i];
    };
    if (o == "-h" || o == "--help") {
      usage();
      return 0;
    } else if (o == "--preset") preset = val();
    else if (o == "--type") {
      std::string t = val();
      auto ty = quant::type_from_name(t);
      if (!ty) throw core::Error("usage", "synth: unknown type '" + t + "'", "use q4_0, q8_0 or q4_k");
      type = *ty;
    } else if (o == "-o" || o == "--output") out = val();
    else if (o == "--vocab") vocab = val();
    else if (o == "--seed") seed = std::strtoull(val().c_str(), nullptr, 10);
    else if (o == "--layers") {  // hidden: fewer layers for quick tests
      std::string v = val();
      layers = std::atoi(v.c_str());
      if (layers < 1) throw core::Error("usage", "--layers: invalid value '" + v + "'");
    } else throw core::Error("usage", "synth: unknown option '" + o + "'", "see `fitserve synth --help`");
  }
  if (preset.empty() || out.empty()) {
    usage();
    throw core::Error("usage", "synth: --preset and -o are required");
  }
  model::SynthPreset p = model::synth_preset(preset);
  if (layers) p = model::with_layers(p, layers);
  model::SynthOptions opt;
  opt.type = type;
  opt.vocab_path = vocab == "none" ? "" : vocab;
  opt.seed = seed;
  model::SynthResult r = model::write_synth_model(p, opt, out);
  std::printf("wrote %s: Gemma 4 %s, %d layers, %lld tensors, %.3f B params, vocab %lld, %.2f GiB in %.1f s (%.0f MiB/s)\n",
              out.c_str(), p.name.c_str(), p.n_layer, (long long)r.n_tensors, r.n_params / 1e9, (long long)r.n_vocab,
              r.file_bytes / 1073741824.0, r.seconds, r.seconds > 0 ? r.file_bytes / 1048576.0 / r.seconds : 0.0);
  return 0;
}

}  // namespace

FITSERVE_COMMAND("synth", "write a random-weight Gemma 4 GGUF with real dimensions (bench/planning)", cmd_synth);

}  // namespace fitserve::cli
