// core/testdata.h — where tests find their data (header-only, for tests and benches).
// Offers: repo_data(name)  -> <repo>/tests/data/<name> (small files committed with the repo)
//         testdata(rel)    -> $FITSERVE_TESTDATA/<rel> (default <repo>/../shared/testdata)
//         shared(rel)      -> <testdata>/../<rel> (e.g. "models/stories260K.gguf")
//         exists(path)
// Tests that need a file outside the repo call GTEST_SKIP() with the path when it is missing.
#pragma once
#include <cstdlib>
#include <string>
#include <sys/stat.h>

namespace fitserve::core::test {

inline std::string source_dir() {
  if (const char* e = std::getenv("FITSERVE_SOURCE_DIR"); e && *e) return e;
#ifdef FITSERVE_SOURCE_DIR
  return FITSERVE_SOURCE_DIR;
#else
  return ".";
#endif
}
inline std::string repo_data(const std::string& name) { return source_dir() + "/tests/data/" + name; }
inline std::string testdata_root() {
  if (const char* e = std::getenv("FITSERVE_TESTDATA"); e && *e) return e;
  return source_dir() + "/../shared/testdata";
}
inline std::string testdata(const std::string& rel) { return testdata_root() + "/" + rel; }
inline std::string shared(const std::string& rel) { return testdata_root() + "/../" + rel; }
inline bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

}  // namespace fitserve::core::test
