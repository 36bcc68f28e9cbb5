// plan/compat.cpp — mmproj and drafter compatibility with the text model, from headers.
#include "plan/compat.h"

#include <cstdlib>

#include "core/error.h"

namespace fitserve::plan {

namespace {

std::string short_name(const ModelHeaders& m) {
  const std::string& s = m.source.empty() ? m.name : m.source;
  auto p = s.find_last_of('/');
  return "'" + (p == std::string::npos ? s : s.substr(p + 1)) + "'";
}

std::string tokenizer_model(const gguf::File& f) { return f.get_string("tokenizer.ggml.model").value_or(""); }

bool default_add_bos(const std::string& model) { return model == "llama" || model == "gemma4" || model == "gemma"; }

[[noreturn]] void vocab_error(const ModelHeaders& t, const ModelHeaders& d, const std::string& what) {
  throw core::Error("model",
                    "target and draft vocabularies are not compatible: " + what + " (text model " + short_name(t) +
                        ", drafter " + short_name(d) + ")",
                    "use a drafter made for this model family (same tokenizer)");
}

}  // namespace

void check_mmproj(const ModelHeaders& text, const ModelHeaders& mm) {
  if (mm.kind != ModelKind::Mmproj)
    throw core::Error("model", short_name(mm) + " is a " + kind_name(mm.kind) + ", not an mmproj (general.architecture '" +
                                   mm.arch + "', expected 'clip')",
                      "pass the vision projector file (mmproj-*.gguf) with --mmproj");
  const auto& p = mm.mm;
  if (p.n_embd_vision && p.n_embd_audio && p.n_embd_vision != p.n_embd_audio)
    throw core::Error("model", "mmproj " + short_name(mm) + ": mismatch between vision and audio projectors (n_embd_v = " +
                                   std::to_string(p.n_embd_vision) + ", n_embd_a = " + std::to_string(p.n_embd_audio) + ")");
  const int64_t width = p.n_embd_vision ? p.n_embd_vision : p.n_embd_audio;
  if (width == 0)
    throw core::Error("model", "mmproj " + short_name(mm) + " has no mm.input_projection.weight tensor",
                      "this mmproj cannot feed a text model");
  if (width != text.n_embd)
    throw core::Error("model",
                      "mmproj " + short_name(mm) + " produces n_embd=" + std::to_string(width) + " but the text model " +
                          short_name(text) + " has n_embd=" + std::to_string(text.n_embd) +
                          "; this mmproj belongs to a different model",
                      "take the mmproj from the same repository/size as the model");
}

void check_vocab(const ModelHeaders& t, const ModelHeaders& d) {
  const gguf::File& ft = t.file();
  const gguf::File& fd = d.file();
  const std::string mt = tokenizer_model(ft), md = tokenizer_model(fd);
  if (mt != md) vocab_error(t, d, "vocab type '" + mt + "' vs '" + md + "'");
  const bool bos_t = ft.get_bool("tokenizer.ggml.add_bos_token").value_or(default_add_bos(mt));
  const bool bos_d = fd.get_bool("tokenizer.ggml.add_bos_token").value_or(default_add_bos(md));
  const auto bid_t = ft.get_int("tokenizer.ggml.bos_token_id"), bid_d = fd.get_int("tokenizer.ggml.bos_token_id");
  if (bos_t != bos_d || (bos_t && bid_t != bid_d))
    vocab_error(t, d, std::string("BOS differs (add_bos ") + (bos_t ? "true" : "false") + " id " +
                          (bid_t ? std::to_string(*bid_t) : "-") + " vs add_bos " + (bos_d ? "true" : "false") + " id " +
                          (bid_d ? std::to_string(*bid_d) : "-") + ")");
  const bool eos_t = ft.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
  const bool eos_d = fd.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
  const auto eid_t = ft.get_int("tokenizer.ggml.eos_token_id"), eid_d = fd.get_int("tokenizer.ggml.eos_token_id");
  if (eos_t != eos_d || (eos_t && eid_t != eid_d))
    vocab_error(t, d, "EOS differs (add_eos " + std::string(eos_t ? "true" : "false") + " vs " + (eos_d ? "true" : "false") + ")");
  const int64_t diff = std::llabs(t.n_vocab - d.n_vocab);
  if (diff > 128)
    vocab_error(t, d, "vocabulary sizes " + std::to_string(t.n_vocab) + " and " + std::to_string(d.n_vocab) +
                          " differ by " + std::to_string(diff) + " (at most 128 allowed)");
  const gguf::Value* tt = ft.find("tokenizer.ggml.tokens");
  const gguf::Value* td = fd.find("tokenizer.ggml.tokens");
  if (tt && td && tt->is_array() && td->is_array() && tt->elem_type == gguf::ValueType::STRING &&
      td->elem_type == gguf::ValueType::STRING) {
    const size_t n = std::min(tt->strs.size(), td->strs.size());
    for (size_t i = 5; i < n; ++i)
      if (tt->strs[i] != td->strs[i])
        vocab_error(t, d, "token " + std::to_string(i) + " is '" + std::string(tt->strs[i]) + "' in the text model but '" +
                              std::string(td->strs[i]) + "' in the drafter");
  }
}

void check_drafter(const ModelHeaders& text, const ModelHeaders& d) {
  if (d.kind == ModelKind::Mmproj)
    throw core::Error("model", short_name(d) + " is an mmproj, not a draft model", "pass it with --mmproj");
  if (d.kind == ModelKind::Assistant) {
    if (d.n_embd_out != text.n_embd)
      throw core::Error("model",
                        "MTP assistant " + short_name(d) + " expects a target with n_embd=" + std::to_string(d.n_embd_out) +
                            " (embedding_length_out) but the text model " + short_name(text) + " has n_embd=" +
                            std::to_string(text.n_embd) + "; this assistant belongs to a different model",
                        "take the -assistant GGUF made for this model size (same repository)");
    // The assistant reads the target's caches of its last SWA layer and last full layer.
    const int64_t L = text.n_layer;
    if (L < 2 || !text.layers[L - 2].swa || text.layers[L - 1].swa)
      throw core::Error("model", "MTP assistant " + short_name(d) + " needs a target whose last two layers are SWA then full, "
                                 "but " + short_name(text) + " is laid out differently");
    for (size_t l = 0; l < d.layers.size(); ++l) {
      const LayerShape& dl = d.layers[l];
      const LayerShape& tl = text.layers[dl.swa ? L - 2 : L - 1];
      const LayerShape& src = tl.kv_source >= 0 ? text.layers[tl.kv_source] : tl;
      if (dl.n_head_kv != src.n_head_kv || dl.d_k != src.d_k)
        throw core::Error("model",
                          "MTP assistant " + short_name(d) + " layer " + std::to_string(l) + " (" + (dl.swa ? "SWA" : "full") +
                              ") has " + std::to_string(dl.n_head_kv) + " KV heads of dim " + std::to_string(dl.d_k) +
                              " but the target's " + (dl.swa ? "SWA" : "full") + " cache it reads has " +
                              std::to_string(src.n_head_kv) + " of dim " + std::to_string(src.d_k),
                          "take the -assistant GGUF made for this model size (same repository)");
    }
  }
  check_vocab(text, d);
}

void check_companions(const ModelSet& models) {
  if (!models.text) return;
  if (models.mmproj) check_mmproj(*models.text, *models.mmproj);
  if (models.draft) check_drafter(*models.text, *models.draft);
}

FitResult check_and_fit(const ModelSet& models, const RunSettings& s, uint64_t cap, std::optional<uint64_t> margin) {
  check_companions(models);
  return fit(models, s, cap, margin);
}

}  // namespace fitserve::plan
