// core/mmap_file.h — read-only memory mapping of a whole file.
// Offers: core::MappedFile::open(path) (throws core::Error code "io" naming the path and errno),
// data()/size(); also MappedFile::from_bytes() to wrap an in-memory buffer (fuzzers, HTTP headers).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fitserve::core {

class MappedFile {
 public:
  MappedFile() = default;
  static MappedFile open(const std::string& path);
  static MappedFile from_bytes(std::vector<uint8_t> bytes, std::string name = "<memory>");
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void reset();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint8_t> owned_;
  std::string path_;
};

}  // namespace fitserve::core
